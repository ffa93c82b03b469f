"""``manage.py bearer_guard_dev_issuer``: in process, as a subprocess, and on a fresh startproject."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import jwt
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from django_bearer_guard.management.commands.bearer_guard_dev_issuer import Command
from django_bearer_guard.tokens.validator import TokenValidator
from tests.support import commands
from tests.support.dev_issuer import printed_settings, serving
from tests.support.live import free_port


@pytest.fixture(autouse=True)
def _debug() -> Iterator[None]:
    with override_settings(DEBUG=True):
        yield


def _mint(*args: str) -> str:
    out = StringIO()
    call_command("bearer_guard_dev_issuer", "--mint", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def _get(url: str) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status), json.loads(response.read())


def test_dev_issuer_defaults_port_8765_key_file_and_audience() -> None:
    options = Command().create_parser("manage.py", "bearer_guard_dev_issuer").parse_args([])
    assert options.port == 8765
    assert options.key_file == Path(".bearer-guard-dev-key.pem")
    assert (options.audience, options.subject, options.lifetime) == ("http://localhost:8000", "dev-client", 3600)
    assert (options.mint, options.scope) == (False, [])


def test_dev_issuer_refuses_to_run_with_debug_off_naming_debug(tmp_path: Path) -> None:
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG = True") as caught:
        _mint("--key-file", str(tmp_path / "key.pem"))
    assert caught.value.returncode == 1
    assert not (tmp_path / "key.pem").exists()


def test_dev_issuer_makes_its_key_file_for_its_owner_and_reuses_it(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    first = _mint("--key-file", str(path))
    written = path.read_bytes()
    assert path.stat().st_mode & 0o777 == 0o600
    second = _mint("--key-file", str(path))
    assert path.read_bytes() == written
    assert jwt.get_unverified_header(first)["kid"] == jwt.get_unverified_header(second)["kid"]


def test_dev_issuer_keeps_its_key_in_the_working_directory_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _mint()
    assert [p.name for p in tmp_path.iterdir()] == [".bearer-guard-dev-key.pem"]


def test_dev_issuer_refuses_a_garbage_key_file_with_a_command_error(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    with pytest.raises(CommandError, match=r"The key file is refused: .*key\.pem holds no PEM private key"):
        _mint("--key-file", str(path))
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\nnot base64")


def test_dev_issuer_refuses_a_key_file_in_one_line_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text("garbage\x1b[31m")
    result = commands.run("bearer_guard_dev_issuer", "--mint", "--key-file", str(path), settings={"DEBUG": True})
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode().splitlines() == [f"CommandError: The key file is refused: {path} holds no PEM"
                                                   " private key (RSA (2048 bits or more), EC P-256, P-384 or"
                                                   " P-521, or Ed25519)"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--lifetime", "0"], "--lifetime must be a positive number of seconds, not 0"),
        (["--lifetime", "-60"], "--lifetime must be a positive number of seconds, not -60"),
        (["--port", "0"], "--port must be between 1 and 65535, not 0"),
        (["--port", "65536"], "--port must be between 1 and 65535, not 65536"),
    ],
)
def test_dev_issuer_usage_errors_exit_with_2(tmp_path: Path, args: list[str], says: str) -> None:
    with pytest.raises(CommandError, match=says) as caught:
        _mint("--key-file", str(tmp_path / "key.pem"), *args)
    assert caught.value.returncode == 2


def test_dev_issuer_mint_takes_scopes_audience_subject_and_lifetime(tmp_path: Path) -> None:
    token = _mint("--key-file", str(tmp_path / "key.pem"), "--port", "9999", "--scope", "a:read", "--scope",
                  "b:write c", "--audience", "https://api.example.test", "--subject", "svc", "--lifetime", "120")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "http://127.0.0.1:9999"
    assert (claims["aud"], claims["sub"], claims["scope"]) == ("https://api.example.test", "svc", "a:read b:write c")
    assert claims["exp"] - claims["iat"] == 120


def test_dev_issuer_prints_settings_that_trust_it_and_a_token_they_accept(tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "key.pem"
    with serving("--port", str(port), "--key-file", str(path), "--scope", "reports:read") as output:
        text, guard = printed_settings(output)
        # Printed for pasting: what the settings need, commented.
        assert "# ALLOW_HTTP_LOOPBACK must be True" in text
        assert guard["ALLOW_HTTP_LOOPBACK"] is True
        [entry] = guard["ISSUERS"]
        issuer = f"http://127.0.0.1:{port}"
        assert entry == {
            "issuer": issuer,
            "audiences": ["http://localhost:8000"],
            "algorithms": ["ES256"],
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
        }
        [curl] = [line for line in output.splitlines() if line.startswith("curl ")]
        words = shlex.split(curl)
        assert words[-1] == "http://localhost:8000/"
        printed = words[words.index("-H") + 1].removeprefix("Authorization: Bearer ")
        minted = _mint("--port", str(port), "--key-file", str(path), "--scope", "reports:read")
        with override_settings(BEARER_GUARD=guard):
            validator = TokenValidator()
            for token in (printed, minted):
                verified = validator.validate(token)
                assert (verified.issuer, verified.scopes) == (issuer, frozenset({"reports:read"}))
        assert str(path.resolve()) in output
        assert "add it to .gitignore" in output
        assert f"# Serving on {issuer}; press Ctrl-C to stop." in output


def test_dev_issuer_serves_its_jwks_and_discovery(tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "key.pem"
    with serving("--port", str(port), "--key-file", str(path)):
        issuer = f"http://127.0.0.1:{port}"
        status, metadata = _get(f"{issuer}/.well-known/openid-configuration")
        assert status == 200
        assert (metadata["issuer"], metadata["jwks_uri"]) == (issuer, f"{issuer}/.well-known/jwks.json")
        status, jwks = _get(metadata["jwks_uri"])
        assert status == 200
        [jwk] = jwks["keys"]
        assert jwk["kid"] == jwt.get_unverified_header(_mint("--key-file", str(path)))["kid"]
        assert "d" not in jwk


def test_dev_issuer_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=rf"Cannot listen on 127.0.0.1:{port} .*choose another port"):
            call_command("bearer_guard_dev_issuer", "--port", str(port), "--key-file", str(tmp_path / "k.pem"),
                         stdout=StringIO())


# -- a fresh project ----------------------------------------------------------------------------

_SETTINGS = """
INSTALLED_APPS += ["rest_framework", "django_bearer_guard"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["django_bearer_guard.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
"""
_URLS = """
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from django_bearer_guard.permissions import HasScopes


class Reports(APIView):
    permission_classes = [IsAuthenticated, HasScopes]
    required_scopes = ["reports:read"]

    def get(self, request):
        return Response({"sub": request.auth.claims["sub"]})


urlpatterns += [path("api/reports/", Reports.as_view())]
"""


def _project_env() -> dict[str, str]:
    # manage.py sets its own settings module only where none is set.
    return {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}


def _wait_for_line(log: Path, process: subprocess.Popen[bytes], line: str) -> str:
    deadline = time.monotonic() + 30
    while line not in (output := log.read_text()):
        assert process.poll() is None, output
        assert time.monotonic() < deadline, output
        time.sleep(0.05)
    return output


def _status(port: int, token: str | None) -> int | None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/reports/", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code)
    except OSError:
        return None


@contextlib.contextmanager
def _started(command: list[str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=cwd, env=_project_env(), stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            process.wait(timeout=20)


@pytest.mark.slow
def test_a_fresh_startproject_gets_its_first_200_from_the_dev_issuer(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    django_admin = [sys.executable, "-m", "django"]
    subprocess.run([*django_admin, "startproject", "mysite", str(project)], env=_project_env(), check=True)
    manage = [sys.executable, str(project / "manage.py")]
    settings_py, urls_py = project / "mysite" / "settings.py", project / "mysite" / "urls.py"
    with settings_py.open("a") as settings_file:
        settings_file.write(_SETTINGS)
    with urls_py.open("a") as urls_file:
        urls_file.write(_URLS)
    subprocess.run([*manage, "migrate", "--noinput"], cwd=project, env=_project_env(), check=True,
                   capture_output=True)

    issuer_port, api_port = free_port(), free_port()
    issuer_log = tmp_path / "issuer.log"
    with _started([*manage, "bearer_guard_dev_issuer", "--port", str(issuer_port)], project, issuer_log) as issuer:
        output = _wait_for_line(issuer_log, issuer, "# Serving on ")
        text, guard = printed_settings(output)
        with settings_py.open("a") as settings_file:
            settings_file.write("\n" + text + "\n")

        def mint(*scopes: str) -> str:
            args = [arg for scope in scopes for arg in ("--scope", scope)]
            result = subprocess.run([*manage, "bearer_guard_dev_issuer", "--port", str(issuer_port), "--mint", *args],
                                    cwd=project, env=_project_env(), capture_output=True, text=True, check=True)
            return result.stdout.strip()

        reader, other = mint("reports:read"), mint("reports:write")
        assert (project / ".bearer-guard-dev-key.pem").stat().st_mode & 0o777 == 0o600

        api_log = tmp_path / "runserver.log"
        runserver = [*manage, "runserver", "--noreload", f"127.0.0.1:{api_port}"]
        with _started(runserver, project, api_log) as api:
            deadline = time.monotonic() + 30
            while _status(api_port, None) is None:
                assert api.poll() is None, api_log.read_text()
                assert time.monotonic() < deadline, api_log.read_text()
                time.sleep(0.1)
            assert _status(api_port, reader) == 200
            assert _status(api_port, None) == 401
            assert _status(api_port, other) == 403
    assert issuer.returncode == 0
    assert "Traceback" not in issuer_log.read_text()
    assert "Traceback" not in api_log.read_text()
    assert guard["ISSUERS"][0]["issuer"] == f"http://127.0.0.1:{issuer_port}"
