"""django_bearer_guard.testing as adopters use it."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from django_bearer_guard.exceptions import ExpiredToken
from django_bearer_guard.testing import LocalIssuer, generate_key, use_clock
from django_bearer_guard.tokens.validator import TokenValidator
from tests.support.keys import pooled_key


def test_use_clock_replaces_the_library_clock(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    token = idp.mint(lifetime=60)
    validator = TokenValidator()
    assert validator.validate(token).issuer == idp.issuer
    with use_clock(lambda: time.time() + 3600), pytest.raises(ExpiredToken):
        validator.validate(token)
    assert validator.validate(token).issuer == idp.issuer


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def test_generate_key_for_an_algorithm_without_key_pairs_raises_value_error() -> None:
    with pytest.raises(ValueError, match="HS256"):
        generate_key("HS256")


def test_local_issuer_as_a_context_manager_serves_inside_and_refuses_after() -> None:
    with LocalIssuer(keys=[pooled_key("RS256")]) as idp:
        status, _, body = _get(idp.url + idp.jwks_path)
        assert status == 200
        assert json.loads(body) == idp.jwks()
    with pytest.raises(urllib.error.URLError):
        _get(idp.url + idp.jwks_path)


def test_local_issuer_started_twice_serves_from_one_thread(idp: LocalIssuer) -> None:
    before = set(threading.enumerate())
    assert idp.start() is idp
    assert set(threading.enumerate()) - before == set()
    assert _get(idp.url + idp.jwks_path)[0] == 200


def test_local_issuer_stopped_without_starting_closes_its_socket() -> None:
    idp = LocalIssuer(keys=[pooled_key("RS256")])
    port = int(idp.url.rsplit(":", 1)[1])
    idp.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_local_issuer_unknown_path_is_404_and_counted(idp: LocalIssuer) -> None:
    assert _get(idp.url + "/.well-known/nothing")[0] == 404
    assert idp.fetches("/.well-known/nothing") == 1
    assert idp.fetches() == 0


def test_local_issuer_without_cache_control_sends_no_cache_control_header(idp: LocalIssuer) -> None:
    idp.cache_control = None
    status, headers, _ = _get(idp.url + idp.jwks_path)
    assert status == 200
    assert "Cache-Control" not in headers


def test_local_issuer_dribble_mode_sends_the_whole_document_without_length(idp: LocalIssuer) -> None:
    idp.mode, idp.delay = "dribble", 0.0
    status, headers, body = _get(idp.url + idp.jwks_path)
    assert status == 200
    assert "Content-Length" not in headers
    assert json.loads(body) == idp.jwks()


def test_local_issuer_signing_key_for_an_algorithm_it_has_no_key_for_raises_lookup_error(idp: LocalIssuer) -> None:
    with pytest.raises(LookupError, match="ES256"):
        idp.signing_key("ES256")
