"""Fuzz path containment and per-caller roots (``files/paths.py``).

Input: one mode byte, then

* mode 0: a request path, contained in the storage's own root;
* mode 1: ``root 0xff path``;
* mode 2: ``root template 0xff claims JSON 0xff workload 0xff iss``, rendered by
  ``render_root`` after ``root_fields`` accepted the template.

Text is UTF-8 with undecodable bytes kept as lone surrogates, so those reach the policy too.
Refusals: ``PathRefused``; ``ValueError`` from ``root_fields`` and ``RootUnavailable`` from
``render_root``. Properties: an accepted name is relative, in NFC, made of segments that pass
``check_segment``, starts with the root's segments and, joined to any directory, never resolves
outside it, even after NFKC folding; a rendered root is relative, in NFC and climbs nowhere.
"""

from __future__ import annotations

import posixpath
import unicodedata

from fuzz._driver import configure_django, fuzz, library_imports, split

configure_django()
with library_imports(__name__):
    from django_bearer_guard._json import JSONError, loads_object
    from django_bearer_guard.files.paths import (
        PathRefused,
        RootUnavailable,
        check_segment,
        contain,
        render_root,
        root_fields,
    )

_BASE = "/srv/storage"


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _check_contained(name: str, root: str) -> None:
    assert isinstance(name, str) and name and not name.startswith("/")
    assert unicodedata.normalize("NFC", name) == name
    segments = name.split("/")
    assert all(check_segment(segment) is None for segment in segments), repr(name)
    root_segments = unicodedata.normalize("NFC", root).split("/") if root else []
    assert segments[: len(root_segments)] == root_segments, (root, name)
    # Containment by components: joined to the storage directory, the name stays below it.
    joined = posixpath.normpath(posixpath.join(_BASE, name))
    assert posixpath.commonpath([_BASE, joined]) == _BASE and joined != _BASE, (name, joined)
    assert posixpath.normpath(name) == name, name
    # A layer that folds compatibility forms (NFKC) must not find a separator or a climb either.
    folded = unicodedata.normalize("NFKC", name)
    assert folded.count("/") == name.count("/") and "\\" not in folded and ":" not in folded, repr(name)
    assert not {".", ".."}.intersection(folded.split("/")), repr(name)


def _check_root(template: str, claims_json: bytes, workload: str, issuer: str) -> None:
    try:
        root_fields(template)
        claims = loads_object(claims_json) if claims_json else {}
    except (ValueError, JSONError):
        return
    try:
        root = render_root(template, claims, workload or None, issuer or None)
    except RootUnavailable:
        return
    assert unicodedata.normalize("NFC", root) == root
    assert not root.startswith("/") and "\\" not in root
    assert not {"", ".", ".."}.intersection(root.split("/")) or root == "", repr(root)


def test_one_input(data: bytes) -> None:
    """Contain one path (or render one root) and check the containment properties."""
    if not data:
        return
    mode, rest = data[0] % 3, data[1:]
    if mode == 2:
        template, claims_json, workload, issuer = split(rest, 4)
        _check_root(_text(template), claims_json, _text(workload), _text(issuer))
        return
    root, path = split(rest, 2) if mode == 1 else (b"", rest)
    try:
        name = contain(_text(path), _text(root))
    except PathRefused:
        return
    _check_contained(name, _text(root))


if __name__ == "__main__":
    fuzz(test_one_input)
