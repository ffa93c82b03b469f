from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection

from django_bearer_guard.conf import get_settings
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.runtime import fetch_now
from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support import commands


def _issuers(*args: str) -> str:
    out = io.StringIO()
    call_command("bearer_guard_issuers", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# -- in this process ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_issuers_lists_a_settings_issuer_not_fetched_yet(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[idp.issuer_settings(name="corp")])
    assert _issuers().splitlines() == [
        "corp (settings): not fetched yet",
        f"  issuer        {idp.issuer}",
        "  key source    jwks_uri",
        "  keys          0",
        "  last success  never",
        "  last error    none",
    ]
    assert idp.fetches() == 0


@pytest.mark.django_db
def test_issuers_shows_the_keys_and_last_success_after_a_fetch(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(issuers=[idp.issuer_settings(name="corp")])
    fetch_now(get_settings().issuers[0])
    clock.advance(180)
    lines = _issuers().splitlines()
    assert lines[0] == "corp (settings): healthy"
    assert lines[3] == f"  keys          1 (kid {idp.signing_key().kid!r})"
    assert lines[4] == "  last success  2027-01-15 08:00:00 UTC (3 minutes ago)"


@pytest.mark.django_db
def test_issuers_shows_the_last_error_of_a_failing_issuer(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    idp.mode = "down"
    fetch_now(get_settings().issuers[0])
    lines = _issuers().splitlines()
    assert lines[0] == f"{idp.issuer} (settings): failing"
    assert lines[5].startswith("  last error    ") and "503" in lines[5]


@pytest.mark.django_db
def test_issuers_names_the_problems_of_a_misconfigured_issuer(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(ALLOW_HTTP_LOOPBACK=False)
    lines = _issuers().splitlines()
    assert lines[0].endswith(": misconfigured")
    assert any(line.startswith("  problem       ") and "http" in line for line in lines)


@pytest.mark.django_db
def test_issuers_lists_database_rows_after_the_settings(
    make_idp: Callable[..., LocalIssuer], idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    partner = make_idp()
    TrustedIssuer.objects.create(name="partner", **partner.issuer_settings())
    TrustedIssuer.objects.create(name="shadow", **idp.issuer_settings())
    TrustedIssuer.objects.create(name="off", enabled=False, **make_idp().issuer_settings())
    titles = [line for line in _issuers().splitlines() if line and not line.startswith(" ")]
    assert titles == [
        f"{idp.issuer} (settings): not fetched yet",
        "off (database): disabled",
        "partner (database): not fetched yet",
        "shadow (database): shadowed",
    ]


@pytest.mark.django_db
def test_issuers_prints_json(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    guard(issuers=[idp.issuer_settings(name="corp")])
    fetch_now(get_settings().issuers[0])
    [data] = json.loads(_issuers("--json"))
    key = idp.signing_key()
    assert data["keys"] == [
        {"kid": key.kid, "kty": "RSA", "crv": None, "size": 2048, "alg": "RS256", "use": "sig",
         "thumbprint": data["keys"][0]["thumbprint"]},
    ]
    assert data["keys"][0]["thumbprint"]
    assert {k: data[k] for k in ("name", "issuer", "origin", "enabled", "status", "source", "problems")} == {
        "name": "corp", "issuer": idp.issuer, "origin": "settings", "enabled": True, "status": "healthy",
        "source": "jwks_uri", "problems": [],
    }
    assert data["last_success_at"] == data["last_attempt_at"] == clock.now
    assert data["last_error"] is None
    assert data["expires_at"] == clock.now + 300


@pytest.mark.django_db
def test_issuers_says_when_there_are_none(guard: Callable[..., None]) -> None:
    guard(ISSUERS=[])
    assert _issuers() == "No trusted issuers: add one to BEARER_GUARD['ISSUERS'] or as a TrustedIssuer row.\n"
    assert json.loads(_issuers("--json")) == []


def test_issuers_still_lists_the_settings_when_the_rows_cannot_be_read(
    idp: LocalIssuer, guard: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_bearer_guard.management.commands import bearer_guard_issuers

    def unreadable() -> list[Any]:
        raise DatabaseError("no such table: django_bearer_guard_trustedissuer")

    monkeypatch.setattr(bearer_guard_issuers, "all_health", unreadable)
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("bearer_guard_issuers", stdout=out, stderr=io.StringIO())
    assert caught.value.returncode == 1
    assert str(caught.value) == (
        "The TrustedIssuer rows cannot be read: no such table: django_bearer_guard_trustedissuer"
    )
    assert out.getvalue().startswith(f"{idp.issuer} (settings): not fetched yet")
    guard(ISSUERS=[])
    empty = io.StringIO()
    with pytest.raises(CommandError):
        call_command("bearer_guard_issuers", stdout=empty, stderr=io.StringIO())
    # Not "No trusted issuers": the rows may hold some.
    assert empty.getvalue() == ""


# -- as a real command -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_command_reads_the_health_another_process_recorded(
    make_idp: Callable[..., LocalIssuer], idp: LocalIssuer, tmp_path: Path
) -> None:
    partner = make_idp()
    TrustedIssuer.objects.create(name="partner", **partner.issuer_settings())
    database = {key: connection.settings_dict[key] for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")}
    shared = {
        "BEARER_GUARD": {"ISSUERS": [idp.issuer_settings(name="corp")], "ALLOW_HTTP_LOOPBACK": True},
        "DATABASES": {"default": database},
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                               "LOCATION": str(tmp_path / "cache")}},
    }
    fetched = commands.run("bearer_guard_refresh_keys", "--issuer", "corp", settings=shared)
    assert fetched.returncode == 0, fetched.stderr
    result = commands.run("bearer_guard_issuers", "--json", settings=shared)
    assert result.returncode == 0, result.stderr
    corp, row = json.loads(result.stdout)
    assert (corp["name"], corp["origin"], corp["status"]) == ("corp", "settings", "healthy")
    assert [key["kid"] for key in corp["keys"]] == [idp.signing_key().kid]
    assert corp["last_success_at"] is not None
    assert (row["name"], row["origin"], row["status"], row["keys"]) == ("partner", "database", "not fetched yet", [])
    text = commands.run("bearer_guard_issuers", settings=shared)
    assert text.returncode == 0
    assert text.stdout.decode().splitlines()[0] == "corp (settings): healthy"
    assert "partner (database): not fetched yet" in text.stdout.decode().splitlines()
    assert (idp.fetches(), partner.fetches()) == (1, 0)


def test_command_exits_1_without_a_traceback_when_the_rows_cannot_be_read(idp: LocalIssuer) -> None:
    # The subprocess's database is a new, empty one: no table has been created in it.
    guard = {"ISSUERS": [idp.issuer_settings(name="corp")], "ALLOW_HTTP_LOOPBACK": True}
    result = commands.run("bearer_guard_issuers", settings={"BEARER_GUARD": guard})
    assert result.returncode == 1
    assert result.stdout.decode().startswith("corp (settings): not fetched yet")
    assert result.stderr.decode().startswith("CommandError: The TrustedIssuer rows cannot be read: ")
    assert b"Traceback" not in result.stderr


@pytest.mark.django_db
def test_issuers_escapes_control_characters_of_a_row(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    TrustedIssuer.objects.create(name="evil\x1b]0;owned\x07\x1b[2J", **idp.issuer_settings(issuer="https://e.example/"))
    output = _issuers()
    assert "\x1b" not in output and "\\x1b]0;owned\\x07" in output
