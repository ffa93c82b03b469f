from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.files.fixtures import AWKWARD, Store, auth, bearer, server, store
from tests.files.probes import EXTRA_TARGETS, NFC_E, NFD_E
from tests.files.probes import leaked as _leaked
from tests.files.server import raw_get

__all__ = ["auth", "bearer", "server", "store"]  # fixtures

CORPUS = Path(__file__).with_name("traversal_corpus.txt")
_REPEAT = re.compile(r"\{rep:(.*?):(\d+)\}")


def corpus() -> list[str]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def expand(line: str, store: Store) -> bytes:
    line = _REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), line)
    line = line.replace("{abs}", str(store.secrets[0])).replace("{store}", str(store.location))
    return line.replace("{NUL}", "\x00").encode("utf-8")


def test_corpus_is_large_enough() -> None:
    assert len(corpus()) >= 150


def test_traversal_corpus_never_returns_a_byte_outside_the_root(
    server: tuple[str, int], store: Store, auth: dict[str, str]
) -> None:
    leaks = []
    for line in corpus():
        response = raw_get(server, b"/files/" + expand(line, store), auth)
        # Any piece of the marker would mean a secret's bytes came back.
        if store.marker[:12].encode() in response.head + response.body or response.status < 400:
            leaks.append((line, response.status))
    assert leaks == []


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_awkward_names_are_served_through_the_server(server: tuple[str, int], auth: dict[str, str], name: str) -> None:
    response = raw_get(server, b"/files/" + quote(name).encode(), auth)
    assert response.status == 200
    assert response.body == AWKWARD[name]


def test_symlink_inside_the_root_is_served_through_the_server(server: tuple[str, int], auth: dict[str, str]) -> None:
    response = raw_get(server, b"/files/link-in.txt", auth)
    assert (response.status, response.body) == (200, b"hello world\n")


def test_range_resumes_a_download_through_the_server(server: tuple[str, int], auth: dict[str, str]) -> None:
    full = raw_get(server, b"/files/data.bin", auth)
    start = raw_get(server, b"/files/data.bin", {**auth, "Range": "bytes=0-99"})
    rest = raw_get(
        server, b"/files/data.bin", {**auth, "Range": "bytes=100-", "If-Range": start.header("ETag") or ""}
    )
    assert (start.status, rest.status) == (206, 206)
    assert start.body + rest.body == full.body
    assert rest.header("Content-Range") == "bytes 100-1023/1024"


def test_streamed_storage_through_the_server(server: tuple[str, int], auth: dict[str, str]) -> None:
    response = raw_get(server, b"/stream/data.bin", {**auth, "Range": "bytes=1-2"})
    assert (response.status, response.body) == (206, b"\x01\x02")
    assert raw_get(server, b"/stream/data.bin", auth).body == bytes(range(256)) * 4


def test_head_through_the_server_sends_no_body(server: tuple[str, int], auth: dict[str, str]) -> None:
    response = raw_get(server, b"/files/data.bin", auth, method="HEAD")
    assert response.status == 200
    assert response.header("Content-Length") == "1024"
    assert response.body == b""


def test_corpus_check_catches_a_leaking_view(server: tuple[str, int], store: Store, auth: dict[str, str]) -> None:
    # The same probe against a view without containment finds the marker: the check can fail.
    response = raw_get(server, b"/bare/" + expand("../secret.txt", store), auth)
    assert store.marker[:12].encode() in response.body


@pytest.fixture
def planted(store: Store) -> Store:
    """Extra traps in the public root: loops, a self link, a directory named like a file."""
    public = store.public
    (public / "folder.txt").mkdir()
    (public / "folder.txt" / "inner.txt").write_bytes(b"inner\n")
    (public / "loop1").symlink_to("loop2")
    (public / "loop2").symlink_to("loop1")
    (public / "self").symlink_to(".")
    (public / "root-link").symlink_to("../public")
    (public / "up").symlink_to("..")
    (public / "hard.txt").write_bytes(b"not a link\n")
    return store


@pytest.mark.parametrize("target", EXTRA_TARGETS, ids=lambda t: t[:40].decode("latin-1"))
def test_extra_traversal_variant_is_refused_without_leaking(
    planted: Store, server: tuple[str, int], auth: dict[str, str], target: bytes
) -> None:
    response = raw_get(server, b"/files/" + target, auth)
    assert response.status in (400, 404), response.head
    assert not _leaked(planted, response)
    # Error bodies never name a place on disk.
    assert str(planted.location).encode() not in response.body


def test_absolute_form_request_target_is_not_a_way_out(
    planted: Store, server: tuple[str, int], auth: dict[str, str]
) -> None:
    for target in (b"http://evil/files/../secret.txt", b"http://127.0.0.1/files/%2e%2e/secret.txt"):
        response = raw_get(server, target, auth)
        assert response.status in (400, 404)
        assert not _leaked(planted, response)


def test_query_after_a_name_is_only_a_query(planted: Store, server: tuple[str, int], auth: dict[str, str]) -> None:
    response = raw_get(server, b"/files/hello.txt?/../../secret.txt", auth)
    assert (response.status, response.body) == (200, b"hello world\n")


def test_symlink_loop_and_self_links_inside_the_root_are_harmless(
    planted: Store, server: tuple[str, int], auth: dict[str, str]
) -> None:
    assert raw_get(server, b"/files/loop1", auth).status == 404
    assert raw_get(server, b"/files/self", auth).status == 404
    assert raw_get(server, b"/files/root-link", auth).status == 404
    assert raw_get(server, b"/files/self/self/hello.txt", auth).body == b"hello world\n"
    assert raw_get(server, b"/files/folder.txt/inner.txt", auth).body == b"inner\n"


def test_nfd_request_reaches_the_nfc_name(store: Store, server: tuple[str, int], auth: dict[str, str]) -> None:
    store.write(f"caf{NFC_E}.txt", b"coffee\n")
    response = raw_get(server, f"/files/caf{NFD_E}.txt".encode(), auth)
    assert (response.status, response.body) == (200, b"coffee\n")


def test_symlink_to_a_hidden_file_does_not_bypass_the_hidden_policy(
    store: Store, server: tuple[str, int], auth: dict[str, str]
) -> None:
    (store.public / "visible.txt").symlink_to(".env")
    assert raw_get(server, b"/files/visible.txt", auth).status == 404


def test_storage_without_local_paths_does_not_follow_symlinks_out(
    store: Store, server: tuple[str, int], auth: dict[str, str]
) -> None:
    response = raw_get(server, b"/stream/link-out.txt", auth)
    assert not _leaked(store, response)


def test_hard_link_inside_the_root_is_served_like_any_file(
    store: Store, server: tuple[str, int], auth: dict[str, str]
) -> None:
    # Documented limit: a hard link is the file itself; only who can write the root can make one.
    os.link(store.public / "hello.txt", store.public / "hard-in.txt")
    assert raw_get(server, b"/files/hard-in.txt", auth).body == b"hello world\n"
