"""The example project: its settings, its system checks and the demo's curl commands, for real."""

from __future__ import annotations

import http.client
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import Resolver404, resolve

import django_bearer_guard
from django_bearer_guard.conf import DEFAULTS
from django_bearer_guard.issuers.config import parse_issuer

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
MANAGE = EXAMPLE / "manage.py"

# The wheel environment runs the tests away from the source tree, without the example project.
pytestmark = pytest.mark.skipif(not MANAGE.is_file(), reason="the example project is not next to the tests")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MANAGE), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        BG_DEMO_ADDR=f"127.0.0.1:{_free_port()}",
        BG_DEMO_DB=str(tmp_path / "demo.sqlite3"),
        BG_DEMO_KEYS=str(tmp_path / "dev-keys"),
    )
    return env


@pytest.fixture
def demo_server(demo_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """The example project served by runserver on a free port; yields its host:port."""
    assert _manage(demo_env, "migrate", "--noinput").returncode == 0
    host, port = demo_env["BG_DEMO_ADDR"].split(":")
    with (tmp_path / "server.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, str(MANAGE), "runserver", "--noreload", demo_env["BG_DEMO_ADDR"]],
            env=demo_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while _status(host, int(port), "GET", "/dev-issuer/.well-known/jwks.json") != 200:
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "the example project did not start"
                time.sleep(0.1)
            yield demo_env["BG_DEMO_ADDR"]
        finally:
            server.terminate()
            server.wait(timeout=10)


def _request(
    host: str,
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> tuple[int, bytes]:
    # http.client sends the path byte for byte, like curl --path-as-is.
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _status(host: str, port: int, method: str, path: str) -> int | None:
    try:
        return _request(host, port, method, path)[0]
    except OSError:
        return None


def test_example_settings_import_and_their_issuer_is_valid() -> None:
    from example_project import settings

    guard: dict[str, Any] = settings.BEARER_GUARD
    assert set(guard) <= set(DEFAULTS)
    for index, entry in enumerate(guard["ISSUERS"]):
        loopback = guard["ALLOW_HTTP_LOOPBACK"]
        config = parse_issuer(entry, allow_http_loopback=loopback, where=f"ISSUERS[{index}]")
        assert config.problems == ()
        assert config.jwks_uri is not None
        assert config.jwks_uri.startswith("http://127.0.0.1:")
    assert "django_bearer_guard" in settings.INSTALLED_APPS


def test_example_issuer_needs_the_loopback_setting_the_library_leaves_off() -> None:
    from example_project import settings

    assert DEFAULTS["ALLOW_HTTP_LOOPBACK"] is False
    guard: dict[str, Any] = settings.BEARER_GUARD
    config = parse_issuer(guard["ISSUERS"][0], allow_http_loopback=False, where="ISSUERS[0]")
    assert [p.id for p in config.problems] == ["bearer_guard.E007"]


def test_development_issuer_is_not_reachable_from_the_library() -> None:
    with pytest.raises(Resolver404):
        resolve("/dev-issuer/.well-known/jwks.json")
    package = Path(django_bearer_guard.__file__).resolve().parent
    assert not any("dev-issuer" in path.read_text(encoding="utf-8") for path in package.rglob("*.py"))


def test_example_project_passes_manage_py_check(demo_env: dict[str, str]) -> None:
    result = _manage(demo_env, "check", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_demo_curls_get_the_statuses_they_announce(demo_server: str, demo_env: dict[str, str]) -> None:
    host, port = demo_server.split(":")
    printed = _manage(demo_env, "demo_tokens", "--json")
    assert printed.returncode == 0, printed.stderr
    calls = json.loads(printed.stdout)
    assert len(calls) >= 14
    secret = (EXAMPLE / "files" / "secret.txt").read_bytes()
    for call in calls:
        headers = dict(call["headers"])
        if call["token"]:
            headers["Authorization"] = f"Bearer {call['token']}"
        status, body = _request(
            host, int(port), call["method"], call["path"], headers=headers, body=call["body"]
        )
        assert status in call["expect"], (call["title"], status, body[:300])
        assert secret not in body
        if call["path"] == "/api/whoami/" and status == 200:
            assert json.loads(body)["issuer"] == f"http://{demo_server}/dev-issuer"


def test_demo_tokens_prints_one_curl_per_call(demo_env: dict[str, str]) -> None:
    calls = json.loads(_manage(demo_env, "demo_tokens", "--json").stdout)
    text = _manage(demo_env, "demo_tokens").stdout
    curls = [shlex.split(line) for line in text.splitlines() if line.startswith("curl ")]
    assert len(curls) == len(calls)
    for words, call in zip(curls, calls, strict=True):
        assert words[-1] == f"http://{demo_env['BG_DEMO_ADDR']}{call['path']}"
        assert ("--path-as-is" in words) is call["path_as_is"]
        assert any(word.startswith("Authorization: Bearer ") for word in words) is bool(call["token"])
