from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_bearer_guard.exceptions import InvalidClaim
from django_bearer_guard.issuers.config import IssuerConfig, parse_issuer
from django_bearer_guard.tokens.scopes import (
    MAX_SCOPE_LENGTH,
    MAX_SCOPES,
    claim_at,
    extract_scopes,
    map_prefix,
)

NOW = 1_800_000_000

# Payloads shaped like each provider's access tokens (identifiers shortened, values invented).
AUTH0 = {
    "iss": "https://example.eu.auth0.com/",
    "sub": "auth0|64f1c0ffee0ddba11c0ffee0",
    "aud": ["https://api.example.com", "https://example.eu.auth0.com/userinfo"],
    "iat": NOW,
    "exp": NOW + 86400,
    "azp": "q8Zk3sVv2cTf9oXy",
    "scope": "openid profile email read:messages",
    "permissions": ["read:messages", "write:messages"],
}
ENTRA = {
    "aud": "api://6e74172b-be56-4843-9ff4-e66a39bb12e3",
    "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
    "iat": NOW,
    "nbf": NOW,
    "exp": NOW + 3600,
    "azp": "9d1f5e52-0a8c-4a55-9d3a-8b1e5c8c2f11",
    "oid": "1b7c2a0e-5d5c-4c5b-8a1f-0c9f2d3e4a5b",
    "roles": ["Files.ReadWrite.All", "Reports.Read"],
    "scp": "Files.Read User.Read",
    "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
    "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "ver": "2.0",
}
KEYCLOAK = {
    "exp": NOW + 300,
    "iat": NOW,
    "jti": "c9b1e1a4-3f0e-4c83-9c61-6b1f3b0e2f55",
    "iss": "https://sso.example.com/realms/acme",
    "aud": ["files-api", "account"],
    "sub": "f1e2d3c4-b5a6-4789-8abc-def012345678",
    "typ": "Bearer",
    "azp": "web-frontend",
    "realm_access": {"roles": ["offline_access", "uma_authorization", "files-reader"]},
    "resource_access": {
        "files-api": {"roles": ["read", "write"]},
        "api.example.com": {"roles": ["export"]},
        "account": {"roles": ["manage-account", "view-profile"]},
    },
    "scope": "openid profile email",
    "preferred_username": "alice",
}
OKTA = {
    "ver": 1,
    "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
    "iss": "https://example.okta.com/oauth2/default",
    "aud": "api://default",
    "iat": NOW,
    "exp": NOW + 3600,
    "cid": "0oa1b2c3d4e5f6g7h8i9",
    "uid": "00u1a2b3c4d5e6f7g8h9",
    "scp": ["openid", "files.read", "files.write"],
    "sub": "alice@example.com",
}
SPIFFE_SVID = {
    "sub": "spiffe://example.org/ns/prod/sa/billing",
    "aud": ["spiffe://example.org/ns/prod/sa/files"],
    "exp": NOW + 300,
    "iat": NOW,
}
COGNITO = {
    "sub": "4n1ab2cd3ef4gh5ij6kl7mn8op",
    "token_use": "access",
    "scope": "https://files.example.com/read https://files.example.com/write aws.cognito.signin.user.admin",
    "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI",
    "exp": NOW + 3600,
    "client_id": "4n1ab2cd3ef4gh5ij6kl7mn8op",
}


def issuer(scope_claim: str = "scope", prefixes: tuple[tuple[str, str], ...] = ()) -> IssuerConfig:
    return IssuerConfig(issuer="https://idp.example.test/", scope_claim=scope_claim, scope_prefixes=prefixes)


@pytest.mark.parametrize(
    ("claims", "scope_claim", "expected"),
    [
        (AUTH0, "scope", {"openid", "profile", "email", "read:messages"}),
        (AUTH0, "permissions", {"read:messages", "write:messages"}),
        (ENTRA, "scp", {"Files.Read", "User.Read"}),
        (ENTRA, "roles", {"Files.ReadWrite.All", "Reports.Read"}),
        (KEYCLOAK, "realm_access.roles", {"offline_access", "uma_authorization", "files-reader"}),
        (KEYCLOAK, "resource_access.files-api.roles", {"read", "write"}),
        (KEYCLOAK, "resource_access.api.example.com.roles", {"export"}),
        (KEYCLOAK, "scope", {"openid", "profile", "email"}),
        (OKTA, "scp", {"openid", "files.read", "files.write"}),
        (SPIFFE_SVID, "scope", set()),
        (KEYCLOAK, "resource_access.other-client.roles", set()),
        (KEYCLOAK, "realm_access.groups", set()),
    ],
)
def test_extract_scopes_reads_provider_claim_shapes(
    claims: dict[str, Any], scope_claim: str, expected: set[str]
) -> None:
    assert extract_scopes(claims, issuer(scope_claim)) == expected


def test_extract_scopes_prefers_literal_dotted_claim_name() -> None:
    claims = {"realm_access.roles": "literal", "realm_access": {"roles": ["nested"]}}
    assert extract_scopes(claims, issuer("realm_access.roles")) == {"literal"}


def test_extract_scopes_treats_null_claim_as_absent() -> None:
    assert extract_scopes({"scope": None}, issuer()) == frozenset()


def test_extract_scopes_tolerates_runs_of_spaces() -> None:
    assert extract_scopes({"scope": " a  b "}, issuer()) == {"a", "b"}


