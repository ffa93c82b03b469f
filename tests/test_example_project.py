"""The example project: its settings, its system checks, its setup and the demo's curls, for real."""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.cookiejar
import importlib
import json
import os
import re
import shlex
import shutil
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
from django_bearer_guard.conf import DEFAULTS, get_settings
from django_bearer_guard.identity.dpop import access_token_hash
from django_bearer_guard.identity.transport import is_trusted_peer
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
    source: str | None = None,
) -> tuple[int, bytes]:
    # http.client sends the path byte for byte, like curl --path-as-is.
    source_address = None if source is None else (source, 0)
    connection = http.client.HTTPConnection(host, port, timeout=10, source_address=source_address)
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
    log: Path

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
    """One call the demo printed: its shell lines (a curl last), with the statuses its comment announces.

    ``bound`` is true for the calls after the bound tokens' heading; ``source`` and ``header_file``
    are the curl's ``--interface`` and ``-H @file``.
    """

    title: str
    expect: list[int]
    lines: tuple[str, ...]
    bound: bool
    method: str
    url: str
    headers: dict[str, str]
    body: str | None
    source: str | None
    header_file: str | None


def _parse_call(title: str, expect: str, lines: list[str], *, bound: bool) -> PrintedCall:
    curl = shlex.split(lines[-1])
    assert curl[0] == "curl", lines
    words = iter(curl[1:])
    method, headers, body, url, source, header_file = "GET", {}, None, "", None, None
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "--interface":
            source = next(words)
        elif word == "-H":
            header = next(words)
            if header.startswith("@"):
                header_file = header[1:]
            else:
                name, _, value = header.partition(": ")
                headers[name] = value
        elif word == "--data":
            body = next(words)
        elif not word.startswith("-"):
            url = word
    statuses = [int(n) for n in expect.split(" or ")]
    return PrintedCall(title, statuses, tuple(lines), bound, method, url, headers, body, source, header_file)


def _printed_calls(output: str) -> list[PrintedCall]:
    """The calls after ``# Tokens of the development issuer``: each comment and the shell lines under it."""
    calls: list[PrintedCall] = []
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Tokens of the development issuer "))
    block: list[str] = []
    comment: re.Match[str] | None = None
    bound = False
    for line in [*lines[start + 1 :], "#"]:
        if line.startswith("#"):
            if comment:
                calls.append(_parse_call(comment[1], comment[2], block, bound=bound))
            elif block:
                pytest.fail(f"shell lines without a comment announcing their status: {block}")
            comment, block = re.fullmatch(r"# (.*) \(expect ([\d or]+)\)", line), []
            bound = bound or line.startswith("# Bound tokens")
        elif re.match(r"curl |[A-Z]=", line):
            # Anything else is the server's log, which shares the output.
            block.append(line)
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
            yield Demo(env["BG_DEMO_ADDR"], env, output, log_path)
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


BINDINGS = [None, "workload", "dpop"]


def _row_fields(binding: str | None = None) -> dict[str, Any]:
    # By name: the example project reads its own settings, which mypy does not check it against.
    fields: dict[str, Any] = importlib.import_module("example_project.demo.dev_issuer").row_fields(binding)
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


def test_example_settings_believe_the_certificate_header_only_from_the_demo_proxy(
    example_settings: ModuleType,
) -> None:
    with override_settings(BEARER_GUARD=example_settings.BEARER_GUARD):
        guard = get_settings()
    assert guard.problems == ()
    transport = guard.transport_identity
    assert (transport.source, transport.header) == ("xfcc", "X-Forwarded-Client-Cert")
    assert is_trusted_peer(example_settings.DEMO_PROXY_ADDR, transport.trusted_proxies)
    # A plain curl connects from 127.0.0.1 (Linux picks it as the source of any loopback address).
    assert not is_trusted_peer("127.0.0.1", transport.trusted_proxies)
    assert [network.num_addresses for network in transport.trusted_proxies] == [1]


@pytest.mark.parametrize("binding", BINDINGS)
def test_development_issuer_rows_are_valid_with_the_example_settings(
    example_settings: ModuleType, binding: str | None
) -> None:
    fields = _row_fields(binding)
    config = parse_issuer(
        fields,
        allow_http_loopback=example_settings.BEARER_GUARD["ALLOW_HTTP_LOOPBACK"],
        where="row",
        transport_source=example_settings.BEARER_GUARD["TRANSPORT_IDENTITY"]["source"],
    )
    assert config.problems == ()
    assert config.enabled
    assert config.binding == binding
    assert config.jwks_uri == f"http://{example_settings.DEMO_ADDR}/dev-issuer/.well-known/jwks.json"
    suffix = {None: "", "workload": "/workloads", "dpop": "/dpop"}[binding]
    assert config.issuer == f"http://{example_settings.DEMO_ADDR}/dev-issuer{suffix}"


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


