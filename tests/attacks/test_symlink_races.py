"""Symlinks swapped in while files are opened and served never reveal what lies outside the root."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from django_bearer_guard.files.paths import FileMissing
from django_bearer_guard.files.storage import open_inside
from tests.files.fixtures import Store, auth, bearer, flip_symlinks, server, store
from tests.files.probes import leaked as _leaked
from tests.files.server import raw_get

__all__ = ["auth", "bearer", "server", "store"]  # fixtures


def _swapping_tree(base: Path) -> tuple[Path, threading.Event, threading.Thread]:
    location = base / "store"
    public = location / "public"
    (public / "swapdir").mkdir(parents=True)
    (location / "private").mkdir()
    (location / "private" / "secret.txt").write_text("SECRET")
    (location / "secret.txt").write_text("SECRET")
    (public / "swapdir" / "secret.txt").write_text("benign")
    (public / "swapfile.txt").write_text("benign")
    stop = threading.Event()

    return location, stop, threading.Thread(target=flip_symlinks, args=(public, stop))


def _hammer(location: Path, rounds: int) -> list[bytes]:
    served = []
    for _ in range(rounds):
        for name in ("public/swapdir/secret.txt", "public/swapfile.txt"):
            try:
                file, _info, _real, _resolved = open_inside(str(location), name, "public")
            except FileMissing:
                continue
            with file:
                served.append(file.read())
    return served


def test_open_inside_never_serves_a_swapped_in_symlink(tmp_path: Path) -> None:
    location, stop, flipper = _swapping_tree(tmp_path)
    flipper.start()
    served: list[bytes] = []
    try:
        for _ in range(200):
            try:
                served += _hammer(location, 10)
            except OSError:
                continue  # the 500 below; this test is about leaks only
    finally:
        stop.set()
        flipper.join()
    assert b"SECRET" not in b"".join(served)


def test_open_inside_turns_a_race_into_file_missing(tmp_path: Path) -> None:
    location, stop, flipper = _swapping_tree(tmp_path)
    flipper.start()
    try:
        _hammer(location, 3000)
    finally:
        stop.set()
        flipper.join()


def test_symlink_swaps_during_requests_never_leak(store: Store, server: tuple[str, int], auth: dict[str, str]) -> None:
    public = store.public
    (public / "swapdir").mkdir()
    (public / "swapdir" / "secret.txt").write_text("benign\n")
    store.write("swapfile.txt", b"benign\n")
    stop = threading.Event()

    flipper = threading.Thread(target=flip_symlinks, args=(public, stop))
    flipper.start()
    statuses: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            for target in (b"/files/swapdir/secret.txt", b"/files/swapfile.txt", b"/accel/swapfile.txt"):
                response = raw_get(server, target, auth)
                assert not _leaked(store, response)
                assert not (response.header("X-Accel-Redirect") or "").endswith("/secret.txt")
                statuses[response.status] = statuses.get(response.status, 0) + 1
    finally:
        stop.set()
        flipper.join()
    assert statuses.get(200, 0) > 0
