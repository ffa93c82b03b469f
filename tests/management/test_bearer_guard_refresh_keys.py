from __future__ import annotations

from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_bearer_guard.conf import get_settings
from django_bearer_guard.runtime import key_status
from django_bearer_guard.testing import Clock, LocalIssuer

pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("bearer_guard_refresh_keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_refresh_keys_prints_each_issuer_and_its_kids(
    make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], clock: Clock
) -> None:
    first, second = make_idp(("RS256",)), make_idp(("ES256", "EdDSA"))
    guard(issuers=[first.issuer_settings(name="first"), second.issuer_settings(name="second")])
    out, err = _run()
    assert f"first: 1 keys: {first.keys[0].kid}" in out
    assert f"second: 2 keys: {second.keys[0].kid}, {second.keys[1].kid}" in out
    assert err == ""
    assert (first.fetches(), second.fetches()) == (1, 1)
    assert key_status(get_settings().issuers[1]).kids == (second.keys[0].kid, second.keys[1].kid)


def test_refresh_keys_fetches_even_when_keys_are_fresh(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    _run()
    _run()
    assert idp.fetches() == 2


def test_refresh_keys_reports_failures_and_exits_non_zero(
    make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], clock: Clock
) -> None:
    good, down = make_idp(), make_idp()
    down.mode = "down"
    guard(issuers=[good.issuer_settings(name="good"), down.issuer_settings(name="down")])
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 of 2 issuers failed"):
        call_command("bearer_guard_refresh_keys", stdout=out, stderr=err)
    assert f"good: 1 keys: {good.keys[0].kid}" in out.getvalue()
    assert "down: FAILED:" in err.getvalue()
    assert "503" in err.getvalue()


def test_refresh_keys_misconfigured_issuer_fails_without_fetching(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(ALLOW_HTTP_LOOPBACK=False)
    with pytest.raises(CommandError):
        _run()
    assert idp.fetches() == 0


def test_refresh_keys_one_issuer_by_iss_or_name(
    make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], clock: Clock
) -> None:
    first, second = make_idp(), make_idp()
    guard(issuers=[first.issuer_settings(name="first"), second.issuer_settings(name="second")])
    out, _ = _run("--issuer", second.issuer)
    assert out.startswith("second:")
    assert "first" not in out
    out, _ = _run("--issuer", "first")
    assert out.startswith("first:")
    assert (first.fetches(), second.fetches()) == (1, 1)


def test_refresh_keys_unknown_issuer_is_an_error(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    with pytest.raises(CommandError, match="No configured issuer"):
        _run("--issuer", "https://nobody.example/")
    assert idp.fetches() == 0


def test_refresh_keys_skips_disabled_issuers(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[idp.issuer_settings(name="off", enabled=False)])
    out, _ = _run()
    assert out.strip() == "off: disabled, skipped"
    assert idp.fetches() == 0


def test_refresh_keys_inline_issuer_prints_its_kids_without_fetching(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[idp.issuer_settings(name="inline", jwks=idp.jwks())])
    out, _ = _run()
    assert out.strip() == f"inline: 1 keys: {idp.keys[0].kid}"
    assert idp.fetches() == 0


def test_refresh_keys_shared_secret_issuer_prints_no_kid(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    entry = {"name": "hs", "issuer": idp.issuer, "audiences": ["a"], "algorithms": ["HS256"]}
    entry["shared_secret"] = "s" * 32
    guard(issuers=[entry])
    out, _ = _run()
    assert out.strip() == "hs: 1 keys: (no kid)"
