"""The development issuer must not become a way in: no mint in production, no readable key, loopback only."""

from __future__ import annotations

import contextlib
import os
import socket
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from tests.support import commands
from tests.support.dev_issuer import serving
from tests.support.live import free_port


def test_production_deploy_cannot_mint_a_token(tmp_path: Path) -> None:
    # The test settings are a production project's: DEBUG is off.
    result = commands.run("bearer_guard_dev_issuer", "--mint", "--key-file", str(tmp_path / "key.pem"),
                          settings={"DEBUG": False})
    assert result.returncode == 1
    assert result.stdout == b""
    assert b"DEBUG" in result.stderr
    assert b"Traceback" not in result.stderr
    assert not (tmp_path / "key.pem").exists()


def test_production_deploy_cannot_serve_the_issuer(tmp_path: Path) -> None:
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG"):
        call_command("bearer_guard_dev_issuer", "--port", str(free_port()), "--key-file", str(tmp_path / "k.pem"))
    assert not (tmp_path / "k.pem").exists()


@override_settings(DEBUG=True)
def test_key_file_is_not_readable_by_other_users_even_with_an_open_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        call_command("bearer_guard_dev_issuer", "--mint", "--key-file", str(tmp_path / "key.pem"), stdout=StringIO())
    finally:
        os.umask(previous)
    assert (tmp_path / "key.pem").stat().st_mode & 0o777 == 0o600


@override_settings(DEBUG=True)
def test_key_file_readable_by_other_users_is_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    call_command("bearer_guard_dev_issuer", "--mint", "--key-file", str(path), stdout=StringIO())
    path.chmod(0o644)
    err = StringIO()
    call_command("bearer_guard_dev_issuer", "--mint", "--key-file", str(path), stdout=StringIO(), stderr=err)
    assert f"Warning: {path} is readable by other users; chmod 600 it." in err.getvalue()


def _non_loopback_address() -> str | None:
    candidates = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, contextlib.suppress(OSError):
        # No packet is sent: connecting a UDP socket only picks the interface of the route.
        probe.connect(("192.0.2.1", 9))
        candidates.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        candidates.append(socket.gethostbyname(socket.gethostname()))
    return next((address for address in candidates if not address.startswith("127.")), None)


@override_settings(DEBUG=True)
def test_issuer_is_not_reachable_from_another_machine(tmp_path: Path) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address other than loopback")
    port = free_port()
    with serving("--port", str(port), "--key-file", str(tmp_path / "key.pem")):
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        with pytest.raises(OSError):
            socket.create_connection((address, port), timeout=5).close()
