"""Permissions composed with ``|``: either operand admits the request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.urls("tests.testapp.permission_urls")


def test_workload_or_scope_composition_admits_either(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    response = client.get("/either/", **bearer(sub="spiffe://td/ns/other/x", scope="billing:export"))
    assert response.status_code == 200


def test_workload_or_scope_composition_admits_workload(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    assert client.get("/either/", **bearer(sub="spiffe://td/ns/billing/sa/api")).status_code == 200
