from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError
from django.test import override_settings
from jwt.algorithms import RSAAlgorithm
from pytest_django import Settings

from django_bearer_guard.issuers.config import ISSUER_KEYS, parse_issuer
from django_bearer_guard.models import TrustedIssuer
from tests.support.keys import pooled_key

ENTRY: dict[str, Any] = {
    "issuer": "https://idp.example/",
    "audiences": ["https://api.example"],
    "algorithms": ["RS256"],
    "jwks_uri": "https://idp.example/jwks.json",
}


@pytest.fixture(autouse=True)
def _strict_settings(settings: Settings) -> None:
    settings.BEARER_GUARD = {}


def row(**overrides: Any) -> TrustedIssuer:
    return TrustedIssuer(**{**ENTRY, **overrides})


def errors_of(issuer: TrustedIssuer) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        issuer.full_clean()
    return caught.value.message_dict


def test_as_entry_uses_the_issuers_keys_and_never_a_shared_secret() -> None:
    entry = row().as_entry()
    # Multi-tenant templates (tenants) are for the settings only.
    assert set(entry) == ISSUER_KEYS - {"shared_secret", "tenants"}
    assert {key: entry[key] for key in ENTRY} == ENTRY


def test_as_entry_turns_blank_optional_strings_into_none() -> None:
    entry = row(jwks_uri="", discovery=True, required_typ="", binding="").as_entry()
    assert (entry["jwks_uri"], entry["required_typ"], entry["binding"]) == (None, None, None)


def test_to_config_matches_the_same_settings_entry() -> None:
    extra = {"scope_claim": "scp", "scope_prefixes": {"api://x/": ""}, "required_typ": "at+jwt",
             "required_claims": ["sub"], "leeway": 5, "name": "IdP", "allowed_scopes": ["a:read"],
             "workload_trust_domains": ["prod.example"], "profile": "rfc9068"}
    config = row(**extra).to_config()
    expected = parse_issuer({**ENTRY, **extra}, allow_http_loopback=False, where="ISSUERS[0]")
    fields = ("issuer", "name", "audiences", "algorithms", "jwks_uri", "scope_claim", "scope_prefixes",
              "workload_claim", "required_typ", "required_claims", "leeway", "binding", "enabled",
              "allowed_scopes", "workload_trust_domains", "jwks_hosts", "profile")
    assert {f: getattr(config, f) for f in fields} == {f: getattr(expected, f) for f in fields}
    assert config.problems == () and config.usable


def test_defaults_follow_the_settings_defaults() -> None:
    config = row().to_config()
    assert (config.scope_claim, config.workload_claim, config.leeway, config.binding) == ("scope", "sub", None, None)
    assert config.name == ENTRY["issuer"]


@pytest.mark.django_db
def test_full_clean_accepts_a_good_row() -> None:
    row(name="IdP", leeway=0, allowed_scopes=["a:read"], workload_trust_domains=["prod.example"]).full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize("binding", ["workload", "cnf"])
def test_full_clean_refuses_a_certificate_binding_without_a_transport_source(binding: str) -> None:
    with pytest.raises(ValidationError) as raised:
        row(binding=binding).full_clean()
    assert "client certificate" in str(raised.value.message_dict["binding"])


@pytest.mark.django_db
@pytest.mark.parametrize("binding", ["workload", "cnf", "dpop"])
def test_full_clean_accepts_each_binding_it_can_enforce(binding: str, settings: Any) -> None:
    settings.BEARER_GUARD = {"TRANSPORT_IDENTITY": {"source": "environ"}}
    row(binding=binding).full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"algorithms": ["none"]}, "algorithms", "unsigned"),
        ({"algorithms": ["HS256"]}, "algorithms", "shared_secret"),
        ({"algorithms": []}, "algorithms", "accepted algorithms"),
        ({"audiences": []}, "audiences", "at least one audience"),
        ({"jwks_uri": "http://127.0.0.1:9/jwks"}, "jwks_uri", "ALLOW_HTTP_LOOPBACK"),
        ({"jwks_uri": "", "discovery": True, "issuer": "http://idp.example/"}, "issuer", "discovery"),
        ({"jwks_uri": ""}, NON_FIELD_ERRORS, "exactly one key source"),
        ({"jwks": {"keys": []}}, NON_FIELD_ERRORS, "exactly one key source"),
        ({"scope_prefixes": {"": "x"}}, "scope_prefixes", "map prefixes"),
        ({"required_claims": "sub"}, "required_claims", None),
        ({"required_claims": [1]}, "required_claims", "claim names"),
        ({"binding": "mtls"}, "binding", "'binding' must be one of"),
        ({"issuer": ""}, "issuer", "non-empty string"),
        ({"jwks_uri": "", "jwks": ["k"]}, "jwks", "JWK Set dict"),
        ({"jwks_uri": "", "discovery": "yes"}, "discovery", "'discovery' must be True or False"),
        ({"scope_claim": ""}, "scope_claim", "non-empty string"),
        ({"workload_claim": ""}, "workload_claim", "non-empty string"),
        ({"leeway": -1}, "leeway", "whole number of seconds"),
        ({"enabled": "no"}, "enabled", "'enabled' must be True or False"),
        ({"allowed_scopes": ["a b"]}, "allowed_scopes", "list of scopes"),
        ({"workload_trust_domains": ["spiffe://prod.example"]}, "workload_trust_domains", "trust domains"),
        ({"jwks_uri": "", "discovery": True, "jwks_hosts": ["Idp.Example"]}, "jwks_hosts", "host names"),
        ({"jwks_hosts": ["idp.example"]}, "jwks_hosts", "does not use discovery"),
        ({"profile": "rfc-9068"}, "profile", "is not a valid choice"),
        ({"profile": "fapi2", "algorithms": ["PS256"]}, "binding", "sender-constrained"),
        ({"profile": "fapi2", "algorithms": ["RS256"], "binding": "dpop"}, "algorithms", "does not allow"),
    ],
)
def test_full_clean_reports_each_problem_on_its_field(
    overrides: dict[str, Any], field: str, words: str | None
) -> None:
    if words is None:
        row(**overrides).full_clean()  # a single claim name is accepted, as in the settings
        return
    errors = errors_of(row(**overrides))
    assert any(words in message for message in errors[field]), errors
    # The messages speak of the row's fields, not of where a settings entry sits.
    assert not any(message.startswith("TrustedIssuer") for messages in errors.values() for message in messages)


