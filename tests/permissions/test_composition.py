"""Permissions composed with ``|``: either operand admits the request."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.urls("tests.testapp.permission_urls")


def test_workload_or_scope_composition_admits_either(client, guard, bearer):
    response = client.get("/either/", **bearer(sub="spiffe://td/ns/other/x", scope="billing:export"))
    assert response.status_code == 200


def test_workload_or_scope_composition_admits_workload(client, guard, bearer):
    assert client.get("/either/", **bearer(sub="spiffe://td/ns/billing/sa/api")).status_code == 200
