"""Attacks by the holder of one trusted issuer on the identities, objects and scopes of another.

The attacker runs a partner IdP that this API trusts (a settings entry or a TrustedIssuer row)
and mints whatever it likes: ``sub: "admin"``, another issuer's subjects, SPIFFE IDs of other
trust domains, scopes it was never meant to grant. An issuer speaks only for itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.checks import CheckMessage
from rest_framework.test import APIClient

from django_bearer_guard.checks import check_scope_declarations, check_settings
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support.keys import pooled_key
from tests.testapp import scope_views
from tests.testapp.models import Document

LOCAL_USER_LOOKUP = {"claim": "sub", "field": "username"}


@pytest.fixture
def partner(make_idp: Callable[..., LocalIssuer]) -> LocalIssuer:
    """A second trusted IdP with its own key: the attacker's."""
    return make_idp(keys=[pooled_key("RS256", 1)])


@pytest.fixture
def two_issuers(idp: LocalIssuer, partner: LocalIssuer, guard: Callable[..., None]) -> Callable[..., None]:
    """Trust ``idp`` (ours) and ``partner`` in the settings; overrides per issuer and globally."""

    def apply(local: dict[str, Any] | None = None, other: dict[str, Any] | None = None, **settings: Any) -> None:
        guard(issuers=[idp.issuer_settings(**(local or {})), partner.issuer_settings(**(other or {}))], **settings)

    apply()
    return apply


def get(path: str, token: str, method: str = "get") -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return getattr(client, method)(path)


def ids(messages: list[CheckMessage]) -> set[str]:
    return {message.id for message in messages if message.id}


