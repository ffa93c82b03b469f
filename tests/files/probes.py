"""Requests and checks shared by the attack tests of the file view (tests/attacks, tests/files).

Traversal targets beyond traversal_corpus.txt, probes that must all get one answer, a check for
leaked secrets, and a download aborted mid-way with the descriptors it must leave closed.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path

from tests.files.fixtures import Store
from tests.files.server import RawResponse

NFC_E = "\u00e9"
NFD_E = "e\u0301"


# Traversal and aliasing targets beyond traversal_corpus.txt, appended to "/files/".
EXTRA_TARGETS = [
    b"..%2F..%2Fsecret.txt",
    b"%2e%2e%2F%2E%2e/outside.txt",
    b"..%252f..%252fsecret.txt",
    b"%25%32%65%25%32%65/secret.txt",
    b"%c0%af..%c0%afsecret.txt",
    b"%e0%80%ae%e0%80%ae%e0%80%afsecret.txt",
    b"%c0%ae%c0%ae%2fsecret.txt",
    b"..;/secret.txt",
    b"..;/..;/outside.txt",
    b"hello.txt;/../../secret.txt",
    b".%00./secret.txt",
    b"..%00/..%00/outside.txt",
    b"hello.txt.",
    b"hello.txt..",
    b"hello.txt%20",
    b"hello.txt%2e",
    b"hello.txt%09",
    b"hello.txt%0b",
    b"hello.txt%c2%a0",
    b"hello.txt%e3%80%80",
    b"HELLO.TXT/../../secret.txt",
    b"nested//deep/file.txt",
    b"nested/./deep/file.txt",
    b"nested/deep/./../../../secret.txt",
    b"nested/%2e/deep/file.txt",
    b"nested%2f%2fdeep/file.txt",
    b"e\xcc\x81/../../secret.txt",
    b".\xcc\x81./secret.txt",
    b".\xcc\xa3./secret.txt",
    b"\xef\xbc\x8e\xef\xbc\x8e\xef\xbc\x8fsecret.txt",
    b"\xe2\x80\xae..\xe2\x80\xac/secret.txt",
    b"\xe2\x80\x8b../secret.txt",
    b"..\xe2\x80\x8d/secret.txt",
    b"\xef\xbb\xbf../secret.txt",
    b"..\xe2\x81\xa0/secret.txt",
    b"\xc2\xad../secret.txt",
    b"~/../secret.txt",
    b"~root/.bashrc",
    b"$HOME/../secret.txt",
    b"${PWD}/../secret.txt",
    b"..?/secret.txt",
    b"..#/secret.txt",
    b"%3f/../secret.txt",
    b"%23/../secret.txt",
    b"hello.txt%3b../../secret.txt",
    b"a" * 300 + b"/../secret.txt",
    b"/".join([b"a"] * 33),
    b"x/" * 500 + b"secret.txt",
    b"\xf0\x9f\x98\x80" * 70 + b"/../secret.txt",
    b"up/secret.txt",
    b"up/public-evil/secret.txt",
    b"root-link/../secret.txt",
    b"self/../secret.txt",
    b"self/up/secret.txt",
    b"dir-out%2fsecret.txt",
    b"link-out.txt%00",
    b"loop1",
    b"loop1/x",
    b"folder.txt",
    b"folder.txt/",
    b"hello.txt/x",
    b"pipe",
    b"pipe/../secret.txt",
    b".env",
    b".git/config",
    b".git%2fconfig",
    b"%2eenv",
    b".ENV",
    b"CON",
    b"aux.txt/../../secret.txt",
    b"hello.txt::$DATA",
    b"secret.txt",
    b"public-evil/secret.txt",
    b"..%5c..%5c..%5csecret.txt",
    b"%5c../secret.txt",
]


# Unauthenticated and unscoped callers must get the same answer whatever the path names.
PROBES = [
    b"hello.txt",
    b"missing.txt",
    b"subdir",
    b"pipe",
    b".env",
    b"link-out.txt",
    b"../secret.txt",
    b"%2e%2e/secret.txt",
    b"nested/deep/file.txt",
    b"nested/deep/missing.txt",
]


def leaked(store: Store, response: RawResponse) -> bool:
    """Whether the marker of the secrets planted around the root reached the answer."""
    return store.marker[:12].encode() in response.head + response.body


def fingerprint(response: RawResponse) -> tuple[int, bytes, tuple[bytes, ...]]:
    """Status, body and header names: what a caller can tell two answers apart by."""
    names = sorted(line.split(b":", 1)[0].lower() for line in response.head.split(b"\r\n")[1:])
    return response.status, response.body, tuple(names)


def _fds_on(path: Path, pid: int | str = "self") -> list[str]:
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                found.append(fd)
        except OSError:
            pass
    return found


def start_and_abort(address: tuple[str, int], target: str, token: str, extra: str = "") -> bytes:
    """Send a request, read the first bytes, then reset the connection."""
    sock = socket.create_connection(address, timeout=10)
    try:
        request = f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{extra}\r\n"
        sock.sendall(request.encode())
        first = sock.recv(4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()
    return first


def wait_closed(path: Path, pid: int | str = "self") -> list[str]:
    """Wait up to 5 s for every descriptor open on ``path`` in process ``pid`` to close; those still open."""
    deadline = time.monotonic() + 5
    while (open_fds := _fds_on(path, pid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return open_fds
