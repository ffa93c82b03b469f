from __future__ import annotations

import posixpath
from pathlib import PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_bearer_guard.files.paths import (
    MAX_PATH_BYTES,
    MAX_SEGMENTS,
    FileMissing,
    PathRefused,
    RootUnavailable,
    check_policy,
    check_segment,
    contain,
    issuer_slug,
    render_root,
    root_fields,
)


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("hello.txt", "", "hello.txt"),
        ("hello.txt", "public", "public/hello.txt"),
        ("a/b/c.txt", "data", "data/a/b/c.txt"),
        ("a..b.txt", "", "a..b.txt"),
        ("..a", "", "..a"),
        ("with space.txt", "", "with space.txt"),
        (
            "\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb.txt",
            "",
            "\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb.txt",
        ),
        ("a~b+c[1](2)'q'.txt", "", "a~b+c[1](2)'q'.txt"),
        ("e\u0301.txt", "", "\u00e9.txt"),  # NFC
        ("x.txt", "tenants/acme", "tenants/acme/x.txt"),
    ],
)
def test_contain_accepts_safe_names(path: str, root: str, expected: str) -> None:
    assert contain(path, root) == expected


@pytest.mark.parametrize(
    "path",
    [
        "",
        ".",
        "..",
        "../secret.txt",
        "a/../../secret.txt",
        "a/./b",
        "a//b",
        "a/",
        "/etc/passwd",
        "//server/share",
        "..\\secret.txt",
        "a\\b",
        "C:/Windows/win.ini",
        "c:secret",
        "file.txt::$DATA",
        "a\x00b",
        "a\nb",
        "a\rb",
        "a\tb",
        "a\x7fb",
        "%2e%2e/secret",
        "a%00b",
        "a?b",
        "a#b",
        "a*b",
        'a"b',
        "a<b>",
        "a|b",
        " lead.txt",
        "trail.txt ",
        "trail.",
        "a\u00a0b",  # no-break space
        "a\u2028b",  # line separator
        "a\u202eb",  # right-to-left override
        "a\u200bb",  # zero-width space
        "a\ue000b",  # private use
        "a\ud800b",  # lone surrogate
        "\u2025/secret",  # two dot leader
        "\uff0e\uff0e/secret",  # fullwidth full stops
        "..\uff0fsecret",  # fullwidth solidus
        "..\u2215secret",  # division slash
        "..\u2044secret",  # fraction slash
        "..\u29f8secret",  # big solidus
        "..\uff3csecret",  # fullwidth reverse solidus
        "..\ufe68secret",  # small reverse solidus
        "..\u2216secret",  # set minus
        "a\uff1ab",  # fullwidth colon
        "x" * 256,
        "/".join(["a"] * (MAX_SEGMENTS + 1)),
        "a/" * (MAX_PATH_BYTES // 2) + "b",
    ],
)
def test_contain_refuses_unsafe_paths(path: str) -> None:
    with pytest.raises(PathRefused):
        contain(path, "public")


def test_contain_refuses_non_strings() -> None:
    with pytest.raises(PathRefused):
        contain(b"hello.txt")  # type: ignore[arg-type]  # bytes on purpose: the type is what is refused


def test_contain_does_not_admit_prefix_siblings() -> None:
    # "public-evil" shares a string prefix with "public" but is another directory.
    name = contain("x.txt", "public")
    assert PurePosixPath(name).parts[:1] == ("public",)
    with pytest.raises(PathRefused):
        contain("../public-evil/secret.txt", "public")


def test_contain_checks_the_root_too() -> None:
    with pytest.raises(PathRefused):
        contain("x.txt", "../elsewhere")


def test_check_segment_names_the_problem() -> None:
    assert check_segment("ok.txt") is None
    assert "not allowed" in (check_segment("..") or "")
    assert "too long" in (check_segment("\u00e9" * 128) or "")


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        (".env", {}),
        ("a/.git/config", {}),
        ("a.exe", {"extensions": frozenset({".pdf"})}),
        ("noext", {"extensions": frozenset({".pdf"})}),
    ],
)
def test_check_policy_hides_names_the_view_does_not_serve(name: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(FileMissing):
        check_policy(name, **kwargs)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("a.txt", {}),
        (".env", {"allow_hidden": True}),
        ("Doc.PDF", {"extensions": frozenset({".pdf"})}),
    ],
)
def test_check_policy_serves_allowed_names(name: str, kwargs: dict[str, Any]) -> None:
    check_policy(name, **kwargs)


