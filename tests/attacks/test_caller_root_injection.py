"""Claims that try to move a per-caller root: render_root refuses them, the view answers 403 without a leak."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from django_bearer_guard.files.paths import RootUnavailable, render_root
from tests.files.fixtures import Store, auth, bearer, server, store
from tests.files.probes import NFC_E, NFD_E
from tests.files.probes import leaked as _leaked
from tests.files.server import raw_get

__all__ = ["auth", "bearer", "server", "store"]  # fixtures


@pytest.mark.parametrize("claim", ["..", "a/b", "", ".x", "x" * 256, "a\x00", "\u2025", "a\\b", "C:"])
def test_render_root_refuses_claims_that_move_the_root(claim: str) -> None:
    with pytest.raises(RootUnavailable):
        render_root("tenants/{claims.tenant}", {"tenant": claim}, None)


@pytest.mark.parametrize(
    "tenant",
    [
        "..",
        ".",
        "",
        "a/b",
        "acme/../other",
        "%2e%2e",
        "..%2fother",
        "..\\other",
        "x" * 256,
        ".git",
        "acme\x00",
        "acme\n",
        " acme",
        "acme ",
        "acme.",
        "\u2025",
        "\uff0e\uff0e",
        "acme\u2215..",
        "\u202eemca",
        "ac\u200bme",
        "C:",
        "*",
        True,
        None,
        1.5,
        ["acme"],
        {"name": "acme"},
    ],
    ids=repr,
)
def test_per_caller_root_refuses_injected_tenant(
    store: Store, server: tuple[str, int], bearer: Callable[..., dict[str, str]], tenant: object
) -> None:
    headers = {"Authorization": bearer(tenant=tenant)["HTTP_AUTHORIZATION"]}
    for target in (b"/tenant/report.txt", b"/tenant/secret.txt", b"/tenant/other/secret.txt"):
        response = raw_get(server, target, headers)
        assert response.status == 403, (tenant, target, response.status)
        assert not _leaked(store, response)


def test_per_caller_root_tenant_named_like_a_sibling_reaches_only_its_folder(
    store: Store, server: tuple[str, int], bearer: Callable[..., dict[str, str]]
) -> None:
    # "tenants" and "other" are real folders; the token may only read directly under its own.
    other = {"Authorization": bearer(tenant="other")["HTTP_AUTHORIZATION"]}
    assert _leaked(store, raw_get(server, b"/tenant/secret.txt", other))
    acme = {"Authorization": bearer(tenant="acme")["HTTP_AUTHORIZATION"]}
    for target in (b"/tenant/secret.txt", b"/tenant/../other/secret.txt", b"/tenant/..%2fother%2fsecret.txt"):
        response = raw_get(server, target, acme)
        assert response.status in (400, 404)
        assert not _leaked(store, response)


def test_per_caller_root_unicode_tenant_in_another_normal_form_is_not_served(
    store: Store, server: tuple[str, int], bearer: Callable[..., dict[str, str]]
) -> None:
    folder = store.location / "tenants" / f"caf{NFC_E}"
    folder.mkdir()
    (folder / "report.txt").write_bytes(b"cafe report\n")
    nfc = {"Authorization": bearer(tenant=f"caf{NFC_E}")["HTTP_AUTHORIZATION"]}
    assert raw_get(server, b"/tenant/report.txt", nfc).body == b"cafe report\n"
    nfd = {"Authorization": bearer(tenant=f"caf{NFD_E}")["HTTP_AUTHORIZATION"]}
    assert raw_get(server, b"/tenant/report.txt", nfd).status in (403, 404)
