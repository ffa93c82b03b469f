"""What the commands print about tokens and issuers reaches a terminal: nothing in it may steer it."""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: str) -> str:
    """``text`` with control characters (ANSI and OSC sequences) and lone surrogates escaped."""
    return "".join(c if c.isprintable() or c == "\n" else c.encode("unicode_escape").decode("ascii") for c in text)
