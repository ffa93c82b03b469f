"""The example project: its settings, its system checks, its setup and the demo's curls, for real."""

from __future__ import annotations

import contextlib
import http.client
import http.cookiejar
import importlib
import itertools
import json
import os
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.test import override_settings
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


@dataclass(frozen=True)
class Demo:
    """``manage.py rundemo`` serving on ``addr``, with what it printed before it served."""

    addr: str
    env: dict[str, str]
    output: str

    @property
    def host(self) -> str:
        return self.addr.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.addr.rpartition(":")[2])

    def admin_login(self) -> tuple[str, str]:
        match = re.search(r"^# Admin: (\S+) \(user: (\S+), password: (\S+)\)$", self.output, re.MULTILINE)
        assert match, self.output
        assert match[1] == f"http://{self.addr}/admin/"
        return match[2], match[3]


@dataclass(frozen=True)
class PrintedCall:
    """One curl the demo printed, with the statuses its comment announces."""

    title: str
    expect: list[int]
    method: str
    url: str
    headers: dict[str, str]
    body: str | None


def _printed_calls(output: str) -> list[PrintedCall]:
    calls = []
    lines = output.splitlines()
    for comment, line in itertools.pairwise(lines):
        if not line.startswith("curl "):
            continue
        match = re.fullmatch(r"# (.*) \(expect ([\d or]+)\)", comment)
        assert match, comment
        words = iter(shlex.split(line)[1:])
        method, headers, body, url = "GET", {}, None, ""
        for word in words:
            if word == "-X":
                method = next(words)
            elif word == "-H":
                name, _, value = next(words).partition(": ")
                headers[name] = value
            elif word == "--data":
                body = next(words)
            elif not word.startswith("-"):
                url = word
        calls.append(PrintedCall(match[1], [int(n) for n in match[2].split(" or ")], method, url, headers, body))
    return calls


