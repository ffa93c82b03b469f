from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support import commands


def _check(*args: str, stdout: io.TextIOBase | None = None, **options: Any) -> str:
    out = stdout or io.StringIO()
    call_command("bearer_guard_check_token", *args, stdout=out, stderr=io.StringIO(), **options)
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def _refused(*args: str, **options: Any) -> tuple[str, CommandError]:
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("bearer_guard_check_token", *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue(), caught.value


# -- in this process ---------------------------------------------------------------------------


def test_check_token_prints_every_step_of_an_accepted_token(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    out = _check(idp.mint(scope="files:read", sub="svc"))
    lines = out.splitlines()
    assert lines[0] == "Accepted."
    assert lines[2].split() == ["✓", "settings", "BEARER_GUARD", "has", "no", "errors"]
    assert any(line.startswith("  ✓ exp ") and line.endswith("valid for 5 more minutes "
               "(exp 2027-01-15 08:05:00 UTC, leeway 30 seconds)") for line in lines)
    assert "Scopes: files:read" in lines
    assert "Workload: svc" in lines
    assert "Header:" in lines and "Claims:" in lines
    assert '    "sub": "svc",' in lines


def test_check_token_prints_the_failed_step_with_its_hint_and_exits_1(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    out, error = _refused(idp.mint(aud="https://api.example.test/"))
    assert error.returncode == 1
    assert str(error) == "The token is refused: WrongAudience."
    lines = out.splitlines()
    assert lines[0] == "Refused: WrongAudience. The client is told: 'The access token is not meant for this audience.'"
    failed = next(index for index, line in enumerate(lines) if line.startswith("  ✗ "))
    assert lines[failed].split()[1] == "audience"
    assert "['https://api.example.test']" in lines[failed]
    assert lines[failed + 1].split(maxsplit=1) == [
        "hint:", "a trusted audience differs from 'https://api.example.test/' only by a trailing slash: "
        "'https://api.example.test'",
    ]
    assert lines[failed + 2].startswith("  · claim types ")
    assert "Header (signature verified, but the token was refused):" in lines
    assert "Claims (signature verified, but the token was refused):" in lines
    assert not any(line.startswith("Scopes:") for line in lines)


def test_check_token_says_an_unparsed_token_is_not_verified(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    out, error = _refused("garbage")
    assert error.returncode == 1
    assert "Header (not verified: the token was refused): not decodable" in out.splitlines()
    assert "Claims (not verified: the token was refused): not decodable" in out.splitlines()


def test_check_token_reads_the_token_from_stdin(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    out = _check("-", stdin=io.BytesIO(idp.mint().encode() + b"\n"))
    assert out.startswith("Accepted.")


@pytest.mark.parametrize("stdin", [b"", b" \n\n", b"\xff\xfe"])
def test_check_token_refuses_garbage_or_nothing_on_stdin_without_a_traceback(
    idp: LocalIssuer, guard: Callable[..., None], stdin: bytes
) -> None:
    out, error = _refused("-", stdin=io.BytesIO(stdin))
    assert error.returncode == (1 if stdin.strip() else 2)
    assert out.startswith("Refused: MalformedToken.") if stdin.strip() else out == ""


def test_check_token_without_a_token_is_a_usage_error(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    out, error = _refused()
    assert (error.returncode, str(error)) == (2, "Give a token, or - to read one from stdin.")
    assert out == ""


def test_check_token_prints_json(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    out, error = _refused(idp.mint(exp=1), "--json")
    assert error.returncode == 1
    data = json.loads(out)
    assert (data["accepted"], data["error"]) == (False, "ExpiredToken")
    assert {step["name"]: step["ok"] for step in data["steps"]}["exp"] is False
    assert json.loads(_check(idp.mint(), "--json"))["accepted"] is True


def test_check_token_checks_the_view_at_a_path(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    assert "held" in _check(idp.mint(scope="reports:read"), "--path", "/scoped/reports/")
    out, error = _refused(idp.mint(scope="other"), "--path", "/scoped/reports/")
    assert out.startswith("Refused: InsufficientScope.")
    assert error.returncode == 1


def test_check_token_escapes_control_characters_of_the_token(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    out = _check(idp.mint(note="\x1b[2J\x9b31m"))
    assert "\x1b" not in out and "\x9b" not in out
    assert r'"note": "\u001b[2J\x9b31m"' in out


def test_check_token_writes_ascii_to_a_terminal_that_has_no_unicode(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    buffer = io.BytesIO()
    stdout = io.TextIOWrapper(buffer, encoding="ascii")
    call_command("bearer_guard_check_token", idp.mint(name="Zoë"), stdout=stdout, stderr=io.StringIO())
    stdout.flush()
    out = buffer.getvalue().decode("ascii")
    assert "  + settings " in out
    assert r'"name": "Zo\xeb"' in out


# -- as a real command -----------------------------------------------------------------------


@pytest.fixture
def guard_settings(idp: LocalIssuer) -> dict[str, Any]:
    return {"BEARER_GUARD": {"ISSUERS": [idp.issuer_settings()], "ALLOW_HTTP_LOOPBACK": True}}


def test_command_exits_0_for_an_accepted_token(idp: LocalIssuer, guard_settings: dict[str, Any]) -> None:
    result = commands.run("bearer_guard_check_token", idp.mint(), settings=guard_settings)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith("Accepted.")
    assert result.stderr == b""


def test_command_exits_1_and_names_the_expected_audience(idp: LocalIssuer, guard_settings: dict[str, Any]) -> None:
    result = commands.run("bearer_guard_check_token", idp.mint(aud="https://billing.example"), settings=guard_settings)
    assert result.returncode == 1
    out = result.stdout.decode()
    assert out.startswith("Refused: WrongAudience.")
    assert "the issuer's tokens must be for ['https://api.example.test'] here" in out
    assert result.stderr.decode() == "CommandError: The token is refused: WrongAudience.\n"


def test_command_reads_stdin_and_prints_json(idp: LocalIssuer, guard_settings: dict[str, Any]) -> None:
    token = idp.mint(exp=1).encode()
    result = commands.run("bearer_guard_check_token", "-", "--json", settings=guard_settings, stdin=token + b"\n")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert (data["accepted"], data["error"]) == (False, "ExpiredToken")
    assert data["claims"]["exp"] == 1


@pytest.mark.parametrize(("args", "stdin"), [((), b""), (("-",), b""), (("-",), b"\n")])
def test_command_exits_2_without_a_token(
    idp: LocalIssuer, guard_settings: dict[str, Any], args: tuple[str, ...], stdin: bytes
) -> None:
    result = commands.run("bearer_guard_check_token", *args, settings=guard_settings, stdin=stdin)
    assert result.returncode == 2
    assert result.stderr.decode() == "CommandError: Give a token, or - to read one from stdin.\n"


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        ((os.fsdecode(b"\xff\xfe.\x01\x1b.\xc3"),), b""),
        (("-",), b"\xff\xfe\x00\x1b[2J." * 1000),
        (("-",), b"eyJhbGciOiJSUzI1NiJ9." + b"e" * 20000 + b".c2ln"),
    ],
)
def test_command_never_prints_a_traceback_for_garbage(
    idp: LocalIssuer, guard_settings: dict[str, Any], args: tuple[str, ...], stdin: bytes
) -> None:
    result = commands.run("bearer_guard_check_token", *args, settings=guard_settings, stdin=stdin)
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr + result.stdout
    assert result.stdout.startswith(b"Refused: ")
    assert b"\x1b" not in result.stdout
