"""RFC 9728 protected resource metadata: the setting, the document, its URL and the 401 challenges."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.core.checks import Warning as CheckWarning
from django.test import Client, override_settings

from django_bearer_guard import _refusals, _resource_document
from django_bearer_guard.checks import check_settings
from django_bearer_guard.conf import GuardSettings, get_settings
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import LocalIssuer
from tests.support.binding import XFCC
from tests.support.client import challenge_params

# The document reads the TrustedIssuer rows.
pytestmark = [pytest.mark.urls("tests.testapp.metadata_urls"), pytest.mark.django_db]

RESOURCE = "https://api.example.com"
WELL_KNOWN = "/.well-known/oauth-protected-resource"
# Every scope the views of tests/testapp/scope_urls.py declare for some method.
DECLARED = [
    "admin", "docs:admin", "docs:read", "docs:write", "files:delete", "files:read", "reports:read", "reports:write"
]


def parsed(raw: Any, **settings: Any) -> GuardSettings:
    with override_settings(BEARER_GUARD={"RESOURCE_METADATA": raw, **settings}):
        return get_settings()


def problem_ids(raw: Any, **settings: Any) -> list[str]:
    return [problem.id for problem in parsed(raw, **settings).problems]


@pytest.fixture
def served(guard: Callable[..., None]) -> Callable[..., dict[str, Any]]:
    """Apply ``RESOURCE_METADATA`` (and other settings) for the test issuer; the document served."""

    def serve(path: str = WELL_KNOWN, **metadata: Any) -> dict[str, Any]:
        guard(RESOURCE_METADATA={"resource": RESOURCE, **metadata})
        response = Client().get(path)
        assert response.status_code == 200, response.content[:300]
        document: dict[str, Any] = response.json()
        return document

    return serve


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per walk of the URLconf for its scopes, counted from a dropped result."""
    count: list[int] = []
    walk = _resource_document._walk_scopes

    def counted() -> tuple[str, ...]:
        count.append(1)
        return walk()

    monkeypatch.setattr(_resource_document, "_walk_scopes", counted)
    _resource_document.forget_scopes()
    return count


@pytest.mark.parametrize(
    ("resource", "url"),
    [
        ("https://api.example.com", "https://api.example.com/.well-known/oauth-protected-resource"),
        # §3.1: a terminating slash after the host goes; the path follows the well-known path.
        ("https://api.example.com/", "https://api.example.com/.well-known/oauth-protected-resource"),
        ("https://api.example.com/v1", "https://api.example.com/.well-known/oauth-protected-resource/v1"),
        ("https://api.example.com:8443/v1/", "https://api.example.com:8443/.well-known/oauth-protected-resource/v1/"),
    ],
)
def test_metadata_url_inserts_the_well_known_path(resource: str, url: str) -> None:
    metadata = parsed({"resource": resource}).resource_metadata
    assert metadata is not None and metadata.url == url


def test_off_by_default() -> None:
    assert get_settings().resource_metadata is None


@pytest.mark.parametrize(
    "resource",
    [
        None,
        42,
        "",
        "api.example.com",
        "/v1",
        "http://api.example.com",
        "ftp://api.example.com",
        "https://api.example.com/#top",
        "https://api.example.com/?tenant=1",
        "https://user:secret@api.example.com",
        "https://api.example.com/a b",
        'https://api.example.com/"x',
        "https://api.example.com/\r\nSet-Cookie: a=b",
        "https://",
        # urlsplit reports an empty query or fragment as none.
        "https://api.example.com?",
        "https://api.example.com#",
        # Django would never decode a request path to what this names: a document no one reaches.
        "https://api.example.com/v%FF",
    ],
)
def test_resource_must_be_an_https_url_clients_use(resource: Any) -> None:
    settings = parsed({"resource": resource})
    assert [p.id for p in settings.problems] == ["bearer_guard.E028"]
    assert settings.resource_metadata is None


def test_http_resource_only_on_loopback_with_the_setting() -> None:
    assert problem_ids({"resource": "http://127.0.0.1:8000"}) == ["bearer_guard.E028"]
    settings = parsed({"resource": "http://127.0.0.1:8000"}, ALLOW_HTTP_LOOPBACK=True)
    assert settings.problems == () and settings.resource_metadata is not None