def _rows(env: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(env["BG_DEMO_DB"])) as connection:
        return connection.execute(sql).fetchall()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``manage.py rundemo`` (what ``make demo`` runs) on a free port, until it prints "Serving on"."""
    folder = tmp_path_factory.mktemp("demo")
    env = _env(folder)
    log_path = folder / "rundemo.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-u", str(MANAGE), "rundemo"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while "# Serving on " not in (output := log_path.read_text()):
                assert process.poll() is None, output
                assert time.monotonic() < deadline, output
                time.sleep(0.1)
            yield Demo(env["BG_DEMO_ADDR"], env, output)
        finally:
            # rundemo stops its development server on SIGTERM.
            process.terminate()
            process.wait(timeout=20)


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        BG_DEMO_ADDR=f"127.0.0.1:{_free_port()}",
        BG_DEMO_DB=str(folder / "demo.sqlite3"),
        BG_DEMO_KEYS=str(folder / "dev-keys"),
    )
    return env


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    return _env(tmp_path)


def _row_fields() -> dict[str, Any]:
    # By name: the example project reads its own settings, which mypy does not check it against.
    fields: dict[str, Any] = importlib.import_module("example_project.demo.dev_issuer").row_fields()
    return fields


@pytest.fixture
def example_settings() -> Iterator[ModuleType]:
    """The example settings module, with the values the development issuer reads from settings."""
    from example_project import settings

    with override_settings(DEMO_ISSUER=settings.DEMO_ISSUER, DEMO_AUDIENCE=settings.DEMO_AUDIENCE):
        yield settings


def test_example_settings_name_no_issuer_so_the_admin_controls_the_demo_row(example_settings: ModuleType) -> None:
    guard: dict[str, Any] = example_settings.BEARER_GUARD
    assert set(guard) <= set(DEFAULTS)
    # A settings entry for the development issuer would shadow its row (the settings win).
    assert guard["ISSUERS"] == []
    assert "django_bearer_guard" in example_settings.INSTALLED_APPS
    assert "django.contrib.admin" in example_settings.INSTALLED_APPS


def test_development_issuer_row_is_valid_with_the_example_settings(example_settings: ModuleType) -> None:
    fields = _row_fields()
    config = parse_issuer(fields, allow_http_loopback=example_settings.BEARER_GUARD["ALLOW_HTTP_LOOPBACK"], where="row")
    assert config.problems == ()
    assert config.enabled
    assert config.jwks_uri == f"http://{example_settings.DEMO_ADDR}/dev-issuer/.well-known/jwks.json"


def test_development_issuer_needs_the_loopback_setting_the_library_leaves_off(example_settings: ModuleType) -> None:
    assert DEFAULTS["ALLOW_HTTP_LOOPBACK"] is False
    config = parse_issuer(_row_fields(), allow_http_loopback=False, where="row")
    assert "bearer_guard.E007" in [p.id for p in config.problems]


def test_development_issuer_is_not_reachable_from_the_library() -> None:
    with pytest.raises(Resolver404):
        resolve("/dev-issuer/.well-known/jwks.json")
    package = Path(django_bearer_guard.__file__).resolve().parent
    assert not any("dev-issuer" in path.read_text(encoding="utf-8") for path in package.rglob("*.py"))


def test_example_project_passes_manage_py_check_with_its_issuer_row(demo_env: dict[str, str]) -> None:
    assert _manage(demo_env, "migrate", "--noinput", "--skip-checks").returncode == 0
    setup = _manage(demo_env, "demo_setup")
    assert setup.returncode == 0, setup.stderr
    result = _manage(demo_env, "check", "--database", "default", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_demo_setup_makes_one_enabled_issuer_row_and_one_superuser_however_often_it_runs(
    demo_env: dict[str, str],
) -> None:
    assert _manage(demo_env, "migrate", "--noinput", "--skip-checks").returncode == 0
    first = _manage(demo_env, "demo_setup")
    second = _manage(demo_env, "demo_setup")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout
    issuer = f"http://{demo_env['BG_DEMO_ADDR']}/dev-issuer"
    assert _rows(demo_env, "SELECT name, issuer, enabled FROM django_bearer_guard_trustedissuer") == [
        ("Local development issuer", issuer, 1)
    ]
    assert _rows(demo_env, "SELECT username, is_staff, is_superuser FROM auth_user") == [("admin", 1, 1)]
    password_file = Path(demo_env["BG_DEMO_KEYS"]) / "admin-password"
    assert f"(user: admin, password: {password_file.read_text()})" in first.stdout
    assert password_file.stat().st_mode & 0o777 == 0o600


def test_demo_setup_enables_its_row_again_and_moves_it_with_demo_addr(demo_env: dict[str, str]) -> None:
    assert _manage(demo_env, "migrate", "--noinput", "--skip-checks").returncode == 0
    assert _manage(demo_env, "demo_setup").returncode == 0
    with contextlib.closing(sqlite3.connect(demo_env["BG_DEMO_DB"])) as connection, connection:
        connection.execute("UPDATE django_bearer_guard_trustedissuer SET enabled = 0")
    moved = {**demo_env, "BG_DEMO_ADDR": f"127.0.0.1:{_free_port()}"}
    assert _manage(moved, "demo_setup").returncode == 0
    assert _rows(demo_env, "SELECT issuer, jwks_uri, enabled FROM django_bearer_guard_trustedissuer") == [
        (
            f"http://{moved['BG_DEMO_ADDR']}/dev-issuer",
            f"http://{moved['BG_DEMO_ADDR']}/dev-issuer/.well-known/jwks.json",
            1,
        )
    ]


def test_demo_setup_refuses_an_address_that_is_not_loopback(demo_env: dict[str, str]) -> None:
    assert _manage(demo_env, "migrate", "--noinput", "--skip-checks").returncode == 0
    result = _manage({**demo_env, "BG_DEMO_ADDR": "192.0.2.10:8000"}, "demo_setup")
    assert result.returncode == 1
    assert "the development issuer 'http://192.0.2.10:8000/dev-issuer' is refused" in result.stderr
    assert "Traceback" not in result.stderr
    assert _rows(demo_env, "SELECT count(*) FROM django_bearer_guard_trustedissuer") == [(0,)]


def test_rundemo_serves_and_prints_every_url_on_demo_addr(demo: Demo) -> None:
    origin = f"http://{demo.addr}"
    urls = re.findall(r"https?://[^\s'\")]+", demo.output)
    local = [url for url in urls if not url.startswith("https://") and "example.test" not in url]
    assert local
    assert all(url.startswith(origin) for url in local), local
    assert f"# Tokens of the development issuer {origin}/dev-issuer," in demo.output
    assert f"# Serving on {origin};" in demo.output
    assert _status(demo.host, demo.port, "GET", "/admin/login/") == 200


def test_demo_curls_get_the_statuses_they_announce(demo: Demo) -> None:
    calls = _printed_calls(demo.output)
    assert len(calls) >= 14
    secret = (EXAMPLE / "files" / "secret.txt").read_bytes()
    for call in calls:
        prefix = f"http://{demo.addr}"
        assert call.url.startswith(prefix)
        path = call.url.removeprefix(prefix)
        status, body = _request(demo.host, demo.port, call.method, path, headers=call.headers, body=call.body)
        assert status in call.expect, (call.title, status, body[:300])
        assert secret not in body
        if path == "/api/whoami/" and status == 200:
            assert json.loads(body)["issuer"] == f"http://{demo.addr}/dev-issuer"


def test_demo_tokens_prints_one_curl_per_call(demo_env: dict[str, str]) -> None:
    calls = json.loads(_manage(demo_env, "demo_tokens", "--json").stdout)
    text = _manage(demo_env, "demo_tokens").stdout
    curls = [shlex.split(line) for line in text.splitlines() if line.startswith("curl ")]
    assert len(curls) == len(calls)
    for words, call in zip(curls, calls, strict=True):
        assert words[-1] == f"http://{demo_env['BG_DEMO_ADDR']}{call['path']}"
        assert ("--path-as-is" in words) is call["path_as_is"]
        assert any(word.startswith("Authorization: Bearer ") for word in words) is bool(call["token"])


class _AdminSession:
    """A logged-in admin session on the demo, over plain HTTP with its cookies."""

    def __init__(self, demo: Demo) -> None:
        self.origin = f"http://{demo.addr}"
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        username, password = demo.admin_login()
        self.get("/admin/login/")
        page = self.post("/admin/login/?next=/admin/", username=username, password=password, next="/admin/")
        assert "Log out" in page, page[:500]

    def get(self, path: str) -> str:
        with self.opener.open(self.origin + path, timeout=10) as response:
            return str(response.read().decode())

    def post(self, path: str, **fields: str) -> str:
        # Django accepts the cookie's CSRF secret as the form's token.
        csrf = next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")
        body = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": csrf}).encode()
        with self.opener.open(self.origin + path, data=body, timeout=10) as response:
            return str(response.read().decode())


def _call_status(demo: Demo, call: PrintedCall) -> int:
    path = call.url.removeprefix(f"http://{demo.addr}")
    return _request(demo.host, demo.port, call.method, path, headers=call.headers, body=call.body)[0]


def _seconds_until(demo: Demo, call: PrintedCall, status: int) -> float:
    start = time.monotonic()
    while (answer := _call_status(demo, call)) != status:
        assert time.monotonic() - start < 20, f"{call.title}: still {answer}"
        time.sleep(0.2)
    return time.monotonic() - start


def test_demo_issuer_is_healthy_in_the_admin_with_its_keys(demo: Demo) -> None:
    admin = _AdminSession(demo)
    changelist = admin.get("/admin/django_bearer_guard/trustedissuer/")
    assert '<td class="field-status">healthy</td>' in changelist
    assert '<td class="field-key_count">2</td>' in changelist


def test_disabling_the_demo_issuer_in_the_admin_refuses_the_accepted_curl_within_seconds(demo: Demo) -> None:
    accepted = _printed_calls(demo.output)[0]
    assert accepted.expect == [200]
    assert _call_status(demo, accepted) == 200
    [(row_id,)] = _rows(demo.env, "SELECT id FROM django_bearer_guard_trustedissuer")
    admin = _AdminSession(demo)
    changelist = "/admin/django_bearer_guard/trustedissuer/"

    page = admin.post(changelist, action="disable", _selected_action=str(row_id), index="0")
    assert "Disabled 1 issuer(s): Local development issuer." in page
    assert _seconds_until(demo, accepted, 401) < 6

    page = admin.post(changelist, action="enable", _selected_action=str(row_id), index="0")
    assert "Enabled 1 issuer(s): Local development issuer." in page
    assert _seconds_until(demo, accepted, 200) < 6


@pytest.mark.parametrize(
    ("title", "says"),
    [
        ("Expired token: 401 invalid_token", r"Refused: ExpiredToken\..*expired \d+ minutes? ago"),
        ("Token for another audience: 401 invalid_token", r"Refused: WrongAudience\..*'https://demo-api\.example\.test'"),
    ],
)
def test_check_token_command_explains_the_printed_refused_tokens(demo: Demo, title: str, says: str) -> None:
    [call] = [call for call in _printed_calls(demo.output) if call.title == title]
    token = call.headers["Authorization"].removeprefix("Bearer ")
    result = _manage(demo.env, "bearer_guard_check_token", token)
    assert result.returncode == 1, result.stderr
    assert re.search(says, result.stdout, re.DOTALL), result.stdout