def test_extract_scopes_maps_cognito_resource_server_prefix() -> None:
    cognito = issuer(prefixes=(("https://files.example.com/", "files:"),))
    assert extract_scopes(COGNITO, cognito) == {"files:read", "files:write", "aws.cognito.signin.user.admin"}


def test_extract_scopes_applies_longest_prefix_once() -> None:
    config = parse_issuer(
        {"issuer": "https://idp.example.test/", "scope_prefixes": {"api://": "x-", "api://app-id/": ""}},
        allow_http_loopback=False,
        where="ISSUERS[0]",
    )
    claims = {"scope": "api://app-id/files.read api://other/files.read api://app-id/api://app-id/x"}
    assert extract_scopes(claims, config) == {"files.read", "x-other/files.read", "api://app-id/x"}


def test_extract_scopes_drops_scope_that_maps_to_nothing() -> None:
    assert extract_scopes(
        {"scope": "api://app-id/ files.read"}, issuer(prefixes=(("api://app-id/", ""),))
    ) == {"files.read"}


def test_map_prefix_leaves_unmatched_scope_unchanged() -> None:
    assert map_prefix("files.read", (("api://app-id/", ""),)) == "files.read"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(True, id="bool"),
        pytest.param(42, id="number"),
        pytest.param({"read": True}, id="object"),
        pytest.param(["read", 1], id="list-with-number"),
        pytest.param(["read", None], id="list-with-null"),
        pytest.param(["read", ["write"]], id="nested-list"),
        pytest.param(["read", ""], id="empty-item"),
        pytest.param(["files read"], id="space-in-item"),
        pytest.param(["files\tread"], id="tab-in-item"),
        pytest.param(["files\u00a0read"], id="no-break-space-in-item"),
        pytest.param(["files\nX-Admin: yes"], id="newline-in-item"),
        pytest.param(["files\x00"], id="nul-in-item"),
        pytest.param(["\u202eevil"], id="bidi-override"),
        pytest.param("read\twrite", id="tab-in-string"),
        pytest.param("read\r\nwrite", id="crlf-in-string"),
        pytest.param("\ud800", id="lone-surrogate"),
        pytest.param(["s"] * (MAX_SCOPES + 1), id="too-many-in-list"),
        pytest.param(" ".join(["s"] * (MAX_SCOPES + 1)), id="too-many-in-string"),
        pytest.param(["s" * (MAX_SCOPE_LENGTH + 1)], id="too-long-item"),
        pytest.param(" " * (MAX_SCOPES * (MAX_SCOPE_LENGTH + 1) + 1), id="absurd-string"),
    ],
)
def test_extract_scopes_rejects_malformed_claim(value: Any) -> None:
    with pytest.raises(InvalidClaim):
        extract_scopes({"scope": value}, issuer())


def test_extract_scopes_accepts_limits_exactly() -> None:
    items = [f"s{i}".ljust(MAX_SCOPE_LENGTH, "x") for i in range(MAX_SCOPES)]
    assert len(extract_scopes({"scope": items}, issuer())) == MAX_SCOPES
    assert len(extract_scopes({"scope": " ".join(items)}, issuer())) == MAX_SCOPES


def test_extract_scopes_rejects_path_through_non_object() -> None:
    with pytest.raises(InvalidClaim):
        extract_scopes({"realm_access": ["roles"]}, issuer("realm_access.roles"))


def test_claim_at_finds_nothing_through_non_object() -> None:
    assert claim_at({"org": "acme"}, "org.tenant") is None
    assert claim_at({"org": {"tenant": "t1"}}, "org.tenant") == "t1"
    assert claim_at({"org": {}}, "org.tenant") is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=JSON, scope_claim=st.sampled_from(["scope", "scp", "realm_access.roles", "a.b.c"]))
def test_extract_scopes_raises_only_invalid_claim_on_arbitrary_json(value: Any, scope_claim: str) -> None:
    claims = {"scope": value, "scp": value, "realm_access": value, "a": {"b": value}, "a.b": value}
    try:
        scopes = extract_scopes(claims, issuer(scope_claim, prefixes=(("a", ""),)))
    except InvalidClaim:
        return
    assert isinstance(scopes, frozenset)
    assert len(scopes) <= MAX_SCOPES
    assert all(isinstance(s, str) and s and s.isprintable() and " " not in s for s in scopes)


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(
        st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1), max_size=20
    )
)
def test_extract_scopes_string_and_list_forms_agree(items: list[str]) -> None:
    assert extract_scopes({"scope": " ".join(items)}, issuer()) == extract_scopes({"scope": items}, issuer())


def test_extract_scopes_within_allowed_scopes_keeps_them_all_and_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    limited = IssuerConfig(issuer="https://idp.example.test/", allowed_scopes=frozenset({"a:read", "b:write"}))
    with caplog.at_level(logging.WARNING):
        assert extract_scopes({"scope": "a:read b:write"}, limited) == {"a:read", "b:write"}
        assert extract_scopes({"scope": "a:read"}, limited) == {"a:read"}
    assert not caplog.records


def test_extract_scopes_outside_allowed_scopes_drops_and_logs_them(caplog: pytest.LogCaptureFixture) -> None:
    limited = IssuerConfig(issuer="https://idp.example.test/", allowed_scopes=frozenset({"a:read"}))
    with caplog.at_level(logging.WARNING):
        assert extract_scopes({"scope": "a:read admin"}, limited) == {"a:read"}
    assert "dropped: ['admin']" in caplog.text
