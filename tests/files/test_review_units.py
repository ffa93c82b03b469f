"""Adversarial unit checks of the file view's core (containment on disk, ranges, headers)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_bearer_guard.files.paths import FileMissing, PathRefused, RootUnavailable, contain, render_root
from django_bearer_guard.files.ranges import parse_range
from django_bearer_guard.files.responses import content_disposition
from django_bearer_guard.files.storage import open_inside
from tests.files.fixtures import flip_symlinks


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


def test_open_inside_never_serves_a_swapped_in_symlink(tmp_path):
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


def test_open_inside_turns_a_race_into_file_missing(tmp_path):
    location, stop, flipper = _swapping_tree(tmp_path)
    flipper.start()
    try:
        _hammer(location, 3000)
    finally:
        stop.set()
        flipper.join()


@pytest.mark.parametrize("claim", ["..", "a/b", "", ".x", "x" * 256, "a\x00", "\u2025", "a\\b", "C:"])
def test_render_root_refuses_claims_that_move_the_root(claim):
    with pytest.raises(RootUnavailable):
        render_root("tenants/{claims.tenant}", {"tenant": claim}, None)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=".a/", max_size=3), st.text(alphabet=".a/", max_size=3))
def test_render_root_two_placeholders_in_one_segment_cannot_form_a_parent(first, second):
    try:
        root = render_root("t/{claims.a}{claims.b}", {"a": first, "b": second}, None)
    except RootUnavailable:
        return
    assert contain("f.txt", root).split("/")[1] not in ("", ".", "..")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("./\\%2e\u2025\uff0e\u2215:ab \u0301\x00"), max_size=12))
def test_render_root_never_yields_a_root_outside_its_folder(value):
    try:
        root = render_root("tenants/{claims.t}", {"t": value}, None)
        name = contain("f.txt", root)
    except (RootUnavailable, PathRefused):
        return
    parts = name.split("/")
    assert parts[0] == "tenants" and len(parts) == 3 and parts[1] not in ("", ".", "..")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.integers(min_value=0, max_value=10_000))
def test_parse_range_stays_inside_the_file(header, size):
    try:
        byte_range = parse_range(header, size)
    except Exception as exc:  # only RangeNotSatisfiable may escape
        assert type(exc).__name__ == "RangeNotSatisfiable"
        return
    if byte_range is not None:
        assert 0 <= byte_range.start <= byte_range.end < size


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=60))
def test_content_disposition_never_carries_raw_controls_or_quotes(name):
    value = content_disposition(name)
    assert value.isascii()
    assert not any(ord(ch) < 0x20 or ch == "\x7f" for ch in value)
    fallback = value.split('filename="', 1)[1].split('"; filename*=', 1)[0]
    assert '"' not in fallback and "\\" not in fallback
