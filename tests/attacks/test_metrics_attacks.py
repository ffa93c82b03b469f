"""Attacks on the metrics' label cardinality: what callers send must never become label values.

A time series per label value costs the scraper memory and the process a counter each, so an
attacker who could choose label values could exhaust both with forged tokens. Only the
configuration decides which ``issuer`` values exist.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterator

import pytest
from django.test import Client

pytest.importorskip("prometheus_client")

from prometheus_client import REGISTRY

from django_bearer_guard import exceptions
from django_bearer_guard.contrib import prometheus as metrics
from django_bearer_guard.testing import LocalIssuer

FORGED = 10_000
Guard = Callable[..., None]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(iss: object, kid: str = "k1") -> str:
    """A compact JWS with ``iss`` and a random signature: nobody signed it."""
    header = _b64(json.dumps({"alg": "RS256", "kid": kid}).encode())
    payload = _b64(json.dumps({"iss": iss, "aud": "https://api.example.test", "exp": 4_000_000_000}).encode())
    return f"{header}.{payload}.{_b64(secrets.token_bytes(256))}"


def attacker_issuers(idp: LocalIssuer) -> Iterator[str]:
    """Random issuers, near misses of the trusted one, and the metrics' own label values."""
    trusted = idp.issuer
    near = [trusted + "/", trusted.upper(), trusted + " ", trusted.rstrip("/"), trusted + "\u200b"]
    own = [metrics.UNTRUSTED, metrics.NO_ISSUER, ""]
    for index in range(FORGED):
        if index < len(near):
            yield near[index]
        elif index < len(near) + len(own):
            yield own[index - len(near)]
        else:
            yield f"https://{secrets.token_hex(8)}.example/{secrets.token_urlsafe(12)}"


def label_values(name: str, label: str) -> set[str]:
    return {s.labels[label] for family in REGISTRY.collect() for s in family.samples if s.name == name}


def total(name: str) -> float:
    return sum(s.value for family in REGISTRY.collect() for s in family.samples if s.name == name)


@pytest.mark.slow
def test_ten_thousand_forged_issuers_add_no_label_values(idp: LocalIssuer, guard: Guard) -> None:
    before_issuers = label_values("bearer_guard_tokens_refused_total", "issuer")
    before_total = total("bearer_guard_tokens_refused_total")
    client = Client()
    statuses = set()
    for index, iss in enumerate(attacker_issuers(idp)):
        scheme = "DPoP" if index % 7 == 0 else "Bearer"
        statuses.add(client.get("/whoami/", HTTP_AUTHORIZATION=f"{scheme} {forged(iss)}").status_code)
    # A few forged with the trusted iss and random kids: refused, labelled with that issuer.
    for _ in range(50):
        token = forged(idp.issuer, secrets.token_hex(6))
        statuses.add(client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code)
    assert statuses == {401}
    new = label_values("bearer_guard_tokens_refused_total", "issuer") - before_issuers
    assert new <= {idp.issuer, metrics.UNTRUSTED, metrics.NO_ISSUER}
    assert total("bearer_guard_tokens_refused_total") - before_total == FORGED + 50


def test_refusal_reasons_are_the_librarys_error_classes(idp: LocalIssuer, guard: Guard) -> None:
    client = Client()
    sent = ["Bearer abc", "Bearer " + "a" * 9000, f"Bearer {forged(idp.issuer)}", "Bearer a, b"]
    for authorization in sent:
        client.get("/whoami/", HTTP_AUTHORIZATION=authorization)
    assert label_values("bearer_guard_tokens_refused_total", "reason") <= {*exceptions.__all__, "other"}


def test_a_providers_many_tenants_share_the_templates_one_label(idp: LocalIssuer, guard: Guard) -> None:
    # With "tenants": "any" every tenant of the provider signs valid tokens; each tid is a new iss.
    template = idp.url + "/{tenantid}/v2.0"
    guard(issuers=[idp.issuer_settings(issuer=template, tenants="any")])
    before = label_values("bearer_guard_tokens_accepted_total", "issuer")
    client = Client()
    for _ in range(100):
        tenant = secrets.token_hex(8)
        token = idp.mint(iss=f"{idp.url}/{tenant}/v2.0", tid=tenant)
        assert client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    assert label_values("bearer_guard_tokens_accepted_total", "issuer") - before <= {template}
    assert REGISTRY.get_sample_value("bearer_guard_tokens_accepted_total", {"issuer": template}) is not None
