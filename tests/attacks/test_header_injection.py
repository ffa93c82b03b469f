"""File names that try to inject headers through X-Accel-Redirect, X-Sendfile and Content-Disposition."""

from __future__ import annotations

import pytest

from tests.files.fixtures import Store, auth, bearer, server, store
from tests.files.server import raw_get

__all__ = ["auth", "bearer", "server", "store"]  # fixtures


WEIRD_NAME = 'we\r\nX-Evil: 1?#%";\u65e5.txt'


@pytest.fixture
def weird(store: Store) -> Store:
    """A file whose resolved name holds CR, LF, quotes, ';', '?', '#', '%' and CJK, behind a tidy link."""
    (store.public / WEIRD_NAME).write_bytes(b"weird\n")
    (store.public / "tidy.txt").symlink_to(WEIRD_NAME)
    return store


def test_resolved_name_cannot_inject_headers_through_x_accel_redirect(
    weird: Store, server: tuple[str, int], auth: dict[str, str]
) -> None:
    response = raw_get(server, b"/accel/tidy.txt", auth)
    assert response.status == 200
    assert response.header("X-Evil") is None
    location = response.header("X-Accel-Redirect") or ""
    assert location.startswith("/internal/public/")
    assert not set(location) & set('\r\n?#" ;')
    assert response.header("Content-Disposition") == "attachment; filename=\"tidy.txt\"; filename*=UTF-8''tidy.txt"


def test_resolved_name_with_newline_through_x_sendfile_is_not_a_server_error(
    weird: Store, server: tuple[str, int], auth: dict[str, str]
) -> None:
    response = raw_get(server, b"/sendfile/tidy.txt", auth)
    assert response.status in (200, 404)
    assert response.header("X-Evil") is None


def test_content_disposition_for_awkward_served_names(
    store: Store, server: tuple[str, int], auth: dict[str, str]
) -> None:
    store.write("semi;colon=x.txt", b"x\n")
    store.write("quote'and`tick.txt", b"x\n")
    for name, expected in (
        (b"semi;colon=x.txt", "attachment; filename=\"semi;colon=x.txt\"; filename*=UTF-8''semi%3Bcolon%3Dx.txt"),
        (b"quote'and`tick.txt", "attachment; filename=\"quote'and`tick.txt\"; filename*=UTF-8''quote%27and`tick.txt"),
    ):
        response = raw_get(server, b"/files/" + name, auth)
        assert (response.status, response.header("Content-Disposition")) == (200, expected)
