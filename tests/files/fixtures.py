"""Fixtures shared by the file view tests (tests/files, tests/test_views.py, tests/attacks) and the store they serve."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from django_bearer_guard.testing import LocalIssuer
from tests.files.server import running_server

AWKWARD = {
    "a..b.txt": b"dots inside a name\n",
    "with space.txt": b"a space\n",
    "\u00fcn\u00efc\u00f6d\u00e9.txt": b"unicode name\n",
    "\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb.txt": b"japanese folder\n",
    "a~b+c[1](2)'q'.txt": b"punctuation\n",
    "nested/deep/file.txt": b"deep\n",
}


def flip_symlinks(public: Path, stop: Any) -> None:
    """Swap ``swapdir`` and ``swapfile.txt`` for symlinks out of the root and back until ``stop``."""
    while not stop.is_set():
        os.rename(public / "swapdir", public / "swapdir.real")
        os.symlink("../private", public / "swapdir")
        os.rename(public / "swapfile.txt", public / "swapfile.real")
        os.symlink("../secret.txt", public / "swapfile.txt")
        os.unlink(public / "swapdir")
        os.rename(public / "swapdir.real", public / "swapdir")
        os.unlink(public / "swapfile.txt")
        os.rename(public / "swapfile.real", public / "swapfile.txt")


@dataclass
class Store:
    location: Path
    public: Path
    marker: str
    secrets: list[Path]

    def write(self, name: str, data: bytes) -> Path:
        target = self.public / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target


def build_store(base: Path) -> Store:
    """A storage directory with a "public" root, secrets around it and links out of it."""
    marker = f"SECRET-{uuid.uuid4().hex}"
    location = base / "store"
    public = location / "public"
    public.mkdir(parents=True)
    secrets = [
        base / "outside.txt",
        location / "secret.txt",
        location / "public-evil" / "secret.txt",
        location / "private" / "secret.txt",
        location / "tenants" / "other" / "secret.txt",
    ]
    for secret in secrets:
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.write_text(f"{marker} {secret.name}\n")
    store = Store(location, public, marker, secrets)
    store.write("hello.txt", b"hello world\n")
    store.write("data.bin", bytes(range(256)) * 4)
    store.write("empty.txt", b"")
    store.write("doc.pdf", b"%PDF-1.7 fake\n")
    store.write("page.html", b"<script>alert(1)</script>")
    store.write(".env", b"hidden\n")
    store.write(".git/config", b"hidden config\n")
    for name, data in AWKWARD.items():
        store.write(name, data)
    (public / "subdir").mkdir()
    (public / "link-out.txt").symlink_to("../secret.txt")
    (public / "link-abs.txt").symlink_to(base / "outside.txt")
    (public / "dir-out").symlink_to("../private")
    (public / "evil-sibling").symlink_to("../public-evil")
    (public / "link-in.txt").symlink_to("hello.txt")
    (public / "dir-in").symlink_to("nested")
    os.mkfifo(public / "pipe")
    (location / "tenants" / "acme").mkdir(parents=True)
    (location / "tenants" / "acme" / "report.txt").write_bytes(b"acme report\n")
    (location / "workloads" / "svc-a").mkdir(parents=True)
    (location / "workloads" / "svc-a" / "a.txt").write_bytes(b"svc-a file\n")
    return store


def storages_setting(location: Path) -> dict[str, Any]:
    return {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "protected": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }


@pytest.fixture
def store(tmp_path: Path, settings: Any) -> Store:
    built = build_store(tmp_path)
    settings.STORAGES = storages_setting(built.location)
    settings.ROOT_URLCONF = "tests.files_urls"
    return built


@pytest.fixture
def bearer(idp: LocalIssuer, guard: Callable[..., None]) -> Callable[..., dict[str, str]]:
    """Request headers with a token carrying ``files:read`` (override any claim)."""

    def headers(**claims: Any) -> dict[str, str]:
        claims.setdefault("scope", "files:read")
        return {"HTTP_AUTHORIZATION": f"Bearer {idp.mint(**claims)}"}

    return headers


@pytest.fixture
def server(store: Store) -> Iterator[tuple[str, int]]:
    """The development server on 127.0.0.1 serving the file view test URLs over ``store``."""
    with running_server() as address:
        yield address


@pytest.fixture
def auth(bearer: Callable[..., dict[str, str]]) -> dict[str, str]:
    """Raw request headers with a ``files:read`` token, for :func:`tests.files.server.raw_get`."""
    return {"Authorization": bearer()["HTTP_AUTHORIZATION"]}
