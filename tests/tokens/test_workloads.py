from __future__ import annotations

from typing import Any

import pytest

from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.tokens.workloads import MAX_WORKLOAD_LENGTH, spiffe_trust_domain, workload_from


def issuer(workload_claim: str = "sub") -> IssuerConfig:
    return IssuerConfig(issuer="https://idp.example.test/", workload_claim=workload_claim)


@pytest.mark.parametrize(
    ("claims", "workload_claim", "expected"),
    [
        (
            {"sub": "spiffe://example.org/ns/prod/sa/billing"},
            "sub",
            "spiffe://example.org/ns/prod/sa/billing",
        ),
        ({"azp": "9d1f5e52-0a8c-4a55-9d3a-8b1e5c8c2f11"}, "azp", "9d1f5e52-0a8c-4a55-9d3a-8b1e5c8c2f11"),
        ({"client_id": "billing-service"}, "client_id", "billing-service"),
        ({"act": {"sub": "spiffe://example.org/gw"}}, "act.sub", "spiffe://example.org/gw"),
        (
            {"kubernetes.io": {"serviceaccount": {"name": "billing"}}},
            "kubernetes.io.serviceaccount.name",
            "billing",
        ),
    ],
)
def test_workload_from_reads_configured_claim(claims: dict[str, Any], workload_claim: str, expected: str) -> None:
    assert workload_from(claims, issuer(workload_claim)) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="null"),
        pytest.param("", id="empty"),
        pytest.param(42, id="number"),
        pytest.param(["a"], id="list"),
        pytest.param({"id": "a"}, id="object"),
        pytest.param("svc\nadmin", id="newline"),
        pytest.param("s" * (MAX_WORKLOAD_LENGTH + 1), id="too-long"),
    ],
)
def test_workload_from_ignores_unusable_value(value: Any) -> None:
    assert workload_from({"sub": value}, issuer()) is None


def test_workload_from_absent_claim_is_none() -> None:
    assert workload_from({}, issuer("azp")) is None
    assert workload_from({"act": "x"}, issuer("act.sub")) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("spiffe://prod.example", "prod.example"),
        ("spiffe://prod.example/ns/billing/sa/api", "prod.example"),
        ("spiffe://td_1-a/x.y/z_-", "td_1-a"),
        ("SPIFFE://prod.example/ns", None),
        ("spiffe://Prod.example/ns", None),
        ("spiffe://prod.example:443/ns", None),
        ("spiffe://user@prod.example/ns", None),
        ("spiffe:///ns", None),
        ("spiffe://prod.example/", None),
        ("spiffe://prod.example/ns//sa", None),
        ("spiffe://prod.example/ns/../sa", None),
        ("spiffe://prod.example/ns/./sa", None),
        ("spiffe://prod.example/ns?x=1", None),
        ("spiffe://prod.example/ns#f", None),
        ("spiffe://prod.example/" + "a" * MAX_WORKLOAD_LENGTH, None),
        ("https://prod.example/ns", None),
    ],
)
def test_spiffe_trust_domain_follows_the_spiffe_id_rules(value: str, expected: str | None) -> None:
    assert spiffe_trust_domain(value) == expected
