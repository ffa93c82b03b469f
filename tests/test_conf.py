from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from django_bearer_guard import conf
from django_bearer_guard.checks import check_settings
from django_bearer_guard.conf import get_settings, require_valid
from django_bearer_guard.testing import LocalIssuer
from tests.support.client import bearer, challenge_params

ISSUER = {
    "issuer": "https://idp.example/",
    "audiences": ["api"],
    "algorithms": ["RS256"],
    "jwks_uri": "https://idp.example/jwks.json",
}


def parsed(**settings: Any) -> conf.GuardSettings:
    with override_settings(BEARER_GUARD=settings):
        return get_settings()


def ids(settings: conf.GuardSettings) -> list[str]:
    return [p.id for p in settings.problems] + [p.id for i in settings.issuers for p in i.problems]


def test_defaults_are_safe() -> None:
    settings = parsed()
    assert settings.allow_http_loopback is False
    assert settings.max_token_bytes == 8192
    assert (settings.jwks_min_ttl, settings.jwks_max_ttl) == (300, 86400)
    assert settings.jwks_refetch_cooldown == 30
    assert settings.user_lookup is None
    assert settings.issuers == ()
    assert settings.problems == ()


def test_issuer_defaults_follow_the_contract() -> None:
    (issuer,) = parsed(ISSUERS=[ISSUER]).issuers
    assert (issuer.scope_claim, issuer.workload_claim, issuer.leeway, issuer.binding) == ("scope", "sub", None, None)
    assert issuer.usable
    assert issuer.name == ISSUER["issuer"]


def test_setting_changed_re_reads_the_settings() -> None:
    with override_settings(BEARER_GUARD={"LEEWAY": 5}):
        assert get_settings().leeway == 5
        with override_settings(BEARER_GUARD={"LEEWAY": 7}):
            assert get_settings().leeway == 7
        assert get_settings().leeway == 5


