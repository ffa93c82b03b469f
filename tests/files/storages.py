"""Storages without a local path, for the file view's tests and the benchmark."""

from __future__ import annotations

import datetime as dt
import io
import os
from typing import IO, Any, cast

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage


class MemoryStorage(Storage):
    """Files held in a dict; no ``path()`` and no ``fileno``, like an object store."""

    def __init__(self, files: dict[str, bytes] | None = None, *, modified: bool = True) -> None:
        self.files = dict(files or {})
        self.modified = modified
        self.mtime = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if name not in self.files:
            raise FileNotFoundError(name)
        return ContentFile(self.files[name], name=name)

    def exists(self, name: str) -> bool:
        return name in self.files

    def size(self, name: str) -> int:
        return len(self.files[name])

    def get_modified_time(self, name: str) -> dt.datetime:
        if not self.modified:
            raise NotImplementedError("this storage keeps no times")
        return self.mtime


class _NoFileno(io.RawIOBase):
    def __init__(self, path: str) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed with the wrapper

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._file.readinto(buffer)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no fileno")

    def close(self) -> None:
        self._file.close()
        super().close()


class StreamingFileStorage(FileSystemStorage):
    """Files on disk reached without ``path()`` or ``fileno``: the view must stream them itself."""

    def path(self, name: str) -> str:
        raise NotImplementedError("no local paths")

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        return File(io.BufferedReader(_NoFileno(os.path.join(self.location, name))), name=name)

    def exists(self, name: str) -> bool:
        return os.path.isfile(os.path.join(self.location, name))

    def size(self, name: str) -> int:
        return os.path.getsize(os.path.join(self.location, name))

    def get_modified_time(self, name: str) -> dt.datetime:
        stamp = os.path.getmtime(os.path.join(self.location, name))
        return dt.datetime.fromtimestamp(stamp, tz=dt.timezone.utc)


memory = MemoryStorage()
memory_without_times = MemoryStorage(modified=False)


class _ForwardOnly(io.RawIOBase):
    """A body that can only be read forward, like an HTTP response streamed from an object store."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed with the wrapper

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        return self._file.readinto(buffer)

    def seek(self, offset: int, whence: int = 0) -> int:
        raise io.UnsupportedOperation("forward only")

    def tell(self) -> int:
        raise io.UnsupportedOperation("forward only")

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no fileno")

    def close(self) -> None:
        self._file.close()
        super().close()


class _Unmarked:
    """A forward-only body without ``seekable()``: Django's ``File`` then claims it can seek."""

    def __init__(self, path: str) -> None:
        self._raw = _ForwardOnly(path)
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        return self._raw.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        raise OSError("Illegal seek")

    def tell(self) -> int:
        raise OSError("Illegal seek")

    def close(self) -> None:
        self.closed = True
        self._raw.close()


class ForwardOnlyStorage(Storage):
    """Files on disk served only as forward-only streams (no ``path()``, seek, tell or fileno)."""

    def __init__(self, location: str, *, marked: bool = True) -> None:
        self.location = location
        self.marked = marked
        self.opened: list[Any] = []

    def _full(self, name: str) -> str:
        return os.path.join(self.location, name)

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        stream = _ForwardOnly(self._full(name)) if self.marked else _Unmarked(self._full(name))
        self.opened.append(stream)
        # Django's File wraps any file-like object; its stubs ask for IO, which neither stream subclasses.
        return File(cast("IO[bytes]", stream), name=name)

    def exists(self, name: str) -> bool:
        return os.path.isfile(self._full(name))

    def size(self, name: str) -> int:
        return os.path.getsize(self._full(name))

    def get_modified_time(self, name: str) -> dt.datetime:
        return dt.datetime.fromtimestamp(os.path.getmtime(self._full(name)), tz=dt.timezone.utc)
