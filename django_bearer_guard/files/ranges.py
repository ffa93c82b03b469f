"""Byte ranges (RFC 9110 §14): one range is served as 206, several get the full body.

Serving several ranges as ``multipart/byteranges`` costs memory and invites amplification
(``bytes=0-,0-,0-…``); RFC 9110 §14.2 lets a server ignore ``Range``, so a request with more
than one range, an unknown unit or bad syntax is answered with the whole representation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The error lives in the error tree; importing it from here keeps working.
from django_bearer_guard.exceptions import RangeNotSatisfiable

__all__ = ["ByteRange", "RangeNotSatisfiable", "parse_range"]

# RFC 9110 §14.1.1 int-range / suffix-range; at most 18 digits so a value never gets huge.
_SPEC = re.compile(r"(?:([0-9]{1,18})-([0-9]{0,18})|-([0-9]{1,18}))")


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end`` inclusive of a representation of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        """How many bytes the range holds."""
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        """The ``Content-Range`` value (RFC 9110 §14.4)."""
        return f"bytes {self.start}-{self.end}/{self.size}"


def parse_range(header: str, size: int) -> ByteRange | None:
    """The single range ``header`` asks for, ``None`` to serve everything.

    Raises :class:`RangeNotSatisfiable` when the one range lies beyond ``size``.
    """
    unit, sep, ranges = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    specs = [spec.strip() for spec in ranges.split(",")]
    # Several ranges: full 200 body (documented), never multipart.
    if len(specs) != 1:
        return None
    match = _SPEC.fullmatch(specs[0])
    if match is None:
        return None
    first, last, suffix = match.groups()
    if suffix is not None:
        length = int(suffix)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return ByteRange(max(size - length, 0), size - 1, size)
    start = int(first)
    # RFC 9110 §14.1.1: last-pos below first-pos makes the range invalid, so it is ignored.
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(header)
    return ByteRange(start, min(int(last), size - 1) if last else size - 1, size)
