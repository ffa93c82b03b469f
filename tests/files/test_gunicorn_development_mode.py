"""The file view under gunicorn with PYTHONDEVMODE=1 and ResourceWarning as an error.

Traversal refused, existence hidden, sendfile ranges exact, every file closed, even after
aborted downloads.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django_bearer_guard.testing import LocalIssuer
from tests.files.fixtures import build_store
from tests.files.probes import EXTRA_TARGETS, PROBES
from tests.files.probes import fingerprint as _fingerprint
from tests.files.probes import leaked as _leaked
from tests.files.probes import start_and_abort as _start_and_abort
from tests.files.probes import wait_closed as _wait_closed
from tests.files.server import raw_get
from tests.support.live import free_port

ROOT = Path(__file__).resolve().parents[2]


def _gunicorn(location: Path, guard: dict[str, Any], log: Path) -> tuple[subprocess.Popen[bytes], tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.files.server_settings",
        "BG_FILES_LOCATION": str(location),
        "BG_GUARD": json.dumps(guard),
        "PYTHONPATH": str(ROOT),
        "PYTHONDEVMODE": "1",
        "PYTHONWARNINGS": "error::ResourceWarning",
    }
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    command += ["--log-level", "warning", "django.core.wsgi:get_wsgi_application()"]
    with open(log, "wb") as err:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 20
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            time.sleep(0.05)
            continue
        if children.exists() and children.read_text().split():
            return process, ("127.0.0.1", port)
    process.terminate()
    process.wait(timeout=20)
    raise RuntimeError("gunicorn did not start")


def test_gunicorn_in_development_mode_refuses_attacks_and_closes_every_file(
    tmp_path: Path, make_idp: Callable[..., LocalIssuer]
) -> None:
    store = build_store(tmp_path)
    big = store.write("big.bin", bytes(range(256)) * 65536)
    idp: LocalIssuer = make_idp()
    token = idp.mint(scope="files:read", lifetime=600)
    guard = {"ALLOW_HTTP_LOOPBACK": True, "ISSUERS": [idp.issuer_settings(jwks=idp.jwks())]}
    log = tmp_path / "gunicorn.log"
    process, address = _gunicorn(store.location, guard, log)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        worker = int(Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()[0])
        for target in [*EXTRA_TARGETS[:40], b"../secret.txt", b"%2e%2e%2fsecret.txt", b"link-out.txt"]:
            response = raw_get(address, b"/files/" + target, auth)
            assert response.status in (400, 404), (target, response.status)
            assert not _leaked(store, response)
        unauthenticated = {_fingerprint(raw_get(address, b"/files/" + probe, {}))[:2] for probe in PROBES}
        assert len(unauthenticated) == 1
        # sendfile honours the offset and the announced length.
        whole = bytes(range(256)) * 65536
        ranges = (("bytes=100-", whole[100:]), ("bytes=100-199", whole[100:200]), ("bytes=-7", whole[-7:]))
        for value, expected in ranges:
            for route in (b"/files/big.bin", b"/stream/big.bin"):
                response = raw_get(address, route, {**auth, "Range": value})
                assert (response.status, response.body) == (206, expected), (route, value)
        for path in ("/files/big.bin", "/stream/big.bin"):
            assert _start_and_abort(address, path, token).startswith(b"HTTP/1.1 200")
            assert _start_and_abort(address, path, token, "Range: bytes=1-\r\n").startswith(b"HTTP/1.1 206")
        assert _wait_closed(big, worker) == []
    finally:
        process.terminate()
        process.wait(timeout=20)
    errors = log.read_text(errors="replace")
    # gunicorn itself leaves its listening socket to the garbage collector at shutdown.
    listener = f"laddr={address!r}>"
    warnings = [line for line in errors.splitlines() if "ResourceWarning" in line and not line.endswith(listener)]
    assert warnings == []
    assert "Traceback" not in errors
