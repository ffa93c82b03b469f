"""The add and change pages: grouped fields with help, the key health panels, the form's rules."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.test import Client, override_settings

from django_bearer_guard import runtime
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import Clock, LocalIssuer
from tests.admin.conftest import CHANGELIST
from tests.admin.pages import rows_of
from tests.support.keys import pooled_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_rows_only")]

ADD = CHANGELIST + "add/"
GROUPS = ("Identity", "Key source", "Token rules", "Scopes and workload", "Binding")


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 §3: the SHA-256 of the required members, sorted, without whitespace."""
    members = {name: jwk[name] for name in ("e", "kty", "n")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def form_data(idp: LocalIssuer, **overrides: Any) -> dict[str, str]:
    """The add form filled in for ``idp``; an override of ``None`` leaves the field out (an unticked box)."""
    values: dict[str, Any] = {
        "name": "Corporate", "issuer": idp.issuer, "enabled": "on", "jwks_uri": idp.url + idp.jwks_path,
        "jwks_hosts": "", "jwks": "", "audiences": [idp.audience], "algorithms": ["RS256"], "required_typ": "",
        "required_claims": [], "leeway": "", "scope_claim": "scope", "scope_prefixes": {}, "allowed_scopes": "",
        "workload_claim": "", "workload_trust_domains": "", "binding": "", "profile": "",
    }
    values.update(overrides)
    return {
        name: value if isinstance(value, str) else json.dumps(value)
        for name, value in values.items()
        if value is not None
    }


def errors_of(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, response.status_code
    errors: dict[str, list[str]] = response.context["adminform"].form.errors
    return errors


def test_add_page_groups_the_fields_with_help_from_the_docs(admin_client: Client) -> None:
    html = admin_client.get(ADD).content.decode()
    for group in GROUPS:
        assert f">{group}</h2>" in html, group
    assert "mind the trailing slash" in html
    assert "SPIFFE ID), cnf (RFC 8705" in html
    assert "Key health" not in html


def test_add_page_saves_a_good_row_and_logs_it(admin_client: Client, idp: LocalIssuer) -> None:
    response = admin_client.post(ADD, form_data(idp))
    assert response.status_code == 302, errors_of(response)
    row = TrustedIssuer.objects.get()
    assert (row.issuer, row.audiences, row.enabled, row.jwks_hosts) == (idp.issuer, [idp.audience], True, None)
    assert LogEntry.objects.get(object_id=str(row.pk)).action_flag == ADDITION


def test_add_page_saves_inline_public_keys(admin_client: Client, idp: LocalIssuer) -> None:
    response = admin_client.post(ADD, form_data(idp, jwks_uri="", jwks=idp.jwks()))
    assert response.status_code == 302, errors_of(response)
    assert TrustedIssuer.objects.get().jwks == idp.jwks()


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        # An inline JWKS is parsed by the rules of a fetched one.
        ({"jwks_uri": "", "jwks": {"not": "a key set"}}, "jwks", "the inline 'jwks' is refused"),
        ({"jwks_uri": "", "jwks": {"keys": [{"kty": "oct", "k": "a" * 64}]}}, "jwks", "symmetric"),
        ({"jwks_uri": "", "jwks": {"keys": [{**pooled_key("RS256").public_jwk(), "d": "AQAB"}]}}, "jwks", "private"),
        ({"jwks_uri": "", "jwks": {"keys": [{**pooled_key("RS256").public_jwk(), "use": "enc"}]}}, "jwks",
         "no key for verifying"),
        ({"jwks_uri": "", "jwks": ["k"]}, "jwks", "JWK Set dict"),
        ({"jwks_uri": "", "jwks": "{not json"}, "jwks", "Enter a valid JSON."),
        # The ISSUERS rules.
        ({"issuer": ""}, "issuer", "This field is required."),
        ({"audiences": []}, "audiences", "at least one audience"),
        ({"algorithms": ["none"]}, "algorithms", "unsigned"),
        ({"algorithms": ["HS256"]}, "algorithms", "shared_secret"),
        ({"algorithms": ["XX1"]}, "algorithms", "unsupported algorithm"),
        ({"jwks_uri": "http://idp.example/jwks"}, "jwks_uri", "https"),
        ({"jwks_uri": ""}, "__all__", "exactly one key source"),
        ({"jwks": {"keys": []}}, "__all__", "exactly one key source"),
        ({"discovery": "on", "jwks_uri": "", "issuer": "http://idp.example/"}, "issuer", "discovery"),
        ({"jwks_hosts": ["idp.example"]}, "jwks_hosts", "does not use discovery"),
        ({"discovery": "on", "jwks_uri": "", "jwks_hosts": ["Idp.Example"]}, "jwks_hosts", "host names"),
        ({"required_claims": [1]}, "required_claims", "claim names"),
        ({"leeway": "-1"}, "leeway", "greater than or equal to 0"),
        ({"scope_claim": ""}, "scope_claim", "This field is required."),
        ({"scope_prefixes": {"": "x"}}, "scope_prefixes", "map prefixes"),
        ({"allowed_scopes": ["a b"]}, "allowed_scopes", "list of scopes"),
        ({"profile": "rfc-9068"}, "profile", "Select a valid choice."),
        ({"profile": "fapi2", "algorithms": ["PS256"]}, "binding", "sender-constrained"),
        ({"profile": "jwt-svid", "algorithms": ["RS256", "EdDSA"]}, "algorithms", "does not allow"),
        ({"workload_trust_domains": ["spiffe://prod.example"]}, "workload_trust_domains", "trust domains"),
        ({"binding": "cnf"}, "binding", "TRANSPORT_IDENTITY"),
        ({"binding": "mtls"}, "binding", "Select a valid choice."),
    ],
)
def test_add_page_refuses_each_bad_input_on_its_field(
    admin_client: Client, idp: LocalIssuer, overrides: dict[str, Any], field: str, words: str
) -> None:
    errors = errors_of(admin_client.post(ADD, form_data(idp, **overrides)))
    assert any(words in message for message in errors.get(field, [])), errors
    assert not TrustedIssuer.objects.exists()


