from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_bearer_guard.files.ranges import ByteRange, RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=2-5", 10, (2, 5)),
        ("bytes=2-", 10, (2, 9)),
        ("bytes=5-100", 10, (5, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("Bytes = 1-2", 10, (1, 2)),
        ("bytes= 1-2 ", 10, (1, 2)),
        ("bytes=9-9", 10, (9, 9)),
    ],
)
def test_parse_range_reads_one_range(header: str, size: int, expected: tuple[int, int]) -> None:
    byte_range = parse_range(header, size)
    assert byte_range is not None
    assert (byte_range.start, byte_range.end) == expected
    assert byte_range.length == expected[1] - expected[0] + 1


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,3-4",  # several ranges: whole body
        "bytes=0-,0-,0-",
        "items=0-1",
        "bytes",
        "bytes=",
        "bytes=a-b",
        "bytes=5-2",  # last before first: invalid, ignored
        "bytes=--1",
        "bytes=1-2-3",
        "bytes=" + "9" * 19 + "-",
        "bytes=\u0661-\u0662",  # non-ASCII digits
    ],
)
def test_parse_range_ignores_what_it_does_not_serve(header: str) -> None:
    assert parse_range(header, 10) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=10-", 10), ("bytes=10-20", 10), ("bytes=-0", 10), ("bytes=0-", 0), ("bytes=-5", 0)],
)
def test_parse_range_refuses_ranges_beyond_the_end(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


def test_byte_range_formats_content_range() -> None:
    assert ByteRange(2, 5, 10).content_range == "bytes 2-5/10"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"bytes=\d{0,3}-\d{0,3}", fullmatch=True), st.integers(0, 2000))
def test_parse_range_stays_inside_the_file(header: str, size: int) -> None:
    try:
        byte_range = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if byte_range is not None:
        assert 0 <= byte_range.start <= byte_range.end < size


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.integers(min_value=0, max_value=10_000))
def test_parse_range_raises_nothing_but_range_not_satisfiable(header: str, size: int) -> None:
    try:
        byte_range = parse_range(header, size)
    except Exception as exc:  # only RangeNotSatisfiable may escape
        assert type(exc).__name__ == "RangeNotSatisfiable"
        return
    if byte_range is not None:
        assert 0 <= byte_range.start <= byte_range.end < size
