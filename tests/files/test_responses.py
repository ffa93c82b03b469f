from __future__ import annotations

import io
from pathlib import Path
from typing import IO, cast

import pytest
from django.utils.http import http_date
from hypothesis import given, settings
from hypothesis import strategies as st

from django_bearer_guard.files.responses import (
    RangeStream,
    content_disposition,
    content_type,
    plan_response,
)
from django_bearer_guard.files.storage import FileInfo

MTIME = 1_700_000_000
INFO = FileInfo(size=100, mtime_ns=MTIME * 1_000_000_000 + 123)
assert INFO.etag is not None  # INFO has a modification time, so it has an ETag
ETAG = INFO.etag
LAST = http_date(MTIME)
EARLIER = http_date(MTIME - 60)
LATER = http_date(MTIME + 60)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.txt", "text/plain"),
        ("a.PDF", "application/pdf"),
        ("a.tar.gz", "application/gzip"),
        ("a.tar.Z", "application/octet-stream"),
        ("noext", "application/octet-stream"),
        ("a.unknownext", "application/octet-stream"),
    ],
)
def test_content_type_guesses_with_a_safe_default(name: str, expected: str) -> None:
    assert content_type(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("dir/report.pdf", "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"),
        ("\u00fcber.txt", "attachment; filename=\"_ber.txt\"; filename*=UTF-8''%C3%BCber.txt"),
        ("with space.txt", "attachment; filename=\"with space.txt\"; filename*=UTF-8''with%20space.txt"),
    ],
)
def test_content_disposition_encodes_names(name: str, expected: str) -> None:
    assert content_disposition(name) == expected


@pytest.mark.parametrize("name", ['a"\r\nSet-Cookie: x=1.txt', 'a\\";x.txt', "a\nb%0d%0a.txt"])
def test_content_disposition_cannot_inject_headers(name: str) -> None:
    value = content_disposition(name, attachment=False)
    assert value.startswith("inline; ")
    assert "\r" not in value
    assert "\n" not in value
    fallback = value.split('filename="', 1)[1].split('"', 1)[0]
    assert "\\" not in fallback
    assert value.count('"') == 2


def test_file_info_without_time_has_no_validators() -> None:
    info = FileInfo(10, None)
    assert info.etag is None
    assert info.last_modified is None
    plan = plan_response("GET", {}, info)
    assert "ETag" not in plan.headers
    assert "Last-Modified" not in plan.headers


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("GET", {}, 200),
        ("HEAD", {}, 200),
        ("GET", {"If-None-Match": ETAG}, 304),
        ("GET", {"If-None-Match": f"W/{ETAG}"}, 304),
        ("HEAD", {"If-None-Match": f'"other", {ETAG}'}, 304),
        ("GET", {"If-None-Match": "*"}, 304),
        ("GET", {"If-None-Match": '"other"'}, 200),
        ("GET", {"If-None-Match": '"other"', "If-Modified-Since": LATER}, 200),
        ("GET", {"If-Modified-Since": LAST}, 304),
        ("GET", {"If-Modified-Since": LATER}, 304),
        ("GET", {"If-Modified-Since": EARLIER}, 200),
        ("GET", {"If-Modified-Since": "garbage"}, 200),
        ("GET", {"If-Match": ETAG}, 200),
        ("GET", {"If-Match": "*"}, 200),
        ("GET", {"If-Match": '"other"'}, 412),
        ("GET", {"If-Match": f"W/{ETAG}"}, 412),
        ("GET", {"If-Unmodified-Since": LAST}, 200),
        ("GET", {"If-Unmodified-Since": EARLIER}, 412),
        ("GET", {"If-Unmodified-Since": "garbage"}, 200),
        ("GET", {"Range": "bytes=0-9"}, 206),
        ("HEAD", {"Range": "bytes=0-9"}, 200),
        ("GET", {"Range": "bytes=0-9,20-29"}, 200),
        ("GET", {"Range": "bytes=100-"}, 416),
        ("GET", {"Range": "bytes=0-9", "If-Range": ETAG}, 206),
        ("GET", {"Range": "bytes=0-9", "If-Range": '"stale"'}, 200),
        ("GET", {"Range": "bytes=0-9", "If-Range": f"W/{ETAG}"}, 200),
        ("GET", {"Range": "bytes=0-9", "If-Range": LAST}, 206),
        ("GET", {"Range": "bytes=0-9", "If-Range": EARLIER}, 200),
        ("GET", {"Range": "bytes=0-9", "If-Range": "garbage"}, 200),
        ("GET", {"Range": "bytes=0-9", "If-None-Match": ETAG}, 304),
    ],
)
def test_plan_response_follows_rfc_9110_preconditions(method: str, headers: dict[str, str], status: int) -> None:
    assert plan_response(method, headers, INFO).status == status


