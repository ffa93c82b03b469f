from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard.permissions import AccessDenied, AllowedWorkloads, workload_allowed
from tests.support.tokens import drf_request, make_token
from tests.testapp.scope_views import WorkloadView

ALLOWED = ["spiffe://example.org/ns/prod/sa/billing", "spiffe://example.org/ns/batch/*"]


@pytest.mark.parametrize(
    ("workload", "allowed"),
    [
        ("spiffe://example.org/ns/prod/sa/billing", True),
        ("spiffe://example.org/ns/batch/sa/nightly", True),
        ("spiffe://example.org/ns/batch/x", True),
        ("spiffe://example.org/ns/batch", False),
        ("spiffe://example.org/ns/batch/", False),
        ("spiffe://example.org/ns/batchjobs/sa/x", False),
        ("spiffe://example.org/ns/batch-evil/x", False),
        ("spiffe://example.org/ns/batch/../prod/sa/admin", False),
        ("spiffe://example.org/ns/batch/./x", False),
        ("spiffe://example.org/ns/batch//x", False),
        ("spiffe://example.org/ns/prod/sa/billing/extra", False),
        ("spiffe://example.org/ns/prod/sa/billin", False),
        ("spiffe://evil.org/ns/batch/x", False),
        ("spiffe://example.org/ns/batch/*", True),
        (None, False),
    ],
)
def test_workload_allowed_matches_exactly_or_by_path_components(workload: str | None, allowed: bool) -> None:
    assert workload_allowed(workload, ALLOWED) is allowed


def test_allowed_workloads_admits_listed_workload(call: Callable[..., Any]) -> None:
    token = make_token(workload="spiffe://example.org/ns/batch/sa/nightly")
    response = call(WorkloadView.as_view(), token=token)
    assert response.status_code == 200
    assert response.data == {"workload": "spiffe://example.org/ns/batch/sa/nightly"}


def test_allowed_workloads_refuses_other_workload_with_access_denied(call: Callable[..., Any]) -> None:
    response = call(
        WorkloadView.as_view(), token=make_token(("admin",), workload="spiffe://example.org/ns/dev/x")
    )
    assert response.status_code == 403
    assert response.data == {
        "error": "access_denied",
        "error_description": "The calling workload is not allowed to use this resource.",
    }
    assert "WWW-Authenticate" not in response


def test_allowed_workloads_refuses_token_without_workload(call: Callable[..., Any]) -> None:
    assert call(WorkloadView.as_view(), token=make_token()).status_code == 403


def test_allowed_workloads_lets_unauthenticated_request_reach_401(call: Callable[..., Any]) -> None:
    assert call(WorkloadView.as_view()).status_code == 401


@pytest.mark.parametrize("allowed", [None, "spiffe://example.org/a", ["ok", 3]])
def test_allowed_workloads_fails_closed_without_valid_list(allowed: object, caplog: pytest.LogCaptureFixture) -> None:
    view: Any = SimpleNamespace(allowed_workloads=allowed)
    request = drf_request(make_token(workload="spiffe://example.org/a"))
    with caplog.at_level(logging.ERROR, "django_bearer_guard.permissions"), pytest.raises(AccessDenied):
        AllowedWorkloads().has_permission(request, view)
    assert "without allowed_workloads" in caplog.text


def test_allowed_workloads_empty_list_admits_nobody() -> None:
    request = drf_request(make_token(workload="spiffe://example.org/a"))
    view: Any = SimpleNamespace(allowed_workloads=[])
    with pytest.raises(AccessDenied):
        AllowedWorkloads().has_permission(request, view)


@pytest.mark.urls("tests.testapp.permission_urls")
@pytest.mark.parametrize(
    ("sub", "status"),
    [
        ("spiffe://td/ns/a", 200),
        ("spiffe://td/ns/ab", 403),
        ("spiffe://td/ns/a/x", 403),
        ("spiffe://td/ns/b/x", 200),
        ("spiffe://td/ns/bb/x", 403),
        ("spiffe://td/ns/b", 403),
        ("spiffe://td/ns/b/", 401),
        ("spiffe://td/ns/b/../a", 401),
        ("spiffe://td/ns/b//x", 401),
        ("spiffe://td/ns/b/x\u2028", 401),
    ],
)
def test_workload_patterns_match_by_path_component(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], sub: str, status: int
) -> None:
    assert client.get("/workload/", **bearer(sub=sub)).status_code == status
