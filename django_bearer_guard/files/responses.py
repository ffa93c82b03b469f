"""What to answer for a file: status, headers and the bytes to send, without ``django.http``.

The view turns a :class:`Plan` into a response. Validators are a strong ``ETag`` built from
size and modification time and ``Last-Modified``; preconditions follow RFC 9110 §13.2.2.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote

from django.utils.http import http_date, parse_http_date_safe

from django_bearer_guard import _clock
from django_bearer_guard.exceptions import RangeNotSatisfiable
from django_bearer_guard.files.ranges import ByteRange, parse_range
from django_bearer_guard.files.storage import FileInfo

__all__ = [
    "BLOCK_SIZE",
    "BoundedReader",
    "Plan",
    "RangeStream",
    "content_disposition",
    "content_type",
    "plan_response",
    "seekable",
]

BLOCK_SIZE = 256 * 1024
_ENTITY_TAG = re.compile(r'(?:W/)?"[^"]*"')
_ENCODED_TYPES = {"gzip": "application/gzip", "bzip2": "application/x-bzip", "xz": "application/x-xz"}
# RFC 8187 attr-char: everything else is percent-encoded in filename*.
_ATTR_CHAR = "!#$&+-.^_`|~"


def content_type(name: str) -> str:
    """The media type guessed from ``name``; ``application/octet-stream`` when unknown."""
    guessed, encoding = mimetypes.guess_type(name, strict=True)
    if encoding:
        # A .tar.gz is gzip bytes; calling it application/x-tar would be wrong without Content-Encoding.
        return _ENCODED_TYPES.get(encoding, "application/octet-stream")
    return guessed or "application/octet-stream"


def content_disposition(name: str, *, attachment: bool = True) -> str:
    """``Content-Disposition`` with an ASCII ``filename`` and an RFC 6266 ``filename*``.

    Header injection: the quoted fallback keeps only printable ASCII without quotes or
    backslashes, and ``filename*`` is percent-encoded, so CR, LF and quotes never appear raw.
    """
    basename = name.rsplit("/", 1)[-1]
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\%' else "_" for ch in basename)
    encoded = quote(basename, safe=_ATTR_CHAR)
    kind = "attachment" if attachment else "inline"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


@dataclass
class Plan:
    """The status, headers and byte range (``None``: no body or the whole file) to answer with."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    range: ByteRange | None = None


def _tags(value: str) -> list[str]:
    return _ENTITY_TAG.findall(value)


def _weak_match(value: str, etag: str | None) -> bool:
    if value.strip() == "*":
        return True
    return etag is not None and etag.removeprefix("W/") in {t.removeprefix("W/") for t in _tags(value)}


def _strong_match(value: str, etag: str | None) -> bool:
    if value.strip() == "*":
        return True
    return etag is not None and etag in _tags(value)


def _precondition(headers: Mapping[str, str], info: FileInfo) -> int | None:
    modified = info.last_modified
    if_match = headers.get("If-Match")
    if if_match is not None:
        if not _strong_match(if_match, info.etag):
            return 412
    else:
        since = parse_http_date_safe(headers.get("If-Unmodified-Since", ""))
        if since is not None and (modified is None or modified > since):
            return 412
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        return 304 if _weak_match(if_none_match, info.etag) else None
    since = parse_http_date_safe(headers.get("If-Modified-Since", ""))
    if since is not None and modified is not None and modified <= since:
        return 304
    return None


def _if_range_holds(value: str, info: FileInfo) -> bool:
    value = value.strip()
    if value.startswith(('"', "W/")):
        # RFC 9110 §13.1.5: strong comparison only; a weak tag never matches.
        return info.etag is not None and value == info.etag
    date = parse_http_date_safe(value)
    # RFC 9110 §13.1.5: a date is a strong validator only when the file is at least one
    # second older than now; otherwise it may hide a change within the same second.
    modified = info.last_modified
    return date is not None and date == modified and modified <= _clock.now() - 1