@pytest.mark.parametrize(
    "member",
    [
        {"resource_name": 5},
        {"resource_name": " "},
        {"resource_name": "API\n"},
        {"resource_documentation": "ftp://docs.example.com"},
        {"resource_policy_uri": "https://example.com/#policy"},
        {"resource_tos_uri": 7},
        {"jwks_uri": "http://keys.example.com/jwks.json"},
        {"resource_documentation": "https://docs.example.com/api?"},
        {"authorization_servers": "https://idp.example.com"},
        {"authorization_servers": ["https://idp.example.com", ""]},
        {"authorization_servers": ["http://idp.example.com"]},
        {"scopes_supported": ["reports:read", "two words"]},
        {"scopes_supported": ['quo"te']},
        {"scopes_supported": [1]},
        {"resource_signing_alg_values_supported": ["none"]},
        {"bearer_methods_supported": ["header", "body"]},
        {"bearer_methods_supported": []},
    ],
)
def test_members_of_the_wrong_shape_are_refused(member: dict[str, Any]) -> None:
    assert problem_ids({"resource": RESOURCE, **member}) == ["bearer_guard.E029"]


def test_a_setting_that_is_not_a_dict_is_refused() -> None:
    assert problem_ids(RESOURCE) == ["bearer_guard.E029"]


@pytest.mark.parametrize(
    "member",
    [
        "dpop_bound_access_tokens_required",
        "tls_client_certificate_bound_access_tokens",
        "dpop_signing_alg_values_supported",
    ],
)
def test_binding_members_cannot_be_set(member: str) -> None:
    # They follow from what the validator enforces; a setting could only make them lie.
    settings = parsed({"resource": RESOURCE, member: True})
    assert [p.id for p in settings.problems] == ["bearer_guard.E030"]
    assert "binding" in settings.problems[0].msg


def test_unknown_members_are_refused() -> None:
    settings = parsed({"resource": RESOURCE, "resource_nmae": "Typo"})
    assert [p.id for p in settings.problems] == ["bearer_guard.E030"]
    assert "resource_nmae" in settings.problems[0].msg


def test_every_problem_is_a_system_check_error() -> None:
    with override_settings(BEARER_GUARD={"RESOURCE_METADATA": {"resource": "http://api.example.com", "x": 1}}):
        assert {m.id for m in check_settings() if m.level >= 40} >= {"bearer_guard.E028", "bearer_guard.E030"}


def test_a_resource_host_outside_allowed_hosts_is_warned_about() -> None:
    with override_settings(ALLOWED_HOSTS=["api.internal"], BEARER_GUARD={"RESOURCE_METADATA": {"resource": RESOURCE}}):
        (warning,) = [m for m in check_settings() if m.id == "bearer_guard.W017"]
        assert isinstance(warning, CheckWarning)
    for allowed in (["api.example.com"], [".example.com"], ["*"]):
        with override_settings(ALLOWED_HOSTS=allowed, BEARER_GUARD={"RESOURCE_METADATA": {"resource": RESOURCE}}):
            assert "bearer_guard.W017" not in {m.id for m in check_settings()}


def test_debug_allows_the_loopback_hosts_django_allows() -> None:
    metadata = {"resource": "http://localhost:8000"}
    with override_settings(
        DEBUG=True, ALLOWED_HOSTS=[], BEARER_GUARD={"ALLOW_HTTP_LOOPBACK": True, "RESOURCE_METADATA": metadata}
    ):
        assert "bearer_guard.W017" not in {m.id for m in check_settings()}


def test_no_warning_while_off() -> None:
    with override_settings(ALLOWED_HOSTS=["api.internal"]):
        assert "bearer_guard.W017" not in {m.id for m in check_settings()}


def test_document_with_the_defaults(served: Callable[..., dict[str, Any]], idp: LocalIssuer) -> None:
    assert served() == {
        "resource": RESOURCE,
        "authorization_servers": [idp.issuer],
        "scopes_supported": DECLARED,
        "bearer_methods_supported": ["header"],
        "tls_client_certificate_bound_access_tokens": False,
        "dpop_signing_alg_values_supported": ["RS256"],
        "dpop_bound_access_tokens_required": False,
    }


