"""One runtime per settings value, built once however many requests ask at the same time."""

from __future__ import annotations

import inspect
import sys
import threading
import time
from collections.abc import Callable

import pytest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import RequestFactory, override_settings

from django_bearer_guard import conf, runtime
from django_bearer_guard.conf import get_settings
from django_bearer_guard.exceptions import InvalidToken
from django_bearer_guard.issuers.database import DatabaseIssuers
from django_bearer_guard.runtime import Runtime, get_runtime
from django_bearer_guard.testing import LocalIssuer
from django_bearer_guard.tokens.credentials import parse_authorization
from django_bearer_guard.tokens.validator import TokenValidator


@pytest.mark.django_db
def test_get_runtime_is_built_once_from_the_current_settings(guard: Callable[..., None]) -> None:
    first = get_runtime()
    assert first is get_runtime()
    assert first.settings is get_settings()
    assert first.issuers.all_issuers() == get_settings().issuers


def test_changed_settings_drop_the_runtime_whole(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    before = get_runtime()
    before.keys.get_key(get_settings().issuers[0], idp.keys[0].kid, "RS256")
    with override_settings(BEARER_GUARD={"LEEWAY": 5}):
        during = get_runtime()
        assert during is not before and during.settings.leeway == 5
        # Nothing derived from the earlier settings survives: no parsed keys, no rows.
        assert before.keys._snapshots and not during.keys._snapshots
        assert during.database.issuers() == () and during.settings.issuers == ()
    assert get_runtime() is not before and get_runtime() is not during


def test_runtime_reads_the_database_rows_once_installed(guard: Callable[..., None]) -> None:
    # AppConfig.ready installed the rows as a source of issuers.
    assert [type(source) for source in get_runtime().issuers._sources] == [DatabaseIssuers]


def _waiting_for_the_lock(thread: threading.Thread) -> bool:
    source, first = inspect.getsourcelines(get_runtime)
    line = first + next(i for i, text in enumerate(source) if "with _lock:" in text)
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code is get_runtime.__code__:
            return frame.f_lineno == line
        frame = frame.f_back
    return False


def test_get_runtime_is_built_once_for_callers_racing_past_the_first_check() -> None:
    conf.reload()
    results: list[Runtime] = []
    callers = [threading.Thread(target=lambda: results.append(get_runtime())) for _ in range(2)]
    with runtime._lock:
        for caller in callers:
            caller.start()
        deadline = time.monotonic() + 10
        while not all(_waiting_for_the_lock(caller) for caller in callers):
            assert time.monotonic() < deadline, "the callers never reached the lock"
            time.sleep(0.005)
    for caller in callers:
        caller.join(10)
    assert len(results) == 2
    assert results[0] is results[1] is get_runtime()


def plain_view(request: HttpRequest) -> HttpResponse:
    """A plain Django view (no DRF) validating the Bearer token with the library's core."""
    credential = parse_authorization(request.META.get("HTTP_AUTHORIZATION", ""), max_bytes=8192)
    if credential is None:
        return HttpResponse(status=401)
    try:
        token = TokenValidator(get_runtime()).validate(credential[1])
    except InvalidToken as error:
        return JsonResponse({"error": error.error}, status=error.status_code)
    return JsonResponse({"sub": token.claims["sub"], "scopes": sorted(token.scopes)})


def test_validator_serves_a_plain_django_view(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    factory = RequestFactory()
    good = factory.get("/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(sub='alice', scope='a b')}")
    assert plain_view(good).content == b'{"sub": "alice", "scopes": ["a", "b"]}'
    forged = factory.get("/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(sub='alice')}x")
    assert plain_view(forged).status_code == 401


@pytest.mark.parametrize("helper", [runtime.get_key, runtime.key_status, runtime.refresh_now])
def test_module_helpers_use_the_current_runtime(
    idp: LocalIssuer, guard: Callable[..., None], helper: Callable[..., object]
) -> None:
    issuer, kid = get_settings().issuers[0], idp.keys[0].kid
    if helper is runtime.key_status:
        get_runtime().keys.get_key(issuer, kid, "RS256")
        assert runtime.key_status(issuer).kids == (kid,)
    else:
        helper(*((issuer, kid, "RS256") if helper is runtime.get_key else (issuer,)))
        assert get_runtime().keys.snapshot(issuer).keys is not None


def test_validator_without_runtime_follows_changed_settings(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    kept = TokenValidator()  # e.g. built once by a middleware
    token = idp.mint(sub="alice")
    assert kept.validate(token).claims["sub"] == "alice"
    with override_settings(BEARER_GUARD={"ISSUERS": []}), pytest.raises(InvalidToken):
        kept.validate(token)
    assert kept.validate(token).claims["sub"] == "alice"


def test_validator_with_a_runtime_keeps_to_it(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    pinned = TokenValidator(get_runtime())
    with override_settings(BEARER_GUARD={"ISSUERS": []}):
        assert pinned.validate(idp.mint(sub="alice")).issuer == idp.issuer
        assert pinned.runtime is not get_runtime()


def test_validator_refuses_settings_in_place_of_a_runtime(guard: Callable[..., None]) -> None:
    with pytest.raises(TypeError, match="takes a Runtime"):
        TokenValidator(get_settings())  # type: ignore[arg-type]  # the call of earlier versions