@pytest.mark.parametrize(
    ("template", "fields"),
    [
        ("", []),
        ("public", []),
        ("tenants/{claims.tenant}", ["claims.tenant"]),
        ("w/{workload}/files", ["workload"]),
        ("{claims.org.id}-{workload}", ["claims.org.id", "workload"]),
        ("tenants/{issuer}/{claims.sub}", ["issuer", "claims.sub"]),
    ],
)
def test_root_fields_lists_placeholders(template: str, fields: list[str]) -> None:
    assert root_fields(template) == fields


@pytest.mark.parametrize(
    "template",
    ["{user}", "{claims}", "{claims.}", "{issuer.x}", "a/{", "a}", "../x", "/abs", "a//b", "{workload}/../x",
     "cafe\u0301/{claims.sub}"],
)
def test_root_fields_refuses_bad_templates(template: str) -> None:
    with pytest.raises(ValueError):
        root_fields(template)


@pytest.mark.parametrize(
    ("template", "claims", "workload", "expected"),
    [
        ("tenants/{claims.tenant}", {"tenant": "acme"}, None, "tenants/acme"),
        ("tenants/{claims.org.id}", {"org": {"id": 42}}, None, "tenants/42"),
        ("workloads/{workload}", {}, "svc-a", "workloads/svc-a"),
        ("static", {}, None, "static"),
    ],
)
def test_render_root_substitutes_caller_values(
    template: str, claims: dict[str, Any], workload: str | None, expected: str
) -> None:
    assert render_root(template, claims, workload) == expected


@pytest.mark.parametrize(
    ("claims", "workload"),
    [
        ({}, None),
        ({"tenant": None}, None),
        ({"tenant": True}, None),
        ({"tenant": ["acme"]}, None),
        ({"tenant": ".."}, None),
        ({"tenant": "."}, None),
        ({"tenant": ""}, None),
        ({"tenant": "acme/../other"}, None),
        ({"tenant": "a\\b"}, None),
        ({"tenant": ".git"}, None),
        ({"tenant": "a\uff0fb"}, None),
        ({"tenant": "x" * 300}, None),
    ],
)
def test_render_root_refuses_values_that_move_the_root(claims: dict[str, Any], workload: str | None) -> None:
    with pytest.raises(RootUnavailable) as info:
        render_root("tenants/{claims.tenant}", claims, workload)
    assert info.value.status_code == 403


def test_render_root_refuses_a_missing_workload() -> None:
    with pytest.raises(RootUnavailable):
        render_root("workloads/{workload}", {}, None)


@pytest.mark.parametrize(
    "value",
    [
        "\u212aate",  # KELVIN SIGN, NFC "K"
        "\u212bsa",  # ANGSTROM SIGN, NFC "\u00c5"
        "jose\u0301",  # decomposed, NFC "jos\u00e9"
        "\uff4bate",  # FULLWIDTH k, NFKC "k"
        "\ufb01le",  # ligature fi, NFKC "fi"
        "x\u00b2",  # superscript two, NFKC "2"
        "\u1e9b\u0323",  # NFC keeps it, NFKC gives "\u1e69"
    ],
    ids=ascii,
)
def test_render_root_refuses_values_that_normalisation_changes(value: str) -> None:
    with pytest.raises(RootUnavailable) as info:
        render_root("tenants/{claims.tenant}", {"tenant": value}, None)
    assert "normal form" in info.value.reason
    with pytest.raises(RootUnavailable):
        render_root("workloads/{workload}", {}, value)


def test_render_root_refuses_values_that_compose_with_their_neighbour() -> None:
    with pytest.raises(RootUnavailable):
        render_root("t/{claims.a}{claims.b}", {"a": "e", "b": "\u0301x"}, None)
    assert render_root("t/{claims.a}{claims.b}", {"a": "e", "b": "x"}, None) == "t/ex"