def test_plan_response_without_validators_fails_if_match_and_if_unmodified_since() -> None:
    info = FileInfo(10, None)
    assert plan_response("GET", {"If-Match": '"x"'}, info).status == 412
    assert plan_response("GET", {"If-Unmodified-Since": LAST}, info).status == 412
    assert plan_response("GET", {"If-None-Match": '"x"'}, info).status == 200
    assert plan_response("GET", {"If-Modified-Since": LAST}, info).status == 200
    assert plan_response("GET", {"Range": "bytes=0-1", "If-Range": '"x"'}, info).status == 200


def test_plan_response_headers_for_a_partial_answer() -> None:
    plan = plan_response("GET", {"Range": "bytes=10-19"}, INFO)
    assert plan.headers["Content-Range"] == "bytes 10-19/100"
    assert plan.headers["Content-Length"] == "10"
    assert plan.headers["Accept-Ranges"] == "bytes"
    assert plan.headers["ETag"] == ETAG
    assert plan.headers["Last-Modified"] == LAST
    assert plan.range is not None
    assert plan.range.start == 10


def test_plan_response_unsatisfiable_names_the_size() -> None:
    plan = plan_response("GET", {"Range": "bytes=500-"}, INFO)
    assert plan.headers["Content-Range"] == "bytes */100"


def test_range_stream_reads_the_length_in_blocks_and_closes() -> None:
    file = io.BytesIO(bytes(range(100)))
    file.seek(10)
    stream = RangeStream(file, 25, block_size=10)
    assert [len(block) for block in stream] == [10, 10, 5]
    assert not file.closed
    stream.close()
    assert file.closed


def test_range_stream_stops_when_the_file_shrank() -> None:
    stream = RangeStream(io.BytesIO(b"abc"), 10)
    assert b"".join(stream) == b"abc"
    assert list(stream) == []
    stream.close()


def test_bounded_reader_stops_at_its_length_even_when_the_file_grows(tmp_path: Path) -> None:
    import io

    from django_bearer_guard.files.responses import BoundedReader

    path = tmp_path / "grow.bin"
    path.write_bytes(b"0123456789")
    with path.open("rb") as file, path.open("ab") as writer:
        file.seek(2)
        reader = BoundedReader(file, 5)
        writer.write(b"EXTRA")
        writer.flush()
        assert reader.tell() == 2
        assert reader.read(3) + reader.read() + reader.read(10) == b"23456"
        assert reader.fileno() == file.fileno()
        assert reader.seek(0, io.SEEK_SET) == 0
    reader.close()
    assert file.closed


class _NoSeekable:
    """A stream with seek and tell that fail and no seekable() method."""

    def read(self, size: int = -1) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        raise OSError("Illegal seek")

    def tell(self) -> int:
        raise OSError("Illegal seek")


class _ForwardOnly(io.RawIOBase):
    def seekable(self) -> bool:
        return False


def _forward_only() -> IO[bytes]:
    # A raw stream is a binary file at runtime; typeshed keeps io.RawIOBase apart from typing.IO.
    return cast("IO[bytes]", _ForwardOnly())


def test_seekable_tells_forward_only_streams_apart() -> None:
    from django.core.files.base import File

    from django_bearer_guard.files.responses import BoundedReader, seekable

    assert seekable(io.BytesIO(b"abc"))
    assert seekable(File(io.BytesIO(b"abc")))
    assert not seekable(_forward_only())
    assert not seekable(File(_forward_only()))
    # Not files by type, on purpose: seekable() must still answer for them.
    assert not seekable(File(_NoSeekable()))  # type: ignore[arg-type]
    assert not seekable(_NoSeekable())  # type: ignore[arg-type]
    assert not seekable(object())  # type: ignore[arg-type]
    assert not BoundedReader(File(_forward_only()), 3).seekable()
    assert BoundedReader(io.BytesIO(b"abc"), 3).seekable()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Range": "bytes=0-9"}, {"Range": "bytes=500-"}, {"Range": "bytes=0-9", "If-Range": ETAG}],
)
def test_plan_response_without_ranges_answers_the_whole_file(headers: dict[str, str]) -> None:
    plan = plan_response("GET", headers, INFO, ranges=False)
    assert (plan.status, plan.range) == (200, None)
    assert plan.headers["Accept-Ranges"] == "none"
    assert plan.headers["Content-Length"] == "100"
    assert "Content-Range" not in plan.headers


def test_plan_response_without_ranges_keeps_preconditions() -> None:
    assert plan_response("GET", {"If-None-Match": ETAG}, INFO, ranges=False).status == 304
    assert plan_response("GET", {"If-Match": '"other"'}, INFO, ranges=False).status == 412


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=60))
def test_content_disposition_never_carries_raw_controls_or_quotes(name: str) -> None:
    value = content_disposition(name)
    assert value.isascii()
    assert not any(ord(ch) < 0x20 or ch == "\x7f" for ch in value)
    fallback = value.split('filename="', 1)[1].split('"; filename*=', 1)[0]
    assert '"' not in fallback and "\\" not in fallback