def test_add_page_refuses_an_issuer_the_settings_name(
    admin_client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(ISSUERS=[idp.issuer_settings()])
    response = admin_client.post(ADD, form_data(idp))
    assert errors_of(response) == {"__all__": [
        f"BEARER_GUARD['ISSUERS'] names {idp.issuer!r} too, and the settings entry wins: this row would be"
        " ignored. Change the settings entry instead, or remove it first."
    ]}
    assert not TrustedIssuer.objects.exists()


def test_add_page_refuses_a_tenant_of_a_settings_template_and_a_template(
    admin_client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    guard(ISSUERS=[idp.issuer_settings(issuer=idp.url + "/{tenantid}/v2.0", tenants=[tenant])])
    errors = errors_of(admin_client.post(ADD, form_data(idp, issuer=f"{idp.url}/{tenant}/v2.0")))
    assert errors == {"__all__": [
        f"BEARER_GUARD['ISSUERS'] has a template for '{idp.url}/{tenant}/v2.0' too, and the settings entry wins:"
        " this row would be ignored. Change the settings entry instead, or remove it first."
    ]}
    errors = errors_of(admin_client.post(ADD, form_data(idp, issuer="https://idp.example.test/{tenantid}/v2.0")))
    assert any("multi-tenant templates are set in BEARER_GUARD" in message for message in errors["issuer"]), errors
    assert not TrustedIssuer.objects.exists()


def test_add_page_refuses_an_issuer_another_row_has(
    admin_client: Client, idp: LocalIssuer, make_row: Callable[..., TrustedIssuer]
) -> None:
    make_row()
    (message,) = errors_of(admin_client.post(ADD, form_data(idp)))["issuer"]
    assert "already exists" in message


def test_change_page_saves_and_logs_the_change(
    admin_client: Client, idp: LocalIssuer, make_row: Callable[..., TrustedIssuer]
) -> None:
    row = make_row(name="Corporate")
    data = form_data(idp, leeway="5", enabled=None)
    # What the page sends for fields with a callable default (show_hidden_initial).
    for name in ("audiences", "algorithms", "required_claims", "scope_prefixes"):
        data[f"initial-{name}"] = data[name]
    response = admin_client.post(f"{CHANGELIST}{row.pk}/change/", data)
    assert response.status_code == 302, errors_of(response)
    row.refresh_from_db()
    assert (row.leeway, row.enabled) == (5, False)
    entry = LogEntry.objects.get(object_id=str(row.pk))
    assert (entry.action_flag, entry.get_change_message()) == (CHANGE, "Changed Enabled and Leeway.")


def test_change_page_refuses_a_row_the_settings_came_to_shadow(
    admin_client: Client, idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], guard: Callable[..., None]
) -> None:
    row = make_row()
    guard(ISSUERS=[idp.issuer_settings()])
    url = f"{CHANGELIST}{row.pk}/change/"
    assert "shadowed" in admin_client.get(url).content.decode()
    assert "the settings entry wins" in errors_of(admin_client.post(url, form_data(idp)))["__all__"][0]


@override_settings(TIME_ZONE="UTC")
def test_change_page_shows_the_keys_and_the_history_newest_first(
    admin_client: Client, idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], clock: Clock
) -> None:
    row = make_row(name="Corporate")
    runtime.fetch_now(row.to_config(), who="ops")
    clock.advance(60)
    idp.mode = "down"
    runtime.fetch_now(row.to_config(), who="ops")

    html = admin_client.get(f"{CHANGELIST}{row.pk}/change/").content.decode()

    for group in ("Key health", *GROUPS):
        assert f">{group}</h2>" in html, group
    assert html.index("Key health") < html.index(">Identity<")
    assert '<strong class="bearer-guard-status-stale">stale</strong>' in html
    key = idp.signing_key()
    header, *keys = rows_of(html, 'class="bearer-guard-keys"')
    assert list(header.values()) == [
        "kid", "kty", "crv / size", "alg", "use", "thumbprint (RFC 7638, SHA-256)", "expires", "stale until"
    ]
    assert [list(cells.values()) for cells in keys] == [
        [key.kid, "RSA", "2048 bits", "RS256", "sig", thumbprint(key.public_jwk()),
         "2027-01-15 08:05:00 UTC", "2027-01-16 08:05:00 UTC"]
    ]
    header, failed, fetched = rows_of(html, 'class="bearer-guard-history"')
    assert list(header.values()) == ["when", "outcome", "trigger", "key ids", "error"]
    assert list(failed.values())[:4] == ["2027-01-15 08:01:00 UTC", "failed", "manual", ""]
    assert "503" in list(failed.values())[4]
    assert list(fetched.values()) == ["2027-01-15 08:00:00 UTC", "fetched", "manual", key.kid, ""]