def plan_response(method: str, headers: Mapping[str, str], info: FileInfo, *, ranges: bool = True) -> Plan:
    """Decide the answer to ``method`` (``GET`` or ``HEAD``) with request ``headers`` for ``info``.

    ``ranges=False`` (a file that can only be read forward) ignores ``Range`` and ``If-Range``
    and answers ``Accept-Ranges: none``.
    """
    validators: dict[str, str] = {"Accept-Ranges": "bytes" if ranges else "none"}
    if info.etag is not None and info.last_modified is not None:
        validators["ETag"] = info.etag
        validators["Last-Modified"] = http_date(info.last_modified)
    status = _precondition(headers, info)
    if status is not None:
        return Plan(status, validators)
    header = headers.get("Range")
    if_range = headers.get("If-Range")
    # RFC 9110 §14.2: Range applies to GET only, and only while If-Range still holds; a server
    # may ignore it, as it does for forward-only files rather than read and discard a prefix.
    stale = if_range is not None and not _if_range_holds(if_range, info)
    if not ranges or method != "GET" or header is None or stale:
        return Plan(200, {**validators, "Content-Length": str(info.size)})
    try:
        byte_range = parse_range(header, info.size)
    except RangeNotSatisfiable:
        return Plan(416, {**validators, "Content-Range": f"bytes */{info.size}"})
    if byte_range is None:
        return Plan(200, {**validators, "Content-Length": str(info.size)})
    partial = {"Content-Range": byte_range.content_range, "Content-Length": str(byte_range.length)}
    return Plan(206, {**validators, **partial}, byte_range)


def seekable(file: IO[Any]) -> bool:
    """True when ``file`` can ``seek`` and ``tell``; a forward-only stream (a socket body) cannot."""
    check = getattr(file, "seekable", None)
    if not callable(check) or not hasattr(file, "seek"):
        return False
    try:
        # Django's File says seekable() for any wrapped object without the method: tell() decides.
        return bool(check()) and isinstance(file.tell(), int)
    except (OSError, ValueError, AttributeError):
        return False


class BoundedReader:
    """A file that reads at most ``length`` bytes from its current position.

    ``fileno()`` passes through, so a server can still ``sendfile`` (bounded by the response's
    ``Content-Length``); readers stop at ``length`` even when the file grows meanwhile, so the
    body never runs past the announced length.
    """

    def __init__(self, file: IO[Any], length: int) -> None:
        self.file = file
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes, never past ``length`` in total."""
        if self.remaining <= 0:
            return b""
        size = self.remaining if size < 0 else min(size, self.remaining)
        block: bytes = self.file.read(size)
        self.remaining -= len(block)
        return block

    def fileno(self) -> int:
        """The descriptor of the underlying file."""
        return self.file.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move the underlying file (``socket.sendfile``'s fallback seeks before reading)."""
        return int(self.file.seek(offset, whence))

    def tell(self) -> int:
        """The position in the underlying file."""
        return int(self.file.tell())

    def seekable(self) -> bool:
        """Whether the underlying file can seek (``FileResponse`` asks before calling ``tell``)."""
        return seekable(self.file)

    def close(self) -> None:
        """Close the underlying file."""
        self.file.close()


class RangeStream:
    """Iterate ``length`` bytes of ``file`` from its current position in blocks; closes the file."""

    def __init__(self, file: IO[Any], length: int, block_size: int = BLOCK_SIZE) -> None:
        self.file = file
        self.remaining = length
        self.block_size = block_size

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.remaining <= 0:
            raise StopIteration
        block: bytes = self.file.read(min(self.block_size, self.remaining))
        if not block:
            # The file shrank under us: stop rather than pad; the client sees a short body.
            self.remaining = 0
            raise StopIteration
        self.remaining -= len(block)
        return block

    def close(self) -> None:
        """Close the file (the server calls this when the response is done or aborted)."""
        self.file.close()