@pytest.mark.django_db
def test_full_clean_allows_loopback_http_only_with_the_setting() -> None:
    issuer = row(jwks_uri="http://127.0.0.1:9/jwks")
    assert "jwks_uri" in errors_of(issuer)
    with override_settings(BEARER_GUARD={"ALLOW_HTTP_LOOPBACK": True}):
        issuer.full_clean()


@pytest.mark.django_db
def test_issuer_is_unique() -> None:
    row().save()
    assert "issuer" in errors_of(row(name="again"))
    with pytest.raises(IntegrityError):
        row(name="again").save()


@pytest.mark.django_db
def test_saved_row_names_itself_in_problems() -> None:
    issuer = row(algorithms=["none"])
    issuer.save()
    problem = issuer.to_config().problems[0]
    assert problem.msg.startswith(f"TrustedIssuer {issuer.pk} ('https://idp.example/'): ")
    assert errors_of(issuer)["algorithms"][0].startswith("'none'")


def test_str_is_the_name_or_the_issuer() -> None:
    assert str(row()) == ENTRY["issuer"]
    assert str(row(name="Corporate IdP")) == "Corporate IdP"


def _inline(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"jwks_uri": "", "jwks": {"keys": list(keys)}}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("jwks", "words"),
    [
        ({"not": "a key set"}, "no 'kty'"),
        ({"keys": "x"}, "must be a list"),
        ({"keys": [{}]}, "no 'kty'"),
        ({"keys": [{**pooled_key("RS256").public_jwk(), "use": "enc"}]}, "no key for verifying"),
        ({"keys": [{**pooled_key("RS256").public_jwk(), "d": "AQAB"}]}, "private"),
        ({"keys": [{"kty": "oct", "k": "a" * 64}]}, "symmetric"),
        ({"keys": [pooled_key("RS256").public_jwk(), pooled_key("RS256").public_jwk()]}, "repeats kid"),
        ({"keys": [{**pooled_key("ES256").public_jwk(), "alg": "RS256"}]}, "declares alg RS256"),
    ],
)
def test_full_clean_parses_an_inline_jwks_like_a_fetched_one(jwks: dict[str, Any], words: str) -> None:
    errors = errors_of(row(jwks_uri="", jwks=jwks))
    assert list(errors) == ["jwks"], errors
    assert errors["jwks"][0].startswith("the inline 'jwks' is refused: ")
    assert words in errors["jwks"][0], errors


@pytest.mark.django_db
def test_full_clean_refuses_a_short_rsa_key_inline() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    weak = {**RSAAlgorithm.to_jwk(small.public_key(), as_dict=True), "kid": "small"}
    assert list(errors_of(row(**_inline(weak)))) == ["jwks"]


@pytest.mark.django_db
def test_full_clean_accepts_public_signing_keys_inline() -> None:
    row(**_inline(pooled_key("RS256").public_jwk(), pooled_key("ES256").public_jwk())).full_clean()


def test_the_token_checker_permission_is_declared() -> None:
    assert ("check_token", "Can use the token checker") in TrustedIssuer._meta.permissions


def test_as_entry_leaves_an_empty_workload_claim_and_claim_list_to_the_profile() -> None:
    config = row(profile="rfc9068", workload_claim=None, required_claims=[]).to_config()
    assert (config.workload_claim, config.required_typ) == ("client_id", "at+jwt")
    assert config.required_claims == ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
    assert row(profile="rfc9068", required_claims=None).to_config().required_claims == config.required_claims


def test_explicit_row_fields_override_the_profile() -> None:
    config = row(profile="rfc9068", workload_claim="sub", required_claims=["sub"], required_typ="JWT").to_config()
    assert (config.workload_claim, config.required_claims, config.required_typ) == ("sub", ("sub",), "JWT")


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_sub_for_existing_rows_and_none_for_new_ones() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    app = "django_bearer_guard"
    executor = MigrationExecutor(connection)
    executor.migrate([(app, "0003_check_token_permission")])
    old = executor.loader.project_state([(app, "0003_check_token_permission")]).apps.get_model(app, "TrustedIssuer")
    pk = old.objects.create(**ENTRY).pk
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes(app))
    kept = TrustedIssuer.objects.get(pk=pk)
    assert (kept.workload_claim, kept.profile) == ("sub", None)
    assert TrustedIssuer.objects.create(issuer="https://other.example/").workload_claim is None