def test_change_page_panels_describe_the_saved_row_after_a_refused_post(
    admin_client: Client, idp: LocalIssuer, make_row: Callable[..., TrustedIssuer]
) -> None:
    row = make_row()
    runtime.fetch_now(row.to_config())
    response = admin_client.post(f"{CHANGELIST}{row.pk}/change/", form_data(idp, jwks_uri="https://", name="Edited"))
    assert "jwks_uri" in errors_of(response)
    html = response.content.decode()
    assert '<strong class="bearer-guard-status-healthy">healthy</strong>' in html


def test_change_page_of_a_row_without_keys_says_so(
    admin_client: Client, make_row: Callable[..., TrustedIssuer]
) -> None:
    html = admin_client.get(f"{CHANGELIST}{make_row().pk}/change/").content.decode()
    assert "not fetched yet" in html
    assert "No keys." in html and "No fetch recorded yet." in html


def test_change_page_of_a_missing_row_redirects(admin_client: Client) -> None:
    assert admin_client.get(f"{CHANGELIST}999/change/").status_code == 302


def test_change_page_shows_no_limit_as_an_empty_box_and_none_as_a_list(
    admin_client: Client, make_row: Callable[..., TrustedIssuer]
) -> None:
    row = make_row(allowed_scopes=[])
    html = admin_client.get(f"{CHANGELIST}{row.pk}/change/").content.decode()
    assert re.search(r'<textarea name="workload_trust_domains"[^>]*>\s*</textarea>', html)
    assert re.search(r'<textarea name="allowed_scopes"[^>]*>\s*\[\]</textarea>', html)
    assert "null" not in html


def test_add_page_offers_the_profiles_in_one_select(admin_client: Client) -> None:
    response = admin_client.get(ADD)
    choices = [value for value, _ in response.context["adminform"].form.fields["profile"].choices]
    assert choices == [None, "rfc9068", "jwt-svid", "fapi2"]
    html = response.content.decode()
    assert '<option value="" selected>none</option>' in html and "rfc9068 (typ at+jwt" in html


def test_add_page_saves_a_profile_and_leaves_an_empty_workload_claim_to_it(
    admin_client: Client, idp: LocalIssuer
) -> None:
    response = admin_client.post(ADD, form_data(idp, profile="rfc9068"))
    assert response.status_code == 302, errors_of(response)
    row = TrustedIssuer.objects.get()
    assert (row.profile, row.workload_claim, row.required_claims) == ("rfc9068", None, [])
    config = row.to_config()
    assert (config.workload_claim, config.required_typ) == ("client_id", "at+jwt")
    assert "client_id" in config.required_claims
