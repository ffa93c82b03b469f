"""Open a contained name from any Django storage, re-checking containment on the real path.

Filesystem storages (those whose ``path()`` works) are opened by :func:`open_inside`, which
gives a real file descriptor (so servers can use ``sendfile``); other storages (S3 and the
like) through ``exists``/``size``/``get_modified_time``/``open``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any, BinaryIO

from django.core.files.storage import FileSystemStorage, Storage

from django_bearer_guard.exceptions import FileMissing

__all__ = ["FileInfo", "OpenedFile", "local_location", "open_file", "open_inside"]


@dataclass(frozen=True)
class FileInfo:
    """Size and modification time (nanoseconds since the epoch, or ``None`` when unknown)."""

    size: int
    mtime_ns: int | None

    @property
    def etag(self) -> str | None:
        """A strong entity tag from size and modification time."""
        if self.mtime_ns is None:
            return None
        return f'"{self.size:x}-{self.mtime_ns:x}"'

    @property
    def last_modified(self) -> int | None:
        """Whole seconds since the epoch, as ``Last-Modified`` carries them."""
        return None if self.mtime_ns is None else self.mtime_ns // 1_000_000_000


@dataclass
class OpenedFile:
    """An open file with its size and time; ``real_path`` is set for filesystem storages."""

    file: IO[Any]
    info: FileInfo
    name: str
    real_path: str | None = None
    location: str | None = None
    resolved_name: str | None = None
    """For filesystem storages: the name relative to the root after following symlinks."""

    def offload_name(self) -> str:
        """The name a front server finds the file under: the resolved name for filesystem storages."""
        if self.real_path is None or self.location is None:
            return self.name
        return PurePosixPath(os.path.relpath(self.real_path, os.path.realpath(self.location))).as_posix()


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or os.path.commonpath([real, real_root]) == real_root


def open_inside(location: str, name: str, root: str = "") -> tuple[BinaryIO, os.stat_result, str, str]:
    """Open ``name`` (from :func:`contain`) under the local directory ``location``.

    Returns the file, its ``fstat``, its real path and its name relative to the real root.
    Symlinks that resolve inside ``location/root`` are followed; any other is refused, and the
    resolved path is opened one component at a time with ``O_NOFOLLOW`` from a descriptor on
    the real root, so a symlink swapped in after the check cannot lead outside. Raises
    :class:`FileMissing` for anything that is not a regular file inside the root.
    """
    try:
        real_root = os.path.realpath(os.path.join(location, root))
        real = os.path.realpath(os.path.join(location, name))
    except OSError as exc:
        # realpath is not atomic: a symlink swapped while it reads gives ENOENT or EINVAL.
        raise FileMissing(f"{name!r} changed while being resolved: {exc.strerror}") from None
    # Symlinks out of the root, and a root that is a prefix of a sibling (/data vs /data-evil).
    if real == real_root or not _inside(real, real_root):
        raise FileMissing(f"{name!r} resolves outside the root")
    resolved = PurePosixPath(os.path.relpath(real, real_root))
    components = resolved.parts
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(real_root, flags | os.O_DIRECTORY)
    except OSError as exc:
        raise FileMissing(f"root {real_root!r}: {exc.strerror}") from None
    try:
        for component in components[:-1]:
            # A directory swapped for a symlink between the check and here fails with ELOOP.
            next_fd = os.open(component, flags | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        # O_NONBLOCK: a FIFO planted in the root must not hang the worker on open.
        file_fd = os.open(components[-1], flags | os.O_NONBLOCK, dir_fd=fd)
    except OSError as exc:
        raise FileMissing(f"{name!r}: {exc.strerror}") from None
    finally:
        os.close(fd)
    info = os.fstat(file_fd)
    # Directories, devices, FIFOs and sockets are never served.
    if not stat.S_ISREG(info.st_mode):
        os.close(file_fd)
        raise FileMissing(f"{name!r} is not a regular file")
    os.set_blocking(file_fd, True)
    return os.fdopen(file_fd, "rb"), info, real, resolved.as_posix()


def local_location(storage: Storage) -> str | None:
    """The directory of a ``FileSystemStorage`` (or subclass); ``None`` for any other storage.

    Only a filesystem storage's names are files on this disk: ``InMemoryStorage`` answers
    ``path()`` too, for files that live in memory, so ``path()`` alone decides nothing.
    """
    if not isinstance(storage, FileSystemStorage):
        return None
    # A subclass that hides path() still keeps its files on disk: contain them too.
    return os.fspath(storage.location)


def _open_remote(storage: Storage, name: str) -> OpenedFile:
    try:
        if not storage.exists(name):
            raise FileMissing(f"{name!r} does not exist")
        size = storage.size(name)
        file = storage.open(name, "rb")
    except OSError as exc:
        raise FileMissing(f"{name!r}: {exc}") from None
    try:
        modified = storage.get_modified_time(name)
    except (NotImplementedError, OSError):
        mtime_ns = None
    else:
        mtime_ns = round(modified.timestamp() * 1_000_000) * 1000
    return OpenedFile(file, FileInfo(size, mtime_ns), name)


def open_file(storage: Storage, name: str, root: str = "") -> OpenedFile:
    """Open ``name`` (from :func:`~django_bearer_guard.files.paths.contain`) in ``storage``.

    Raises :class:`~django_bearer_guard.exceptions.FileMissing` for anything not servable.
    """
    location = local_location(storage)
    if location is None:
        return _open_remote(storage, name)
    file, info, real, resolved = open_inside(location, name, root)
    return OpenedFile(file, FileInfo(info.st_size, info.st_mtime_ns), name, real, location, resolved)