def test_response_is_public_cacheable_json(guard: Callable[..., None]) -> None:
    guard(RESOURCE_METADATA={"resource": RESOURCE})
    response = Client().get(WELL_KNOWN)
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "public, max-age=3600"
    assert response["Access-Control-Allow-Origin"] == "*"
    head = Client().head(WELL_KNOWN)
    assert (head.status_code, head["Content-Type"], head["Cache-Control"]) == (
        200,
        "application/json",
        "public, max-age=3600",
    )
    assert Client().post(WELL_KNOWN).status_code == 405


def test_explicit_members_are_served(served: Callable[..., dict[str, Any]]) -> None:
    document = served(
        resource_name="Reports API",
        resource_documentation="https://docs.example.com/api",
        resource_policy_uri="https://example.com/policy",
        resource_tos_uri="https://example.com/tos",
        jwks_uri="https://api.example.com/jwks.json",
        authorization_servers=["https://login.example.com", "https://login.example.com"],
        scopes_supported=["reports:read"],
        resource_signing_alg_values_supported=["ES256"],
        bearer_methods_supported=["header"],
    )
    assert document == {
        "resource": RESOURCE,
        "authorization_servers": ["https://login.example.com"],
        "jwks_uri": "https://api.example.com/jwks.json",
        "scopes_supported": ["reports:read"],
        "bearer_methods_supported": ["header"],
        "resource_signing_alg_values_supported": ["ES256"],
        "resource_name": "Reports API",
        "resource_documentation": "https://docs.example.com/api",
        "resource_policy_uri": "https://example.com/policy",
        "resource_tos_uri": "https://example.com/tos",
        "tls_client_certificate_bound_access_tokens": False,
        "dpop_signing_alg_values_supported": ["RS256"],
        "dpop_bound_access_tokens_required": False,
    }


def test_empty_lists_leave_the_members_out(served: Callable[..., dict[str, Any]]) -> None:
    document = served(authorization_servers=[], scopes_supported=[], resource_signing_alg_values_supported=[])
    assert not {"authorization_servers", "scopes_supported", "resource_signing_alg_values_supported"} & set(document)


def test_scope_permissions_are_supported_scopes(served: Callable[..., dict[str, Any]]) -> None:
    document = served()
    assert "billing:export" not in document["scopes_supported"]
    mapping = {"billing:export": ["testapp.view_document"]}
    with override_settings(BEARER_GUARD={**settings.BEARER_GUARD, "SCOPE_PERMISSIONS": mapping}):
        scopes = Client().get(WELL_KNOWN).json()["scopes_supported"]
    assert scopes == sorted([*DECLARED, "billing:export"])


def test_declared_scopes_are_walked_once_and_dropped_with_the_urlconf(
    served: Callable[..., dict[str, Any]], walks: list[int]
) -> None:
    served()
    assert Client().get(WELL_KNOWN).json()["scopes_supported"] == DECLARED
    assert len(walks) == 1
    with override_settings(ROOT_URLCONF="tests.testapp.metadata_other_urls"):
        assert Client().get(WELL_KNOWN).json()["scopes_supported"] == ["profile:read"]
    assert len(walks) == 2
    # Leaving the override is a setting change too: the first URLconf's scopes again.
    assert Client().get(WELL_KNOWN).json()["scopes_supported"] == DECLARED
    assert len(walks) == 3


def test_a_resource_with_a_path_is_served_below_the_well_known_path(guard: Callable[..., None]) -> None:
    guard(RESOURCE_METADATA={"resource": "https://api.example.com/v1"})
    client = Client()
    assert client.get(WELL_KNOWN + "/v1").json()["resource"] == "https://api.example.com/v1"
    for other in (WELL_KNOWN, WELL_KNOWN + "/v2", WELL_KNOWN + "/v1/", WELL_KNOWN + "/v1/x"):
        assert client.get(other).status_code == 404, other


def test_off_answers_404_and_challenges_name_nothing(guard: Callable[..., None]) -> None:
    client = Client()
    assert client.get(WELL_KNOWN).status_code == 404
    assert client.get(WELL_KNOWN + "/v1").status_code == 404
    assert client.get("/scoped/reports/")["WWW-Authenticate"] == 'Bearer realm="api"'
    assert "resource_metadata" not in client.get("/scoped/reports/", HTTP_AUTHORIZATION="Bearer a.b.c")[
        "WWW-Authenticate"
    ]