@pytest.fixture
def local_admin() -> User:
    admin: User = User.objects.create_superuser("admin", password="not-used")
    return admin


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any, clock: Clock) -> Callable[..., Any]:
    """Rows saved as in production (the stamp bump runs), read on the next request."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# USER_LOOKUP: whose subjects are Django users


@pytest.mark.django_db
def test_partner_row_sub_admin_does_not_become_the_local_superuser(
    idp: LocalIssuer, partner: LocalIssuer, guard: Callable[..., None], local_admin: User, committed: Any
) -> None:
    guard(USER_LOOKUP=LOCAL_USER_LOOKUP)
    with committed():
        TrustedIssuer.objects.create(**partner.issuer_settings(name="Partner"))
    body = get("/scoped/user/", partner.mint(sub="admin")).json()
    assert body["class"] == "TokenUser"
    assert (body["is_superuser"], body["is_staff"], body["can_delete"]) == (False, False, False)
    # Not the admin's primary key, nor any row's: a token user's pk names its issuer and subject.
    assert body["pk"] != local_admin.pk and body["pk"].startswith("token:")
    # Our own issuer's "admin" still is the local admin.
    assert get("/scoped/user/", idp.mint(sub="admin")).json()["pk"] == local_admin.pk


@pytest.mark.django_db
def test_partner_settings_issuer_outside_user_lookup_issuers_stays_a_token_user(
    idp: LocalIssuer, partner: LocalIssuer, two_issuers: Callable[..., None], local_admin: User
) -> None:
    two_issuers(USER_LOOKUP={**LOCAL_USER_LOOKUP, "issuers": [idp.issuer]})
    assert get("/scoped/user/", partner.mint(sub="admin")).json()["class"] == "TokenUser"
    assert get("/scoped/user/", idp.mint(sub="admin")).json()["is_superuser"] is True


@pytest.mark.django_db
def test_partner_row_listed_in_user_lookup_issuers_maps_to_users(
    partner: LocalIssuer, guard: Callable[..., None], committed: Any
) -> None:
    bob = User.objects.create_user("bob")
    guard(USER_LOOKUP={**LOCAL_USER_LOOKUP, "issuers": [partner.issuer]})
    with committed():
        TrustedIssuer.objects.create(**partner.issuer_settings())
    assert get("/scoped/user/", partner.mint(sub="bob")).json()["pk"] == bob.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    "look_alike",
    [
        "\uff41\uff44\uff4d\uff49\uff4e",  # full-width "admin"
        "\u212adm",  # KELVIN SIGN for K, NFKC turns it into "Kdm"
        "admi\u0301n",  # a combining accent
    ],
)
def test_look_alike_subject_is_refused_not_mapped_to_the_account_it_imitates(
    idp: LocalIssuer, guard: Callable[..., None], local_admin: User, look_alike: str
) -> None:
    User.objects.create_user("Kdm")
    guard(USER_LOOKUP={**LOCAL_USER_LOOKUP, "create": True})
    response = get("/scoped/user/", idp.mint(sub=look_alike))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert User.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["  Admin", "admin\u00a0", "a/b", "al ice"])
def test_create_refuses_user_names_the_username_validators_refuse(
    idp: LocalIssuer, guard: Callable[..., None], local_admin: User, name: str
) -> None:
    guard(USER_LOOKUP={**LOCAL_USER_LOOKUP, "create": True})
    assert get("/scoped/user/", idp.mint(sub=name)).status_code == 401
    assert list(User.objects.values_list("username", flat=True)) == ["admin"]


def test_check_warns_when_several_settings_issuers_map_to_users_by_bare_claim(
    two_issuers: Callable[..., None], idp: LocalIssuer
) -> None:
    two_issuers(USER_LOOKUP=LOCAL_USER_LOOKUP)
    assert "bearer_guard.W007" in ids(check_settings())
    two_issuers(USER_LOOKUP={**LOCAL_USER_LOOKUP, "issuers": [idp.issuer]})
    assert "bearer_guard.W007" not in ids(check_settings())


# Objects owned by another issuer's subject


@pytest.mark.django_db
def test_partner_alice_does_not_own_local_alices_objects(
    idp: LocalIssuer, partner: LocalIssuer, two_issuers: Callable[..., None]
) -> None:
    doc = Document.objects.create(title="t", owner="alice", owner_issuer=idp.issuer)
    assert get(f"/scoped/issuer-owned/{doc.pk}/", partner.mint(sub="alice")).status_code == 403
    assert get(f"/scoped/issuer-owned/{doc.pk}/", idp.mint(sub="alice")).status_code == 200


@pytest.mark.django_db
def test_object_without_owner_issuer_is_owned_by_nobody(idp: LocalIssuer, two_issuers: Callable[..., None]) -> None:
    doc = Document.objects.create(title="t", owner="alice")
    assert get(f"/scoped/issuer-owned/{doc.pk}/", idp.mint(sub="alice")).status_code == 403


def test_check_warns_on_bare_claim_ownership_when_several_issuers_are_trusted(
    two_issuers: Callable[..., None], guard: Callable[..., None], idp: LocalIssuer
) -> None:
    warned = [m for m in check_scope_declarations() if m.id == "bearer_guard.W008"]
    assert {m.obj for m in warned} == {
        scope_views.OwnedDocumentView, scope_views.TenantDocumentView, scope_views.MisconfiguredOwnerView
    }
    guard(issuers=[idp.issuer_settings()])
    assert "bearer_guard.W008" not in ids(check_scope_declarations())


# Views restricted to some issuers


_LOCAL_VIEWS = (scope_views.LocalReportView, scope_views.LocalWorkloadView, scope_views.LocalComposedView)


@pytest.fixture
def local_only(idp: LocalIssuer) -> Iterator[None]:
    for view in _LOCAL_VIEWS:
        view.allowed_issuers = [idp.issuer]
    yield
    for view in _LOCAL_VIEWS:
        view.allowed_issuers = None


@pytest.mark.parametrize("path", ["/scoped/local-composed/", "/scoped/local-authenticated/"])
def test_partner_token_cannot_pass_allowed_issuers_through_another_permission(
    idp: LocalIssuer, partner: LocalIssuer, two_issuers: Callable[..., None], local_only: None, path: str
) -> None:
    # HasScopes | IsAuthenticated, or IsAuthenticated alone: the view's issuer rule still holds.
    response = get(path, partner.mint(scope="reports:read"))
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"
    assert get(path, idp.mint()).status_code == 200


def test_partner_token_with_every_scope_cannot_reach_a_view_of_another_issuer(
    idp: LocalIssuer, partner: LocalIssuer, two_issuers: Callable[..., None], local_only: None
) -> None:
    response = get("/scoped/local-reports/", partner.mint(scope="reports:read reports:write admin"))
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"
    assert get("/scoped/local-reports/", idp.mint(scope="reports:read")).status_code == 200


def test_partner_workload_cannot_reach_a_workload_view_of_another_issuer(
    idp: LocalIssuer, partner: LocalIssuer, two_issuers: Callable[..., None], local_only: None
) -> None:
    billing = "spiffe://example.org/ns/prod/sa/billing"
    assert get("/scoped/local-workload/", partner.mint(sub=billing)).status_code == 403
    assert get("/scoped/local-workload/", idp.mint(sub=billing)).status_code == 200


@pytest.mark.parametrize("allowed", ["https://one.example/", [""], [None], 42])
def test_malformed_allowed_issuers_refuses_every_issuer(
    idp: LocalIssuer, guard: Callable[..., None], allowed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    scope_views.LocalReportView.allowed_issuers = allowed
    try:
        with caplog.at_level(logging.ERROR, "django_bearer_guard"):
            assert get("/scoped/local-reports/", idp.mint(scope="reports:read")).status_code == 403
    finally:
        scope_views.LocalReportView.allowed_issuers = None
    assert "allowed_issuers" in caplog.text


@pytest.mark.django_db
def test_allowed_issuers_guards_object_ownership(
    idp: LocalIssuer, partner: LocalIssuer, two_issuers: Callable[..., None]
) -> None:
    doc = Document.objects.create(title="t", owner="alice", owner_issuer=partner.issuer)
    scope_views.IssuerOwnedDocumentView.allowed_issuers = [idp.issuer]  # type: ignore[attr-defined]
    try:
        assert get(f"/scoped/issuer-owned/{doc.pk}/", partner.mint(sub="alice")).status_code == 403
    finally:
        del scope_views.IssuerOwnedDocumentView.allowed_issuers  # type: ignore[attr-defined]
    assert get(f"/scoped/issuer-owned/{doc.pk}/", partner.mint(sub="alice")).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("value", [["owner_issuer"], 7, ""])
def test_malformed_owner_issuer_field_refuses_instead_of_failing(
    idp: LocalIssuer, guard: Callable[..., None], value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    doc = Document.objects.create(title="t", owner="alice", owner_issuer=idp.issuer)
    scope_views.MisconfiguredOwnerView.owner_issuer_field = value
    try:
        response = get(f"/scoped/misconfigured-owner/{doc.pk}/", idp.mint(sub="alice"))
    finally:
        scope_views.MisconfiguredOwnerView.owner_issuer_field = None
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"


# Scopes an issuer may grant


def test_partner_cannot_grant_itself_scopes_outside_allowed_scopes(
    partner: LocalIssuer, two_issuers: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    two_issuers(other={"allowed_scopes": ["reports:read"]})
    token = partner.mint(scope="reports:read reports:write admin")
    with caplog.at_level(logging.WARNING, "django_bearer_guard"):
        assert get("/scoped/reports/", token, "post").status_code == 403
    assert "admin" in caplog.text and "reports:write" in caplog.text
    assert get("/scoped/reports/", token).status_code == 200
    assert get("/whoami/", token).json()["scopes"] == ["reports:read"]


def test_allowed_scopes_apply_after_the_prefix_mapping(partner: LocalIssuer, two_issuers: Callable[..., None]) -> None:
    two_issuers(other={"scope_claim": "scp", "scope_prefixes": {"api://x/": ""}, "allowed_scopes": ["reports:read"]})
    token = partner.mint(scp="api://x/reports:read api://x/admin reports:read-all")
    assert get("/whoami/", token).json()["scopes"] == ["reports:read"]


def test_empty_allowed_scopes_grant_nothing(partner: LocalIssuer, two_issuers: Callable[..., None]) -> None:
    two_issuers(other={"allowed_scopes": []})
    assert get("/scoped/reports/", partner.mint(scope="reports:read")).status_code == 403


# Workloads an issuer may assert


@pytest.mark.parametrize(
    "workload",
    [
        "spiffe://example.org/ns/prod/sa/billing",  # our trust domain
        "spiffe://partner.example.evil/ns/a",  # a longer name is another trust domain
        "spiffe://PARTNER.example/ns/a",  # trust domains are lower case
        "spiffe://partner.example/ns/../sa",  # dot segments
        "spiffe://partner.example/ns//a",  # empty segment
        "spiffe://partner.example:443/ns/a",  # port
        "spiffe://partner.example/ns/a/",  # trailing slash
        "spiffe://partner.example/ns/a?x=1",  # query
        "billing",  # not a SPIFFE ID
    ],
)
def test_partner_cannot_assert_workloads_outside_its_trust_domains(
    partner: LocalIssuer, two_issuers: Callable[..., None], workload: str
) -> None:
    two_issuers(other={"workload_trust_domains": ["partner.example"]})
    assert get("/whoami/", partner.mint(sub="spiffe://partner.example/ns/a")).status_code == 200
    response = get("/scoped/workload/", partner.mint(sub=workload))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize("claims", [{"sub": 42}, {"azp": ["a"]}])
def test_trust_domains_refuse_a_workload_claim_that_is_not_a_string(
    partner: LocalIssuer, two_issuers: Callable[..., None], claims: dict[str, Any]
) -> None:
    name = next(iter(claims))
    two_issuers(other={"workload_trust_domains": ["partner.example"], "workload_claim": name})
    inside: dict[str, Any] = {name: "spiffe://partner.example/a"}
    assert get("/whoami/", partner.mint(**inside)).status_code == 200
    assert get("/whoami/", partner.mint(**claims)).status_code == 401


def test_partner_workload_inside_its_trust_domain_is_accepted(
    partner: LocalIssuer, two_issuers: Callable[..., None]
) -> None:
    two_issuers(other={"workload_trust_domains": ["partner.example"]})
    body = get("/whoami/", partner.mint(sub="spiffe://partner.example/ns/a/sa/b")).json()
    assert body["workload"] == "spiffe://partner.example/ns/a/sa/b"
    # It is still not one of the workloads the view allows.
    assert get("/scoped/workload/", partner.mint(sub="spiffe://partner.example/ns/batch/x")).status_code == 403


def test_token_without_workload_from_trust_domain_issuer_has_none(
    partner: LocalIssuer, two_issuers: Callable[..., None]
) -> None:
    two_issuers(other={"workload_trust_domains": ["partner.example"]})
    assert get("/whoami/", partner.mint(sub=None)).json()["workload"] is None


@pytest.mark.django_db
def test_trusted_issuer_row_limits_are_enforced(
    partner: LocalIssuer, guard: Callable[..., None], committed: Any
) -> None:
    guard(ISSUERS=[])
    limits = {"allowed_scopes": ["reports:read"], "workload_trust_domains": ["partner.example"]}
    with committed():
        row = TrustedIssuer(**partner.issuer_settings(**limits))
        row.full_clean()
        row.save()
    token = partner.mint(scope="reports:read admin", sub="spiffe://partner.example/a")
    assert get("/scoped/reports/", token, "post").status_code == 403
    assert get("/whoami/", partner.mint(sub="spiffe://example.org/ns/prod/sa/billing")).status_code == 401
    assert get("/whoami/", partner.mint(sub="spiffe://partner.example/a")).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("allowed_scopes", "reports:read"),
        ("allowed_scopes", ["two words"]),
        ("workload_trust_domains", ["spiffe://partner.example"]),
        ("workload_trust_domains", ["Partner.Example"]),
        ("jwks_hosts", ["https://keys.example"]),
        ("jwks_hosts", ["keys.example"]),  # limits discovery only, and this row has a jwks_uri
    ],
)
def test_full_clean_refuses_malformed_issuer_limits(partner: LocalIssuer, field: str, value: Any) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as raised:
        TrustedIssuer(**partner.issuer_settings(**{field: value})).full_clean()
    assert field in raised.value.message_dict


# Bound tokens and binding settings that cannot be enforced


@pytest.mark.parametrize(
    "cnf",
    [
        {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
        {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
        {},
        None,
    ],
)
def test_sender_constrained_token_replayed_as_bare_bearer_is_refused(
    idp: LocalIssuer, guard: Callable[..., None], cnf: Any
) -> None:
    token = idp.mint(cnf=cnf) if cnf is not None else idp.mint(cnf={"jwk": {"kty": "OKP"}})
    response = get("/whoami/", token)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


@pytest.mark.parametrize("binding", ["workload", "cnf"])
def test_certificate_binding_without_a_transport_source_fails_closed(
    idp: LocalIssuer, guard: Callable[..., None], binding: str
) -> None:
    guard(issuers=[idp.issuer_settings(binding=binding)])
    assert get("/whoami/", idp.mint()).status_code == 401
    errors = [m for m in check_settings() if m.id == "bearer_guard.E014"]
    assert len(errors) == 1 and "'binding'" in errors[0].msg and errors[0].is_serious()


def test_dpop_issuer_refuses_its_unbound_tokens_sent_as_bearer(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[idp.issuer_settings(binding="dpop")])
    response = get("/whoami/", idp.mint())
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": "The access token must be DPoP-bound."}
    assert not [m for m in check_settings() if m.is_serious()]


def test_proxy_source_without_trusted_proxies_warns_it_believes_nobody(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(TRANSPORT_IDENTITY={"source": "xfcc"})
    warned = [m for m in check_settings() if m.id == "bearer_guard.W005"]
    assert len(warned) == 1 and not warned[0].is_serious()
    # A warning, not a refusal: unbound tokens keep working.
    assert get("/whoami/", idp.mint()).status_code == 200


def test_unbound_issuer_is_unaffected_by_another_issuers_binding(
    idp: LocalIssuer, partner: LocalIssuer, two_issuers: Callable[..., None]
) -> None:
    two_issuers(other={"binding": "dpop"})
    assert get("/whoami/", partner.mint()).status_code == 401
    assert get("/whoami/", idp.mint()).status_code == 200