def test_source_id_changes_with_the_key_source() -> None:
    a = parsed(ISSUERS=[ISSUER]).issuers[0]
    b = parsed(ISSUERS=[{**ISSUER, "jwks_uri": "https://idp.example/other.json"}]).issuers[0]
    c = parsed(ISSUERS=[{**{k: v for k, v in ISSUER.items() if k != "jwks_uri"}, "discovery": True}]).issuers[0]
    assert len({a.source_id, b.source_id, c.source_id}) == 3


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"LEWAY": 3}, "bearer_guard.E001"),
        ({"LEEWAY": "30"}, "bearer_guard.E002"),
        ({"LEEWAY": True}, "bearer_guard.E002"),
        ({"MAX_TOKEN_BYTES": 10}, "bearer_guard.E002"),
        ({"JWKS_TIMEOUT": 0}, "bearer_guard.E002"),
        ({"JWKS_TIMEOUT": float("nan")}, "bearer_guard.E002"),
        ({"JWKS_TIMEOUT": float("inf")}, "bearer_guard.E002"),
        ({"JWKS_TIMEOUT": 600}, "bearer_guard.E002"),
        ({"JWKS_REFETCH_COOLDOWN": float("nan")}, "bearer_guard.E002"),
        ({"LEEWAY": 10**12}, "bearer_guard.E002"),
        ({"JWKS_MIN_TTL": 100, "JWKS_MAX_TTL": 50}, "bearer_guard.E015"),
        ({"REALM": ""}, "bearer_guard.E002"),
        ({"REALM": 'a"b'}, "bearer_guard.E002"),
        ({"ALLOW_HTTP_LOOPBACK": "yes"}, "bearer_guard.E002"),
        ({"ISSUERS": {"issuer": "x"}}, "bearer_guard.E016"),
        ({"ISSUERS": ["x"]}, "bearer_guard.E016"),
        ({"ISSUERS": [{**ISSUER, "audience": "api"}]}, "bearer_guard.E017"),
        ({"ISSUERS": [{**ISSUER, "issuer": ""}]}, "bearer_guard.E018"),
        ({"ISSUERS": [{**ISSUER, "audiences": []}]}, "bearer_guard.E019"),
        ({"ISSUERS": [{**ISSUER, "scope_claim": ""}]}, "bearer_guard.E003"),
        ({"ISSUERS": [{**ISSUER, "required_claims": [1]}]}, "bearer_guard.E003"),
        ({"ISSUERS": [{**ISSUER, "leeway": -1}]}, "bearer_guard.E003"),
        ({"ISSUERS": [{**ISSUER, "binding": "mtls"}]}, "bearer_guard.E003"),
        ({"ISSUERS": [{**ISSUER, "enabled": "no"}]}, "bearer_guard.E003"),
        ({"ISSUERS": [{**ISSUER, "name": 3}]}, "bearer_guard.E003"),
        ({"ISSUERS": [{**ISSUER, "scope_prefixes": ["api://"]}]}, "bearer_guard.E003"),
        ({"ISSUERS": [{**ISSUER, "allowed_scopes": ["a b"]}]}, "bearer_guard.E003"),
        ({"ISSUERS": [{**ISSUER, "jwks_hosts": ["idp.example"]}]}, "bearer_guard.E023"),
        ({"ISSUERS": [{**ISSUER, "jwks_uri": None}]}, "bearer_guard.E004"),
        ({"ISSUERS": [{**ISSUER, "discovery": True}]}, "bearer_guard.E004"),
        ({"ISSUERS": [{**ISSUER, "jwks_uri": None, "discovery": "yes"}]}, "bearer_guard.E003"),
        ({"ISSUERS": [{**ISSUER, "jwks_uri": None, "jwks": ["k"]}]}, "bearer_guard.E003"),
        ({"ISSUERS": [{**ISSUER, "algorithms": []}]}, "bearer_guard.E005"),
        ({"ISSUERS": [{**ISSUER, "algorithms": ["none"]}]}, "bearer_guard.E005"),
        ({"ISSUERS": [{**ISSUER, "algorithms": ["NONE"]}]}, "bearer_guard.E005"),
        ({"ISSUERS": [{**ISSUER, "algorithms": ["RS1"]}]}, "bearer_guard.E005"),
        ({"ISSUERS": [{**ISSUER, "algorithms": ["RS256", "HS256"]}]}, "bearer_guard.E006"),
        (
            {"ISSUERS": [{**ISSUER, "jwks_uri": None, "shared_secret": "short", "algorithms": ["HS256"]}]},
            "bearer_guard.E022",
        ),
        (
            {"ISSUERS": [{**ISSUER, "jwks_uri": None, "shared_secret": "s" * 32, "algorithms": ["HS256", "RS256"]}]},
            "bearer_guard.E006",
        ),
        ({"ISSUERS": [{**ISSUER, "jwks_uri": "http://idp.example/jwks"}]}, "bearer_guard.E007"),
        ({"ISSUERS": [{**ISSUER, "jwks_uri": "http://127.0.0.1:9/jwks"}]}, "bearer_guard.E007"),
        ({"ISSUERS": [{**ISSUER, "jwks_uri": "ftp://idp.example/jwks"}]}, "bearer_guard.E007"),
        ({"ISSUERS": [{**ISSUER, "jwks_uri": "https://user:pw@idp.example/jwks"}]}, "bearer_guard.E007"),
        ({"ISSUERS": [{**ISSUER, "jwks_uri": "https://idp.example:99999/jwks"}]}, "bearer_guard.E007"),
        ({"ISSUERS": [{**ISSUER, "jwks_uri": "https://idp.example/jwks#x"}]}, "bearer_guard.E007"),
        ({"ISSUERS": [{**ISSUER, "jwks_uri": ""}]}, "bearer_guard.E004"),
        (
            {
                "ISSUERS": [
                    {
                        **{k: v for k, v in ISSUER.items() if k != "jwks_uri"},
                        "discovery": True,
                        "issuer": "http://idp.example/",
                    }
                ]
            },
            "bearer_guard.E007",
        ),
        ({"ISSUERS": [ISSUER, ISSUER]}, "bearer_guard.E008"),
        ({"USER_LOOKUP": {"claim": "sub", "field": "username", "create": "no"}}, "bearer_guard.E009"),
        ({"USER_LOOKUP": {"claims": "sub"}}, "bearer_guard.E009"),
        ({"SCOPE_PERMISSIONS": {"read": "app.view_doc"}}, "bearer_guard.E010"),
        ({"SCOPE_PERMISSIONS": {"read": ["view_doc"]}}, "bearer_guard.E010"),
        ({"TRANSPORT_IDENTITY": {"source": "magic"}}, "bearer_guard.E011"),
        ({"TRANSPORT_IDENTITY": {"sources": None}}, "bearer_guard.E011"),
        ({"TRANSPORT_IDENTITY": "xfcc"}, "bearer_guard.E011"),
    ],
)
def test_bad_settings_are_reported_with_a_stable_id(settings: dict[str, Any], problem: str) -> None:
    assert problem in ids(parsed(**settings))


def test_not_a_dict_is_reported() -> None:
    with override_settings(BEARER_GUARD=["x"]):
        assert "bearer_guard.E001" in ids(get_settings())


def test_http_loopback_key_url_needs_the_explicit_setting() -> None:
    entry = {**ISSUER, "jwks_uri": "http://127.0.0.1:9/jwks"}
    assert parsed(ISSUERS=[entry], ALLOW_HTTP_LOOPBACK=True).issuers[0].usable
    assert (
        parsed(ISSUERS=[{**entry, "jwks_uri": "http://localhost:9/jwks"}], ALLOW_HTTP_LOOPBACK=True).issuers[0].usable
    )
    assert parsed(ISSUERS=[{**entry, "jwks_uri": "http://[::1]:9/jwks"}], ALLOW_HTTP_LOOPBACK=True).issuers[0].usable
    assert (
        not parsed(ISSUERS=[{**entry, "jwks_uri": "http://10.0.0.1/jwks"}], ALLOW_HTTP_LOOPBACK=True).issuers[0].usable
    )