@pytest.mark.parametrize("header", [None, "Bearer a.b.c"])
def test_every_401_names_the_document(guard: Callable[..., None], header: str | None) -> None:
    guard(RESOURCE_METADATA={"resource": "https://api.example.com/v1"})
    extra: dict[str, Any] = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = Client().get("/scoped/reports/", **extra)
    assert response.status_code == 401
    params = challenge_params(response["WWW-Authenticate"])
    assert params["resource_metadata"] == "https://api.example.com/.well-known/oauth-protected-resource/v1"


def test_a_dpop_401_names_the_document(guard: Callable[..., None]) -> None:
    guard(RESOURCE_METADATA={"resource": RESOURCE})
    response = Client().get("/bound/", HTTP_AUTHORIZATION="DPoP a.b.c")
    assert response.status_code == 401
    header = response["WWW-Authenticate"]
    assert header.startswith("DPoP ")
    assert f'resource_metadata="{RESOURCE}{WELL_KNOWN}"' in header


def test_400_and_403_do_not_name_the_document(guard: Callable[..., None], bearer: Callable[..., Any]) -> None:
    guard(RESOURCE_METADATA={"resource": RESOURCE})
    malformed = Client().get("/scoped/reports/", HTTP_AUTHORIZATION="Bearer a b")
    assert malformed.status_code == 400
    assert "resource_metadata" not in malformed["WWW-Authenticate"]
    forbidden = Client().get("/scoped/reports/", **bearer(scope="other"))
    assert forbidden.status_code == 403
    assert "resource_metadata" not in forbidden["WWW-Authenticate"]


def test_database_issuers_are_listed_when_enabled_and_valid(
    served: Callable[..., dict[str, Any]], idp: LocalIssuer, make_idp: Callable[..., LocalIssuer]
) -> None:
    partner, disabled, broken = make_idp(), make_idp(), make_idp()
    TrustedIssuer.objects.create(name="Partner", **partner.issuer_settings())
    TrustedIssuer.objects.create(name="Off", enabled=False, **disabled.issuer_settings())
    TrustedIssuer.objects.create(name="Broken", **broken.issuer_settings(algorithms=["none"]))
    assert served()["authorization_servers"] == [idp.issuer, partner.issuer]


def test_binding_members_follow_the_issuers(
    served: Callable[..., dict[str, Any]], idp: LocalIssuer, make_idp: Callable[..., LocalIssuer]
) -> None:
    proofs = make_idp(algorithms=("ES256",))
    document = served()
    assert (document["dpop_bound_access_tokens_required"], document["tls_client_certificate_bound_access_tokens"]) == (
        False,
        False,
    )
    metadata = {"resource": RESOURCE}
    dpop_only = [idp.issuer_settings(binding="dpop"), proofs.issuer_settings(binding="dpop")]
    with override_settings(
        BEARER_GUARD={"ALLOW_HTTP_LOOPBACK": True, "ISSUERS": dpop_only, "RESOURCE_METADATA": metadata}
    ):
        document = Client().get(WELL_KNOWN).json()
    assert document["dpop_bound_access_tokens_required"] is True
    assert document["dpop_signing_alg_values_supported"] == ["ES256", "RS256"]
    with override_settings(
        BEARER_GUARD={
            "ALLOW_HTTP_LOOPBACK": True,
            "ISSUERS": [dpop_only[0], proofs.issuer_settings()],
            "TRANSPORT_IDENTITY": XFCC,
            "RESOURCE_METADATA": metadata,
        }
    ):
        document = Client().get(WELL_KNOWN).json()
    # One issuer accepts unbound tokens: DPoP is supported, not required.
    assert document["dpop_bound_access_tokens_required"] is False
    assert document["tls_client_certificate_bound_access_tokens"] is True


def test_no_usable_issuer_requires_nothing(guard: Callable[..., None], idp: LocalIssuer) -> None:
    guard(issuers=[idp.issuer_settings(algorithms=["none"])], RESOURCE_METADATA={"resource": RESOURCE})
    document = Client().get(WELL_KNOWN).json()
    assert "authorization_servers" not in document and "dpop_signing_alg_values_supported" not in document
    assert document["dpop_bound_access_tokens_required"] is False