def test_demo_setup_makes_three_enabled_issuer_rows_and_one_superuser_however_often_it_runs(
    demo_env: dict[str, str],
) -> None:
    assert _manage(demo_env, "migrate", "--noinput", "--skip-checks").returncode == 0
    first = _manage(demo_env, "demo_setup")
    second = _manage(demo_env, "demo_setup")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout
    issuer = f"http://{demo_env['BG_DEMO_ADDR']}/dev-issuer"
    sql = "SELECT name, issuer, binding, enabled FROM django_bearer_guard_trustedissuer ORDER BY name"
    assert _rows(demo_env, sql) == [
        ("Local development issuer", issuer, None, 1),
        ("Local development issuer (DPoP-bound)", f"{issuer}/dpop", "dpop", 1),
        ("Local development issuer (workload-bound)", f"{issuer}/workloads", "workload", 1),
    ]
    assert _rows(demo_env, "SELECT username, is_staff, is_superuser FROM auth_user") == [("admin", 1, 1)]
    password_file = Path(demo_env["BG_DEMO_KEYS"]) / "admin-password"
    assert f"(user: admin, password: {password_file.read_text()})" in first.stdout
    assert password_file.stat().st_mode & 0o777 == 0o600


def test_demo_setup_enables_its_rows_again_and_moves_them_with_demo_addr(demo_env: dict[str, str]) -> None:
    assert _manage(demo_env, "migrate", "--noinput", "--skip-checks").returncode == 0
    assert _manage(demo_env, "demo_setup").returncode == 0
    with contextlib.closing(sqlite3.connect(demo_env["BG_DEMO_DB"])) as connection, connection:
        connection.execute("UPDATE django_bearer_guard_trustedissuer SET enabled = 0")
    moved = {**demo_env, "BG_DEMO_ADDR": f"127.0.0.1:{_free_port()}"}
    assert _manage(moved, "demo_setup").returncode == 0
    origin = f"http://{moved['BG_DEMO_ADDR']}/dev-issuer"
    sql = "SELECT issuer, jwks_uri, enabled FROM django_bearer_guard_trustedissuer ORDER BY issuer"
    assert _rows(demo_env, sql) == [
        (f"{origin}{suffix}", f"{origin}/.well-known/jwks.json", 1) for suffix in ("", "/dpop", "/workloads")
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
    calls = [call for call in _printed_calls(demo.output) if not call.bound]
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
    printed = _printed_calls(text)
    assert [(c.title, c.expect, c.bound, len(c.lines)) for c in printed] == [
        (call["title"], call["expect"], call["bound"], len(call["lines"])) for call in calls
    ]
    for words, call in zip(curls, calls, strict=True):
        assert words[-1] == f"http://{demo_env['BG_DEMO_ADDR']}{call['path']}"
        assert ("--path-as-is" in words) is call["path_as_is"]
        bearer = any(word.startswith("Authorization: Bearer ") for word in words)
        assert bearer is (bool(call["token"]) and call["proof"] is None)
        assert ("--interface" in words) is bool(call["source"])
    assert [call["title"] for call in calls if call["bound"]] == [c.title for c in printed if c.bound] != []


PROXY = "127.0.0.2"
# What the bound calls send: (curl --interface, the certificate header file, the scheme, the statuses).
BOUND_CALLS = [
    (PROXY, "svc-a.xfcc", "Bearer", [200]),
    (PROXY, "svc-b.xfcc", "Bearer", [401]),
    (None, "svc-a.xfcc", "Bearer", [401]),
    (None, None, "Bearer", [401]),
    (None, None, "DPoP", [200]),
    (None, None, "DPoP", [401]),
]
_END = "--- end of call ---"


def _bound_calls(demo: Demo, source: str) -> list[PrintedCall]:
    """The bound calls of rundemo's output, or of ``demo_tokens`` (printed, or as JSON) against the same demo."""
    if source == "rundemo":
        calls = [call for call in _printed_calls(demo.output) if call.bound]
    elif source == "demo_tokens":
        calls = [call for call in _printed_calls(_manage(demo.env, "demo_tokens").stdout) if call.bound]
    else:
        entries = json.loads(_manage(demo.env, "demo_tokens", "--json").stdout)
        calls = [
            _parse_call(entry["title"], " or ".join(map(str, entry["expect"])), entry["lines"], bound=True)
            for entry in entries
            if entry["bound"]
        ]
    shapes = [
        (call.source, call.header_file and Path(call.header_file).name, call.headers["Authorization"].split()[0])
        for call in calls
    ]
    assert [(*shape, call.expect) for shape, call in zip(shapes, calls, strict=True)] == BOUND_CALLS
    return calls


def _run_in_bash(demo: Demo, calls: list[PrintedCall], cwd: Path) -> list[tuple[int, dict[str, str], Any]]:
    """Run the calls' lines, in order, in one bash; each curl's status, headers and JSON body."""
    if shutil.which("bash") is None or shutil.which("curl") is None:
        pytest.skip("the bound calls run their printed lines with bash and curl, and this machine lacks one")
    script = ["set -u"]
    for call in calls:
        script += [*call.lines, f"echo; echo '{_END}'"]
    command = ["bash", "-c", "\n".join(script)]
    result = subprocess.run(command, env=demo.env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    answers = []
    for answer in result.stdout.split(f"{_END}\n")[:-1]:
        # Text mode reads curl's CRLF line ends as "\n".
        head, _, body = answer.partition("\n\n")
        status_line, *header_lines = head.split("\n")
        headers = dict(line.split(": ", 1) for line in header_lines)
        answers.append((int(status_line.split()[1]), headers, json.loads(body)))
    assert len(answers) == len(calls), result.stdout
    return answers


@pytest.mark.parametrize("source", ["rundemo", "demo_tokens", "demo_tokens --json"])
def test_demo_bound_lines_get_the_statuses_they_announce_in_bash(demo: Demo, source: str, tmp_path: Path) -> None:
    calls = _bound_calls(demo, source)
    # Any directory will do: the lines name their files and python by absolute path.
    answers = _run_in_bash(demo, calls, tmp_path)
    issuer = f"http://{demo.addr}/dev-issuer"
    for call, (status, headers, body) in zip(calls, answers, strict=True):
        assert status in call.expect, (call.title, status, body)
        if status == 401:
            # The title names the error, and the challenge is the scheme's (RFC 9449 §7.1).
            assert body["error"] in call.title, (call.title, body)
            assert headers["WWW-Authenticate"].startswith(call.headers["Authorization"].split()[0] + " ")
        elif call.headers["Authorization"].startswith("DPoP "):
            assert (body["issuer"], body["binding"]["methods"]) == (f"{issuer}/dpop", ["jkt"])
        else:
            svc_a = "spiffe://example.test/ns/default/sa/svc-a"
            assert (body["issuer"], body["binding"]["methods"]) == (f"{issuer}/workloads", ["workload"])
            assert body["workload"] == body["binding"]["spiffe_id"] == svc_a


def test_demo_replay_sends_the_very_proof_the_accepted_call_sent(demo: Demo) -> None:
    *_, fresh, again = _bound_calls(demo, "rundemo")
    token, proof, curl = fresh.lines
    assert token.startswith("T=")
    assert proof.startswith("P=$(") and proof.endswith(f' demo_dpop_proof GET {fresh.url} --token "$T")')
    assert again.lines == (curl,)
    assert fresh.headers == again.headers == {"Authorization": "DPoP $T", "DPoP": "$P"}


def test_demo_certificate_header_from_an_untrusted_address_is_ignored_and_logged(demo: Demo, tmp_path: Path) -> None:
    [untrusted] = [call for call in _bound_calls(demo, "rundemo") if call.header_file and not call.source]
    [(status, _, body)] = _run_in_bash(demo, [untrusted], tmp_path)
    assert (status, body["error"]) == (401, "invalid_token")
    ignored = "Ignored the X-Forwarded-Client-Cert header from 127.0.0.1, which is not in TRANSPORT_IDENTITY"
    assert ignored in demo.log.read_text()


def test_printed_bound_tokens_are_refused_without_their_binding(demo: Demo) -> None:
    workload, *_, dpop, _ = _bound_calls(demo, "rundemo")
    path = "/api/whoami/"
    assert workload.header_file
    name, _, value = Path(workload.header_file).read_text().strip().partition(": ")
    header = {name: value, "Authorization": workload.headers["Authorization"]}
    # With the certificate header from the proxy's address it passes; without a certificate it does not.
    assert _request(demo.host, demo.port, "GET", path, headers=header, source=PROXY)[0] == 200
    no_certificate = {"Authorization": workload.headers["Authorization"]}
    assert _request(demo.host, demo.port, "GET", path, headers=no_certificate, source=PROXY)[0] == 401
    token = dpop.lines[0].removeprefix("T=")
    status, body = _request(demo.host, demo.port, "GET", path, headers={"Authorization": f"DPoP {token}"})
    assert (status, json.loads(body)["error"]) == (401, "invalid_dpop_proof")


def test_demo_dpop_proof_signs_a_proof_for_the_request_without_its_query(demo_env: dict[str, str]) -> None:
    result = _manage(demo_env, "demo_dpop_proof", "get", "http://127.0.0.1:9/api/x/?a=1#f", "--token", "tok.en")
    assert result.returncode == 0, result.stderr
    header, claims = (json.loads(_b64decode(part)) for part in result.stdout.split(".")[:2])
    assert (header["typ"], header["alg"], header["jwk"]["kty"]) == ("dpop+jwt", "ES256", "EC")
    assert "d" not in header["jwk"]
    assert (claims["htm"], claims["htu"]) == ("GET", "http://127.0.0.1:9/api/x/")
    assert claims["ath"] == access_token_hash("tok.en")
    assert abs(claims["iat"] - time.time()) < 30
    refused = _manage(demo_env, "demo_dpop_proof", "GET", "/api/x/", "--token", "t")
    assert refused.returncode == 1
    assert "the URL must be absolute" in refused.stderr


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
    [(row_id,)] = _rows(demo.env, "SELECT id FROM django_bearer_guard_trustedissuer WHERE binding IS NULL")
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
