from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage

from django_bearer_guard.files.paths import FileMissing
from django_bearer_guard.files.storage import local_location, open_file, open_inside
from tests.files.fixtures import Store, build_store
from tests.files.storages import MemoryStorage


@pytest.fixture
def built(tmp_path: Path) -> Store:
    return build_store(tmp_path)


def test_open_inside_opens_a_regular_file(built: Store) -> None:
    file, info, real, _ = open_inside(str(built.location), "public/hello.txt", "public")
    with file:
        assert file.read() == b"hello world\n"
        assert os.fstat(file.fileno()).st_ino == info.st_ino
    assert real == str((built.public / "hello.txt").resolve())


def test_open_inside_follows_symlinks_that_stay_inside(built: Store) -> None:
    file, _, real, _ = open_inside(str(built.location), "public/link-in.txt", "public")
    with file:
        assert file.read() == b"hello world\n"
    assert real.endswith("/public/hello.txt")
    file, _, _, _ = open_inside(str(built.location), "public/dir-in/deep/file.txt", "public")
    file.close()


@pytest.mark.parametrize(
    "name",
    [
        "public/link-out.txt",
        "public/link-abs.txt",
        "public/dir-out/secret.txt",
        "public/evil-sibling/secret.txt",
        "public/subdir",
        "public/pipe",
        "public/missing.txt",
        "public/hello.txt/x",
    ],
)
def test_open_inside_refuses_what_is_not_a_regular_file_inside(built: Store, name: str) -> None:
    with pytest.raises(FileMissing):
        open_inside(str(built.location), name, "public")


def test_open_inside_refuses_the_root_itself(built: Store) -> None:
    (built.public / "self").symlink_to(".")
    with pytest.raises(FileMissing):
        open_inside(str(built.location), "public/self", "public")


def test_open_inside_refuses_a_missing_root(built: Store) -> None:
    with pytest.raises(FileMissing):
        open_inside(str(built.location), "gone/x.txt", "gone")


def test_open_inside_refuses_a_directory_swapped_for_a_symlink_after_the_check(
    built: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Time-of-check/time-of-use: the directory becomes a link out between realpath and open.
    (built.public / "swap").mkdir()
    (built.public / "swap" / "secret.txt").write_text("inside\n")
    real_realpath = os.path.realpath

    def realpath_then_swap(path: str, *args: Any, **kwargs: Any) -> str:
        resolved = real_realpath(path, *args, **kwargs)
        if path.endswith("secret.txt"):
            os.rename(built.public / "swap", built.public / "swap-old")
            (built.public / "swap").symlink_to(built.location / "private")
        return resolved

    monkeypatch.setattr(os.path, "realpath", realpath_then_swap)
    with pytest.raises(FileMissing):
        open_inside(str(built.location), "public/swap/secret.txt", "public")


def test_open_inside_refuses_a_file_swapped_for_a_symlink_after_the_check(
    built: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_realpath = os.path.realpath

    def realpath_then_swap(path: str, *args: Any, **kwargs: Any) -> str:
        resolved = real_realpath(path, *args, **kwargs)
        if path.endswith("hello.txt"):
            os.remove(built.public / "hello.txt")
            (built.public / "hello.txt").symlink_to(built.location / "secret.txt")
        return resolved

    monkeypatch.setattr(os.path, "realpath", realpath_then_swap)
    with pytest.raises(FileMissing):
        open_inside(str(built.location), "public/hello.txt", "public")


def test_open_file_on_a_filesystem_storage_gives_a_real_descriptor(built: Store) -> None:
    opened = open_file(FileSystemStorage(location=built.location), "public/link-in.txt", "public")
    with opened.file:
        assert opened.file.fileno() >= 0
    assert opened.info.size == 12
    assert opened.offload_name() == "public/hello.txt"
    assert opened.real_path == str((built.public / "hello.txt").resolve())


def test_open_file_on_a_storage_without_paths(built: Store) -> None:
    assert local_location(MemoryStorage()) is None
    opened = open_file(MemoryStorage({"a/b.txt": b"abc"}), "a/b.txt")
    with opened.file:
        assert opened.file.read() == b"abc"
    assert opened.info.size == 3
    assert opened.info.mtime_ns == 1767323045 * 1_000_000_000
    assert opened.real_path is None
    assert opened.offload_name() == "a/b.txt"


def test_open_file_without_modification_times_has_no_time(built: Store) -> None:
    opened = open_file(MemoryStorage({"a": b"x"}, modified=False), "a")
    opened.file.close()
    assert opened.info.mtime_ns is None


def test_open_file_missing_in_a_storage_without_paths() -> None:
    with pytest.raises(FileMissing):
        open_file(MemoryStorage(), "nothing")


class _VanishingStorage(MemoryStorage):
    """Says a file exists, then fails to open it (deleted in between)."""

    def exists(self, name: str) -> bool:
        return True

    def size(self, name: str) -> int:
        return 3


def test_open_file_turns_storage_errors_into_missing() -> None:
    with pytest.raises(FileMissing):
        open_file(_VanishingStorage(), "gone.txt")


def test_local_location_falls_back_to_the_location_of_a_filesystem_storage_hiding_path(tmp_path: Path) -> None:
    from django.core.files.storage import FileSystemStorage, InMemoryStorage

    from django_bearer_guard.files.storage import local_location

    class Hidden(FileSystemStorage):
        def path(self, name: str) -> str:
            raise NotImplementedError

    assert local_location(Hidden(location=tmp_path)) == str(tmp_path)
    assert local_location(InMemoryStorage()) is None