@pytest.mark.parametrize("value", ["jos\u00e9", "\u00c5sa", "caf\u00e9-42", "\u65e5\u672c"], ids=ascii)
def test_render_root_keeps_normalised_unicode_values(value: str) -> None:
    assert render_root("tenants/{claims.tenant}", {"tenant": value}, None) == f"tenants/{value}"


def test_render_root_substitutes_the_issuer_slug() -> None:
    iss = "https://idp.example.com/"
    root = render_root("tenants/{issuer}/{claims.sub}", {"sub": "alice"}, None, iss)
    assert root == f"tenants/{issuer_slug(iss)}/alice"
    with pytest.raises(RootUnavailable):
        render_root("tenants/{issuer}/{claims.sub}", {"sub": "alice"}, None)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=".a/", max_size=3), st.text(alphabet=".a/", max_size=3))
def test_render_root_two_placeholders_in_one_segment_cannot_form_a_parent(first: str, second: str) -> None:
    try:
        root = render_root("t/{claims.a}{claims.b}", {"a": first, "b": second}, None)
    except RootUnavailable:
        return
    assert contain("f.txt", root).split("/")[1] not in ("", ".", "..")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("./\\%2e\u2025\uff0e\u2215:ab \u0301\x00"), max_size=12))
def test_render_root_never_yields_a_root_outside_its_folder(value: str) -> None:
    try:
        root = render_root("tenants/{claims.t}", {"t": value}, None)
        name = contain("f.txt", root)
    except (RootUnavailable, PathRefused):
        return
    parts = name.split("/")
    assert parts[0] == "tenants" and len(parts) == 3 and parts[1] not in ("", ".", "..")


@pytest.mark.parametrize(
    ("iss", "readable"),
    [
        ("https://idp.example.com/", "idp-example-com"),
        ("https://IdP.Example.COM/realms/Acme", "idp-example-com-realms-acme"),
        ("http://127.0.0.1:8443/", "127-0-0-1-8443"),
        ("https://user:pw@idp.example.com/t?x=1#f", "idp-example-com-t"),
        ("urn:example:issuer", "urn-example-issuer"),
        ("https://\u00e9xample.com/", "xample-com"),
        ("https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
         "login-microsoftonline-com-9188040d-6c67-4c5b-b11"),
        ("", ""),
        ("...", ""),
        ("\ud800", ""),
    ],
    ids=ascii,
)
def test_issuer_slug_is_readable_part_and_digest(iss: str, readable: str) -> None:
    import hashlib

    digest = hashlib.sha256(iss.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    assert issuer_slug(iss) == (f"{readable}-{digest}" if readable else digest)


def test_issuer_slug_is_stable_across_releases() -> None:
    # Folders named by operators depend on this exact value: changing it moves every caller's files.
    assert issuer_slug("https://idp.example.com/") == "idp-example-com-d36c3be4d3fed734"


def test_issuer_slug_tells_issuers_apart_that_look_alike() -> None:
    issuers = [
        "https://idp.example.com/",
        "https://idp.example.com",
        "https://IDP.example.com/",
        "https://idp-example.com/",
        "https://idp.example.com/a",
        "http://idp.example.com/",
    ]
    assert len({issuer_slug(iss) for iss in issuers}) == len(issuers)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_issuer_slug_is_one_safe_visible_segment(iss: str) -> None:
    slug = issuer_slug(iss)
    assert check_segment(slug) is None
    assert slug == slug.lower() and slug.isascii()
    assert set(slug) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert not slug.startswith(("-", ".")) and not slug.endswith("-")


def _inside(name: str, root: str) -> bool:
    parts = PurePosixPath(name).parts
    root_parts = PurePosixPath(root).parts
    normal = posixpath.normpath(name)
    return parts[: len(root_parts)] == root_parts and len(parts) > len(root_parts) and normal == name


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=64) | st.text("./\\%a\u2215\uff0f\x00", max_size=24))
def test_contain_never_escapes_the_root(path: str) -> None:
    try:
        name = contain(path, "root/dir")
    except PathRefused:
        return
    assert _inside(name, "root/dir")
    assert ".." not in PurePosixPath(name).parts
