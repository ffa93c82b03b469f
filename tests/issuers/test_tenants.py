"""Multi-tenant issuer templates: ``{tenantid}`` in ``issuer``, ``tenants``, one shared key set.

The server is a real ``LocalIssuer``; its template is ``<url>/{tenantid}/v2.0`` and each token
names its tenant in ``iss`` and in ``tid``, as Entra ID's multi-tenant applications' do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.checks import Error
from django.test import override_settings
from rest_framework.test import APIClient

from django_bearer_guard import conf
from django_bearer_guard.checks import check_settings
from django_bearer_guard.exceptions import UntrustedIssuer, WrongTenant
from django_bearer_guard.issuers.config import IssuerConfig, covers, parse_issuer
from django_bearer_guard.issuers.registry import IssuerRegistry
from django_bearer_guard.runtime import get_runtime
from django_bearer_guard.testing import LocalIssuer
from django_bearer_guard.tokens.validator import TokenValidator

CONTOSO = "72f988bf-86f1-41af-91ab-2d7cd011db47"
FABRIKAM = "9188040d-6c67-4c5b-b112-36a304b66dad"
OTHER = "0b5b6c1e-33a1-4a8e-9a5b-5d1f5e0d6e11"
TEMPLATE = "https://login.example.test/{tenantid}/v2.0"
ENTRY: dict[str, Any] = {
    "issuer": TEMPLATE,
    "audiences": ["api://reports"],
    "algorithms": ["RS256"],
    "jwks_uri": "https://login.example.test/common/discovery/v2.0/keys",
    "tenants": [CONTOSO, FABRIKAM],
}


def parsed(**entry: Any) -> IssuerConfig:
    return parse_issuer({**ENTRY, **entry}, allow_http_loopback=False, where="ISSUERS[0]")


def problems(config: IssuerConfig) -> list[tuple[str, str | None]]:
    return [(problem.id, problem.field) for problem in config.problems]


def template_of(idp: LocalIssuer, **overrides: Any) -> dict[str, Any]:
    return idp.issuer_settings(**{"issuer": idp.url + "/{tenantid}/v2.0", "tenants": [CONTOSO, FABRIKAM], **overrides})


def tenant_token(idp: LocalIssuer, tenant: str, **claims: Any) -> str:
    return idp.mint(**{"iss": f"{idp.url}/{tenant}/v2.0", "tid": tenant, **claims})


def get(path: str, token: str) -> Any:
    return APIClient().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_an_issuer_with_the_placeholder_is_a_template_of_the_tenants_listed() -> None:
    config = parsed()
    assert problems(config) == []
    assert (config.template, config.tenants) == (True, frozenset({CONTOSO, FABRIKAM}))
    assert parsed(tenants="any").tenants is None
    plain = parsed(issuer="https://login.example.test/tenant/v2.0", tenants=None)
    assert (plain.template, plain.tenants, plain.problems) == (False, None, ())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"issuer": "https://login.example.test/{tenantid}/{tenantid}/v2.0"}, "issuer"),
        ({"issuer": "https://login.example.test/{tenant}/v2.0"}, "issuer"),
        ({"issuer": "https://login.example.test/{tenantid}/v2.0}"}, "issuer"),
        ({"issuer": "https://{tenantid}.login.example.test/v2.0"}, "issuer"),
        ({"issuer": "{tenantid}/v2.0"}, "issuer"),
        ({"issuer": "https://login.example.test/v2.0?tenant={tenantid}"}, "issuer"),
        ({"jwks_uri": "https://login.example.test/{tenantid}/discovery/v2.0/keys"}, "jwks_uri"),
        ({"jwks_uri": None, "discovery": True}, None),
        ({"tenants": None}, "tenants"),
        ({"tenants": []}, "tenants"),
        ({"tenants": "all"}, "tenants"),
        ({"tenants": CONTOSO}, "tenants"),
        ({"tenants": [CONTOSO, ""]}, "tenants"),
        ({"tenants": ["contoso/../fabrikam"]}, "tenants"),
        ({"tenants": ["-contoso"]}, "tenants"),
        ({"tenants": ["a" * 254]}, "tenants"),
        ({"tenants": [CONTOSO, 7]}, "tenants"),
        ({"tenants": {CONTOSO: True}}, "tenants"),
        ({"issuer": "https://login.example.test/tenant/v2.0"}, "tenants"),
    ],
)
def test_a_malformed_template_makes_the_issuer_refuse_its_tokens(overrides: dict[str, Any], field: str | None) -> None:
    config = parsed(**overrides)
    assert ("bearer_guard.E034", field) in problems(config)
    assert not config.usable


def test_a_shared_secret_cannot_serve_a_template() -> None:
    config = parsed(jwks_uri=None, algorithms=["HS256"], shared_secret="s" * 64)
    assert ("bearer_guard.E034", None) in problems(config)


@pytest.mark.parametrize(
    ("iss", "tenant"),
    [
        (f"https://login.example.test/{CONTOSO}/v2.0", CONTOSO),
        (f"https://login.example.test/{FABRIKAM}/v2.0", FABRIKAM),
        (f"https://login.example.test/{OTHER}/v2.0", None),
        (TEMPLATE, None),
        (f"https://login.example.test/{CONTOSO}/v2.0/", None),
        (f"https://login.example.test/{CONTOSO}", None),
        (f"https://login.example.test/{CONTOSO.upper()}/v2.0", None),
        (f"https://login.example.test/x/{CONTOSO}/v2.0", None),
        (f"https://login.example.test/{CONTOSO}/{CONTOSO}/v2.0", None),
        (f"https://LOGIN.example.test/{CONTOSO}/v2.0", None),
    ],
)
def test_a_template_admits_exactly_its_tenants_issuers(iss: str, tenant: str | None) -> None:
    assert parsed().tenant_of(iss) == tenant


def test_any_tenant_admits_every_tenant_name_and_nothing_else() -> None:
    config = parsed(tenants="any")
    assert config.tenant_of(f"https://login.example.test/{OTHER}/v2.0") == OTHER
    assert config.tenant_of("https://login.example.test/contoso.onmicrosoft.com/v2.0") == "contoso.onmicrosoft.com"
    for tenant in ("a/b", "a b", "a%2Fb", "a" * 254, ""):
        assert config.tenant_of(f"https://login.example.test/{tenant}/v2.0") is None
    assert parsed(issuer="https://login.example.test/tenant/v2.0", tenants=None).tenant_of(TEMPLATE) is None


def test_the_registry_finds_a_template_by_its_tenants_issuers_and_an_exact_entry_first() -> None:
    template = parsed()
    exact = parsed(issuer=f"https://login.example.test/{CONTOSO}/v2.0", tenants=None)
    registry = IssuerRegistry([template, exact])
    assert registry.get(f"https://login.example.test/{CONTOSO}/v2.0") is exact
    assert registry.get(f"https://login.example.test/{FABRIKAM}/v2.0") is template
    for iss in (f"https://login.example.test/{OTHER}/v2.0", TEMPLATE):
        with pytest.raises(UntrustedIssuer):
            registry.get(iss)
    assert registry.known() == (template, exact)


def test_covers_names_exact_issuers_and_tenants_of_templates() -> None:
    configs = [parsed(), parsed(issuer="https://other.example.test/", tenants=None)]
    assert covers(configs, "https://other.example.test/")
    assert covers(configs, f"https://login.example.test/{CONTOSO}/v2.0")
    assert not covers(configs, TEMPLATE)
    assert not covers(configs, f"https://login.example.test/{OTHER}/v2.0")


def test_tenants_tokens_pass_with_their_own_iss_and_share_one_key_fetch(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[template_of(idp)])
    for tenant in (CONTOSO, FABRIKAM):
        response = get("/whoami/", tenant_token(idp, tenant))
        assert response.status_code == 200, response.content
        # request.auth.issuer is the tenant's issuer, never the template.
        assert response.json()["issuer"] == f"{idp.url}/{tenant}/v2.0"
    assert idp.fetches() == 1


def test_a_token_of_another_tenant_gets_the_generic_401(
    idp: LocalIssuer, guard: Callable[..., None], rejected: list[Any]
) -> None:
    guard(issuers=[template_of(idp)])
    response = get("/whoami/", tenant_token(idp, OTHER))
    assert response.status_code == 401
    assert response.json()["error_description"] == "The access token is invalid."
    assert isinstance(rejected[-1], UntrustedIssuer)


@pytest.mark.parametrize("tid", [FABRIKAM, None, CONTOSO.upper(), [CONTOSO], ""])
def test_a_tid_that_is_not_the_tenant_of_iss_is_refused(
    idp: LocalIssuer, guard: Callable[..., None], rejected: list[Any], tid: Any
) -> None:
    guard(issuers=[template_of(idp)])
    response = get("/whoami/", tenant_token(idp, CONTOSO, tid=tid))
    assert response.status_code == 401
    assert isinstance(rejected[-1], WrongTenant)
    assert "tenant" in response.json()["error_description"]


def test_the_token_checker_reports_the_tenant(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    from django_bearer_guard.tokens.trace import Trace

    guard(issuers=[template_of(idp)])
    trace = Trace()
    TokenValidator().validate(tenant_token(idp, CONTOSO), trace=trace)
    assert ("tenant", f"{CONTOSO!r}, the tenant of 'iss'") in trace.steps


def test_a_cached_token_of_a_tenant_removed_from_the_list_is_refused(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[template_of(idp)])
    token = tenant_token(idp, FABRIKAM)
    assert get("/whoami/", token).status_code == 200
    guard(issuers=[template_of(idp, tenants=[CONTOSO])])
    assert get("/whoami/", token).status_code == 401


def test_checks_warn_about_any_tenant_and_report_a_malformed_template() -> None:
    with override_settings(BEARER_GUARD={"ISSUERS": [{**ENTRY, "tenants": "any"}]}):
        assert "bearer_guard.W019" in [message.id for message in check_settings()]
    with override_settings(BEARER_GUARD={"ISSUERS": [ENTRY]}):
        assert "bearer_guard.W019" not in [message.id for message in check_settings()]
    with override_settings(BEARER_GUARD={"ISSUERS": [{**ENTRY, "tenants": "all"}]}):
        errors = [message for message in check_settings() if message.id == "bearer_guard.E034"]
        assert len(errors) == 1 and isinstance(errors[0], Error)
        assert "W019" not in str([message.id for message in check_settings()])


@pytest.mark.urls("tests.testapp.metadata_urls")
@pytest.mark.django_db
def test_default_authorization_servers_leave_templates_out_and_tenants_may_be_listed() -> None:
    plain = {**ENTRY, "issuer": "https://idp.example.test/", "tenants": None}
    metadata = {"resource": "https://api.example.test"}
    with override_settings(BEARER_GUARD={"ISSUERS": [ENTRY, plain], "RESOURCE_METADATA": metadata}):
        document = APIClient().get("/.well-known/oauth-protected-resource").json()
        assert document["authorization_servers"] == ["https://idp.example.test/"]
    listed = {**metadata, "authorization_servers": [f"https://login.example.test/{CONTOSO}/v2.0", TEMPLATE]}
    with override_settings(BEARER_GUARD={"ISSUERS": [ENTRY], "RESOURCE_METADATA": listed}):
        assert "bearer_guard.W018" not in [message.id for message in check_settings()]
    unlisted = {**metadata, "authorization_servers": [f"https://login.example.test/{OTHER}/v2.0"]}
    with override_settings(BEARER_GUARD={"ISSUERS": [ENTRY], "RESOURCE_METADATA": unlisted}):
        assert "bearer_guard.W018" in [message.id for message in check_settings()]


def test_the_runtime_uses_one_key_set_for_every_tenant(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[template_of(idp)])
    runtime = get_runtime()
    contoso = runtime.issuers.get(f"{idp.url}/{CONTOSO}/v2.0")
    assert contoso is runtime.issuers.get(f"{idp.url}/{FABRIKAM}/v2.0")
    assert contoso is conf.get_settings().issuers[0]


@pytest.mark.django_db
def test_a_row_a_template_admits_is_shadowed_and_a_row_with_a_placeholder_is_refused() -> None:
    from django_bearer_guard.models import TrustedIssuer
    from django_bearer_guard.runtime import health_of_row

    plain = {key: value for key, value in ENTRY.items() if key != "tenants"}
    rows = {
        tenant: TrustedIssuer.objects.create(
            **{**plain, "name": tenant, "issuer": f"https://login.example.test/{tenant}/v2.0"}
        )
        for tenant in (CONTOSO, OTHER)
    }
    shadowed, other = rows[CONTOSO], rows[OTHER]
    placeholder = TrustedIssuer(**{**plain, "name": "template row"})
    with override_settings(BEARER_GUARD={"ISSUERS": [ENTRY]}):
        assert (health_of_row(shadowed).status, health_of_row(other).status) == ("shadowed", "not fetched yet")
        warnings = [m.msg for m in check_settings(databases=["default"]) if m.id == "bearer_guard.W004"]
        assert warnings == [
            f"The TrustedIssuer row for {shadowed.issuer!r} is ignored: BEARER_GUARD['ISSUERS'] names the same "
            "issuer (or a template of its tenant), and the settings win."
        ]
        assert problems(placeholder.to_config()) == [("bearer_guard.E034", "issuer")]
