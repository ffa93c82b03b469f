"""Path containment: a requested path becomes a safe storage name inside a root, or is refused.

The path arrives decoded once (by Django's URL resolver) and is never decoded again. A name is
accepted only when every segment follows the character policy below; containment is then
checked by path components, never by string prefix, and again on the real filesystem path for
storages that have one (see :func:`django_bearer_guard.files.storage.open_inside`).

Character policy (after Unicode NFC normalisation): ASCII letters and digits, the space and
``!$&'()+,-.;=@[]^_`{}~``; beyond ASCII, letters, marks, numbers, punctuation and symbols,
except characters that look like or fold to a separator, a dot or a colon. Refused: controls
and format characters (NUL, CR, LF, bidirectional overrides, zero-width), other white space,
``\\ " # % * : < > ? |``, empty, ``.`` and ``..`` segments, a segment with leading or trailing
white space or a trailing dot, a segment over 255 UTF-8 bytes, and a path over 1024 bytes or
32 segments.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

# The file errors live in the error tree; importing them from here keeps working.
from django_bearer_guard.exceptions import FileMissing, PathRefused, RootUnavailable

__all__ = [
    "MAX_PATH_BYTES",
    "MAX_SEGMENTS",
    "MAX_SEGMENT_BYTES",
    "FileMissing",
    "PathRefused",
    "RootUnavailable",
    "check_policy",
    "check_segment",
    "contain",
    "issuer_slug",
    "render_root",
    "root_fields",
]

MAX_PATH_BYTES = 1024
MAX_SEGMENT_BYTES = 255
MAX_SEGMENTS = 32

_ASCII_ALLOWED = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !$&'()+,-.;=@[]^_`{}~"
)
# Look-alike separators that no compatibility mapping folds to "/" or "\".
_LOOKALIKES = frozenset(
    "\u2044\u2215\u2216\u2571\u2572\u27cb\u27cd\u29f5\u29f8\u29f9\u0337\u0338\u20eb\u1735\u3033"
)
_FOLDED_FORBIDDEN = frozenset("/\\.:")
_ALLOWED_CATEGORIES = ("L", "M", "N", "P", "S")


def _check_char(ch: str) -> str | None:
    if ch.isascii():
        return None if ch in _ASCII_ALLOWED else f"character {ch!r} is not allowed"
    # Look-alike separators (U+2215, U+FF0F, U+FF3C …) would become real ones in some layer.
    if ch in _LOOKALIKES or _FOLDED_FORBIDDEN.intersection(unicodedata.normalize("NFKC", ch)):
        return f"look-alike character {ch!r} is not allowed"
    # Controls, format (bidi overrides, zero-width), private use, unassigned, odd spaces.
    if not unicodedata.category(ch).startswith(_ALLOWED_CATEGORIES):
        return f"character {ch!r} is not allowed"
    return None


def check_segment(segment: str) -> str | None:
    """Why ``segment`` is not one safe path segment, or ``None`` when it is."""
    if segment in ("", ".", ".."):
        return f"segment {segment!r} is not allowed"
    if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
        return "segment is too long"
    # Windows and some storages drop trailing dots and spaces: "a.txt." would alias "a.txt".
    if segment != segment.strip() or segment.endswith("."):
        return f"segment {segment!r} has leading or trailing white space or dots"
    for ch in segment:
        problem = _check_char(ch)
        if problem:
            return problem
    return None


def _parts(path: str) -> tuple[str, ...]:
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise PathRefused("path is too long")  # before normalising: it costs in proportion
    # One normal form, so two spellings of a name cannot pass different checks.
    path = unicodedata.normalize("NFC", path)
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        # NFC can lengthen a path (U+0958 becomes two characters): the limit holds for what is served.
        raise PathRefused("path is too long")
    # Absolute and UNC paths; "\" and ":" (drive letters) are refused per character below.
    if path.startswith("/"):
        raise PathRefused(f"absolute path {path!r}")
    parts = tuple(path.split("/"))
    if len(parts) > MAX_SEGMENTS:
        raise PathRefused("path has too many segments")
    for part in parts:
        problem = check_segment(part)
        if problem:
            raise PathRefused(problem)
    return parts


def contain(path: str, root: str = "") -> str:
    """The storage name for ``path`` inside ``root``, or :class:`PathRefused`.

    ``path`` is the decoded request path; ``root`` a storage name (``""``: the storage's own
    root). The result is NFC-normalised and made only of segments that pass the policy.
    """
    if not isinstance(path, str):
        raise PathRefused(f"path is a {type(path).__name__}, not a string")
    root_parts = _parts(root) if root else ()
    parts = _parts(path)
    # Containment by components, never by string prefix: root "data" never admits "data-evil/x";
    # every component was checked above, so none can climb out or restart from "/".
    return str(PurePosixPath(*root_parts, *parts))


def check_policy(name: str, *, allow_hidden: bool = False, extensions: frozenset[str] | None = None) -> None:
    """Raise :class:`FileMissing` when a view's policy does not serve ``name``.

    Dot-names (``.env``, ``.git/config``) are refused unless ``allow_hidden``; with
    ``extensions`` (lower-case, with the dot) only those suffixes are served.
    """
    segments = name.split("/")
    # Hidden files: .env, .git/config, .htpasswd.
    if not allow_hidden and any(segment.startswith(".") for segment in segments):
        raise FileMissing(f"hidden name {name!r}")
    suffix = PurePosixPath(segments[-1]).suffix.lower()
    if extensions is not None and suffix not in extensions:
        raise FileMissing(f"extension {suffix!r} is not served")


_FIELD = re.compile(r"\{([^{}]*)\}")
_FIELD_NAME = re.compile(r"workload|issuer|claims(?:\.[A-Za-z0-9_:-]+)+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^/@?#]*@)?([^?#]*)")
_SLUG_READABLE = 48
_SLUG_DIGEST = 16


@lru_cache(maxsize=256)
def issuer_slug(iss: str) -> str:
    """The folder name that ``{issuer}`` becomes in a per-caller root, for the exact ``iss``.

    A readable part, then ``-`` and the first 16 hexadecimal digits of the SHA-256 of ``iss``
    (UTF-8): ``issuer_slug("https://idp.example.com/")`` is
    ``"idp-example-com-" + sha256(b"https://idp.example.com/").hexdigest()[:16]``. The readable
    part is the issuer's host, port and path (the whole string when it does not start with a
    scheme and ``://``), with ASCII letters lower-cased, every run of other characters replaced by ``-``,
    cut to 48 characters and stripped of ``-`` at both ends; when nothing is left the slug is
    the digest alone. Only ``a-z``, ``0-9`` and ``-`` appear, never first a dot or a dash.
    """
    url = _URL.match(iss)
    readable = url.group(1) if url else iss
    # Only ASCII is lower-cased: Unicode case mappings change between versions, slugs must not.
    readable = "".join(ch.lower() if ch.isascii() else "-" for ch in readable)
    readable = _NOT_SLUG.sub("-", readable).strip("-")[:_SLUG_READABLE].rstrip("-")
    digest = hashlib.sha256(iss.encode("utf-8", "surrogatepass")).hexdigest()[:_SLUG_DIGEST]
    return f"{readable}-{digest}" if readable else digest


def root_fields(template: str) -> list[str]:
    """The placeholders of a root template; :class:`ValueError` for a template that is not valid.

    Placeholders are ``{issuer}`` (see :func:`issuer_slug`), ``{workload}`` and
    ``{claims.<name>}`` (dots reach into nested claims). The literal text must be NFC.
    """
    fields = _FIELD.findall(template)
    for field in fields:
        if not _FIELD_NAME.fullmatch(field):
            raise ValueError(f"unknown placeholder {{{field}}} in root {template!r}")
    literal = _FIELD.sub("x", template)
    if "{" in literal or "}" in literal:
        raise ValueError(f"unbalanced braces in root {template!r}")
    if unicodedata.normalize("NFC", template) != template:
        raise ValueError(f"root {template!r} is not in Unicode NFC")
    if literal:
        try:
            _parts(literal)
        except PathRefused as exc:
            raise ValueError(f"root {template!r}: {exc.reason}") from None
    return fields


def _field_value(field: str, claims: Mapping[str, Any], workload: str | None, issuer: str | None) -> object:
    if field == "workload":
        return workload
    if field == "issuer":
        return None if issuer is None else issuer_slug(issuer)
    value: object = claims
    for key in field.split(".")[1:]:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _stable(text: str) -> bool:
    # One identity, one spelling: "\u212aate" (KELVIN SIGN) would become "Kate" under NFC, and
    # "\uff4bate" would become "kate" in any layer that folds compatibility forms (NFKC,
    # Windows best-fit code pages).
    return unicodedata.normalize("NFC", text) == text and unicodedata.normalize("NFKC", text) == text


def render_root(
    template: str, claims: Mapping[str, Any], workload: str | None, issuer: str | None = None
) -> str:
    """``template`` with the caller's values, each checked to be one safe, visible segment.

    ``issuer`` is the token's exact ``iss``; ``{issuer}`` becomes its :func:`issuer_slug`.
    Raises :class:`RootUnavailable` when a value is missing, not a string or integer, not a
    safe segment (``..``, ``a/b``, ``.hidden``), or changed by Unicode NFC or NFKC
    normalisation: the caller then reaches nothing.
    """

    def substitute(match: re.Match[str]) -> str:
        value = _field_value(match.group(1), claims, workload, issuer)
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise RootUnavailable(f"{{{match.group(1)}}} is {type(value).__name__}, not a string")
        text = str(value)
        # A claim in another normal form would reach the folder of the caller it normalises to.
        if not _stable(text):
            raise RootUnavailable(f"{{{match.group(1)}}} = {text!r} is not in normal form")
        # A claim of "..", "a/b" or ".git" would move the caller's root elsewhere.
        problem = check_segment(text) or ("hidden segment" if text.startswith(".") else None)
        if problem:
            raise RootUnavailable(f"{{{match.group(1)}}} = {text!r}: {problem}")
        return text

    root = _FIELD.sub(substitute, template)
    # Values that are stable alone can still compose with their neighbours ("e" + "\u0301").
    if unicodedata.normalize("NFC", root) != root:
        raise RootUnavailable(f"root {root!r} is not in normal form")
    return root
