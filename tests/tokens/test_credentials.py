from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_bearer_guard.exceptions import BearerGuardError, MalformedCredentials, TokenTooLarge
from django_bearer_guard.tokens.credentials import parse_authorization

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER {TOKEN}", f"BeArEr {TOKEN}", f"Bearer   {TOKEN}"],
)
def test_parse_authorization_accepts_bearer_case_insensitively(header: str) -> None:
    assert parse_authorization(header, max_bytes=8192) == ("bearer", TOKEN)


@pytest.mark.parametrize("header", [None, f"Basic {TOKEN}", "Digest x", "Token abc", "Bearer-x abc", "Bearerabc"])
def test_parse_authorization_leaves_other_schemes_to_other_authenticators(header: str | None) -> None:
    assert parse_authorization(header, max_bytes=8192) is None


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN} {TOKEN}",
        f"Bearer {TOKEN},Bearer {TOKEN}",
        f"Bearer {TOKEN}, {TOKEN}",
        f"Bearer {TOKEN}\n",
        f"Bearer {TOKEN}\t",
        f'Bearer "{TOKEN}"',
        "Bearer a=b",
        "Bearer ====",
        "Bearer tok\u00e9n",
        "Bearer tok\x00en",
        "Bearer tok en",
        f"Bearer\t{TOKEN}",
        f"Bearer\x00{TOKEN}",
        f"Bearer,{TOKEN}",
        "Bearer\t",
    ],
)
def test_parse_authorization_refuses_malformed_bearer_with_invalid_request(header: str) -> None:
    with pytest.raises(MalformedCredentials) as info:
        parse_authorization(header, max_bytes=8192)
    assert info.value.status_code == 400
    assert info.value.error == "invalid_request"


def test_parse_authorization_accepts_trailing_padding_of_b64token() -> None:
    assert parse_authorization("Bearer abc==", max_bytes=8192) == ("bearer", "abc==")


def test_parse_authorization_refuses_oversized_credential_before_parsing() -> None:
    with pytest.raises(TokenTooLarge) as info:
        parse_authorization("Bearer " + "a" * 8193, max_bytes=8192)
    assert info.value.status_code == 401
    assert info.value.error == "invalid_token"
    assert parse_authorization("Bearer " + "a" * 8192, max_bytes=8192) == ("bearer", "a" * 8192)


def test_parse_authorization_oversized_garbage_is_too_large_not_malformed() -> None:
    with pytest.raises(TokenTooLarge):
        parse_authorization("Bearer " + "\x00" * 10000, max_bytes=8192)


def test_parse_authorization_accepts_dpop_only_when_asked() -> None:
    assert parse_authorization(f"DPoP {TOKEN}", max_bytes=8192) is None
    assert parse_authorization(f"DPoP {TOKEN}", schemes=("bearer", "dpop"), max_bytes=8192) == ("dpop", TOKEN)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(), st.text().map(lambda s: "Bearer " + s), st.binary().map(lambda b: "Bearer " + b.decode("latin-1"))
    )
)
def test_parse_authorization_raises_only_library_errors(header: str) -> None:
    try:
        result = parse_authorization(header, max_bytes=512)
    except BearerGuardError as exc:
        assert exc.status_code in (400, 401)
    else:
        assert result is None or (result[0] == "bearer" and len(result[1]) <= 512)
