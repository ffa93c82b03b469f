"""A DPoP proof is spent once across every process that shares the cache (RFC 9449 §11.1).

Two gunicorn servers, one worker each, serve ``tests.urls`` with the same settings and the same
cache: Redis under ``BG_SERVICES=1``, otherwise a file cache both processes open (as the health
test does). Both are reached under one public host name, so a proof names the same URL at either.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from django_bearer_guard.testing import LocalIssuer
from django_bearer_guard.testing.dpop import DPoPKey
from tests.support.binding import Answer, api_processes, send
from tests.support.live import Address
from tests.support.services import services_required

HOST = "api.example.test"
URL = f"http://{HOST}/whoami/"


def shared_caches(tmp_path: Path) -> dict[str, Any]:
    # Redis under BG_SERVICES=1; otherwise a file cache both processes open.
    if services_required():
        return dict(settings.CACHES)
    return {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                        "LOCATION": str(tmp_path / "cache")}}


@pytest.fixture
def start(idp: LocalIssuer, tmp_path: Path) -> Iterator[Callable[..., list[Address]]]:
    """Start two API processes trusting ``idp`` with ``binding: "dpop"``; stopped after the test."""
    with contextlib.ExitStack() as stack:

        def run(caches: dict[str, Any] | None = None, **extra: Any) -> list[Address]:
            guard = {"ALLOW_HTTP_LOOPBACK": True,
                     "ISSUERS": [idp.issuer_settings(binding="dpop", algorithms=["RS256", "ES256"])], **extra}
            return stack.enter_context(api_processes(2, guard, caches or shared_caches(tmp_path), tmp_path))

        yield run


def get(address: Address, token: str, proof: str) -> Answer:
    return send(address, "/whoami/", {"Authorization": f"DPoP {token}", "DPoP": proof}, host=HOST)


def test_a_proof_spent_at_one_process_is_refused_by_the_other(
    idp: LocalIssuer, start: Callable[..., list[Address]]
) -> None:
    first, second = start()
    key = DPoPKey()
    token = idp.mint(cnf={"jkt": key.jkt})
    proof = key.proof("GET", URL, access_token=token)
    assert get(first, token, proof).status == 200
    # The proof captured on its way to the first process, replayed to the second.
    replayed = get(second, token, proof)
    assert (replayed.status, replayed.body) == (
        401, {"error": "invalid_dpop_proof", "error_description": "The DPoP proof was already used."}
    )
    assert replayed.headers["WWW-Authenticate"].startswith('DPoP realm="api", error="invalid_dpop_proof"')
    # The client's next proof is good at either process.
    assert get(second, token, key.proof("GET", URL, access_token=token)).status == 200
    assert get(first, token, key.proof("GET", URL, access_token=token)).status == 200


def test_a_nonce_handed_out_by_one_process_is_accepted_by_the_other(
    idp: LocalIssuer, start: Callable[..., list[Address]]
) -> None:
    first, second = start(DPOP_NONCE=True)
    key = DPoPKey()
    token = idp.mint(cnf={"jkt": key.jkt})
    asked = get(first, token, key.proof("GET", URL, access_token=token))
    assert (asked.status, asked.body["error"]) == (401, "use_dpop_nonce")
    nonce = asked.headers["DPoP-Nonce"]
    # Stateless nonces: the second process never saw this one, and accepts it.
    proof = key.proof("GET", URL, access_token=token, nonce=nonce)
    assert get(second, token, proof).status == 200
    replayed = get(first, token, proof)
    assert (replayed.status, replayed.body["error"]) == (401, "invalid_dpop_proof")
    assert get(first, token, key.proof("GET", URL, access_token=token, nonce=nonce)).status == 200


def test_without_a_shared_cache_each_process_accepts_the_proof_once(
    idp: LocalIssuer, start: Callable[..., list[Address]]
) -> None:
    """The control: with the local-memory cache (bearer_guard.W002) the two processes share nothing."""
    first, second = start({"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
    key = DPoPKey()
    token = idp.mint(cnf={"jkt": key.jkt})
    proof = key.proof("GET", URL, access_token=token)
    assert get(first, token, proof).status == 200
    assert get(second, token, proof).status == 200
    assert get(first, token, proof).status == 401