def test_unreadable_settings_leave_the_challenge_bare(
    monkeypatch: pytest.MonkeyPatch, guard: Callable[..., None]
) -> None:
    def broken() -> GuardSettings:
        raise RuntimeError("settings unreadable")

    guard(RESOURCE_METADATA={"resource": "https://api.example.com"})
    assert _refusals.metadata_params() != {}
    monkeypatch.setattr(_refusals, "get_settings", broken)
    assert _refusals.metadata_params() == {}


def test_percent_encoded_resource_paths_are_served(guard: Callable[..., None]) -> None:
    guard(RESOURCE_METADATA={"resource": "https://api.example.com/r%C3%A9ports"})
    response = Client().get(WELL_KNOWN + "/r%C3%A9ports")
    assert response.json()["resource"] == "https://api.example.com/r%C3%A9ports"


def test_a_settings_error_turns_the_document_off(guard: Callable[..., None]) -> None:
    # Every token is refused then: no document invites clients to fetch one.
    guard(LEEWAY="x", RESOURCE_METADATA={"resource": RESOURCE})
    assert get_settings().resource_metadata is None
    assert Client().get(WELL_KNOWN).status_code == 404
    assert Client().get("/scoped/reports/")["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_step_up_401_names_the_document(guard: Callable[..., None], bearer: Callable[..., Any]) -> None:
    guard(RESOURCE_METADATA={"resource": RESOURCE})
    with override_settings(ROOT_URLCONF="tests.testapp.stepup_urls"):
        response = Client().get("/silver/", **bearer(acr="bronze"))
    assert response.status_code == 401
    params = challenge_params(response["WWW-Authenticate"])
    assert (params["error"], params["resource_metadata"]) == ("insufficient_user_authentication", RESOURCE + WELL_KNOWN)


def test_a_settings_change_walks_the_urlconf_again(served: Callable[..., dict[str, Any]], walks: list[int]) -> None:
    served()
    with override_settings(BEARER_GUARD={**settings.BEARER_GUARD, "LEEWAY": 5}):
        Client().get(WELL_KNOWN)
    assert len(walks) == 2


def test_a_view_drf_cannot_run_leaves_only_its_scopes_out(
    guard: Callable[..., None], caplog: pytest.LogCaptureFixture, walks: list[int]
) -> None:
    guard(RESOURCE_METADATA={"resource": RESOURCE})
    with override_settings(ROOT_URLCONF="tests.testapp.metadata_broken_urls"):
        first, second = Client().get(WELL_KNOWN), Client().get(WELL_KNOWN)
    assert first.status_code == second.status_code == 200
    assert first.json()["scopes_supported"] == ["profile:read"]
    assert "NotAList" in caplog.text and "cannot be read" in caplog.text
    assert len(walks) == 1  # the result is kept like any other


def test_authorization_servers_outside_the_trusted_issuers_are_warned_about(
    guard: Callable[..., None], idp: LocalIssuer
) -> None:
    guard(RESOURCE_METADATA={"resource": RESOURCE, "authorization_servers": [idp.issuer, "https://login.example.com"]})
    (warning,) = [m for m in check_settings() if m.id == "bearer_guard.W018"]
    assert "https://login.example.com" in warning.msg and idp.issuer not in warning.msg
    guard(RESOURCE_METADATA={"resource": RESOURCE, "authorization_servers": [idp.issuer]})
    assert "bearer_guard.W018" not in {m.id for m in check_settings()}


def test_a_disabled_row_listed_explicitly_is_warned_about(
    guard: Callable[..., None], make_idp: Callable[..., LocalIssuer]
) -> None:
    retired = make_idp()
    TrustedIssuer.objects.create(name="Retired", enabled=False, **retired.issuer_settings())
    active = make_idp()
    TrustedIssuer.objects.create(name="Active", **active.issuer_settings())
    guard(RESOURCE_METADATA={"resource": RESOURCE, "authorization_servers": [retired.issuer, active.issuer]})
    (warning,) = [m for m in check_settings(databases=["default"]) if m.id == "bearer_guard.W018"]
    assert retired.issuer in warning.msg and active.issuer not in warning.msg