def test_shared_secret_issuer_is_usable_with_hs_only() -> None:
    entry = {"issuer": "i", "audiences": ["a"], "algorithms": ["HS256"], "shared_secret": b"s" * 32}
    (issuer,) = parsed(ISSUERS=[entry]).issuers
    assert issuer.usable and issuer.shared_secret == b"s" * 32
    assert "s" * 32 not in repr(issuer)


def test_one_bad_issuer_does_not_disable_the_others() -> None:
    settings = parsed(ISSUERS=[ISSUER, {**ISSUER, "issuer": "https://other/", "algorithms": ["none"]}])
    assert [i.usable for i in settings.issuers] == [True, False]
    require_valid(settings)


def test_require_valid_raises_for_global_problems() -> None:
    with pytest.raises(ImproperlyConfigured, match="LEEWAY"):
        require_valid(parsed(LEEWAY=-1))


def test_valid_optional_settings_are_parsed() -> None:
    settings = parsed(
        USER_LOOKUP={"claim": "email", "field": "email", "create": True},
        SCOPE_PERMISSIONS={"docs:write": ["docs.add_doc", "docs.change_doc"]},
        TRANSPORT_IDENTITY={"source": "xfcc", "header": "X-Client-Cert", "trusted_proxies": ["10.0.0.0/8", "fd00::/8"]},
        DPOP_PROOF_MAX_AGE=120,
        DPOP_NONCE=True,
        DPOP_NONCE_LIFETIME=600,
        ISSUERS=[
            {
                **ISSUER,
                "scope_prefixes": {"api://a/": "", "api://": "x:"},
                "leeway": 0,
                "required_claims": ["sub"],
                "required_typ": "at+jwt",
                "allowed_scopes": ["docs:write"],
            }
        ],
    )
    assert settings.user_lookup == conf.UserLookup("email", "email", True)
    assert settings.issuers[0].allowed_scopes == frozenset({"docs:write"})
    assert settings.scope_permissions == {"docs:write": ("docs.add_doc", "docs.change_doc")}
    transport = settings.transport_identity
    assert transport.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))
    assert (transport.source, transport.meta_key) == ("xfcc", "HTTP_X_CLIENT_CERT")
    assert (settings.dpop_proof_max_age, settings.dpop_nonce, settings.dpop_nonce_lifetime) == (120, True, 600)
    assert settings.issuers[0].scope_prefixes == (("api://a/", ""), ("api://", "x:"))
    assert settings.problems == ()


def test_override_settings_fully_controls_behaviour(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    token = idp.mint()
    assert bearer(client, token).status_code == 200
    with override_settings(BEARER_GUARD={"ISSUERS": [], "REALM": "other", "ALLOW_HTTP_LOOPBACK": True}):
        response = bearer(client, token)
        assert response.status_code == 401
        assert challenge_params(response["WWW-Authenticate"])["realm"] == "other"
    with override_settings(
        BEARER_GUARD={"ISSUERS": [idp.issuer_settings()], "ALLOW_HTTP_LOOPBACK": True, "MAX_TOKEN_BYTES": 300}
    ):
        assert bearer(client, token).status_code == 401
    with override_settings(
        BEARER_GUARD={"ISSUERS": [idp.issuer_settings(audiences=["urn:other"])], "ALLOW_HTTP_LOOPBACK": True}
    ):
        assert bearer(client, token).status_code == 401
    assert bearer(client, token).status_code == 200


def test_documented_settings_keys_are_accepted(guard: Callable[..., None], idp: LocalIssuer) -> None:
    guard(
        issuers=[
            idp.issuer_settings(
                scope_claim="scp",
                workload_claim="azp",
                required_typ="at+jwt",
                required_claims=["exp", "iat", "sub"],
                leeway=10,
            )
        ],
        LEEWAY=30,
        REALM="api",
        MAX_TOKEN_BYTES=8192,
        CACHE_ALIAS="default",
        JWKS_TIMEOUT=2.0,
        JWKS_MAX_BYTES=262144,
        JWKS_MIN_TTL=300,
        JWKS_MAX_TTL=86400,
        JWKS_REFETCH_COOLDOWN=30,
        JWKS_STALE_WINDOW=86400,
        USER_LOOKUP=None,
        SCOPE_PERMISSIONS={},
        TRANSPORT_IDENTITY={"source": None, "header": "X-Forwarded-Client-Cert", "trusted_proxies": []},
    )
    assert [m for m in check_settings() if isinstance(m, Error)] == []


def test_small_timing_values_are_legal(guard: Callable[..., None]) -> None:
    guard(JWKS_TIMEOUT=1, JWKS_MIN_TTL=1, JWKS_MAX_TTL=1, JWKS_REFETCH_COOLDOWN=1, JWKS_STALE_WINDOW=1, LEEWAY=1)
    assert [m for m in check_settings() if isinstance(m, Error)] == []
