from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

import pytest

from django_bearer_guard.conf import get_settings
from django_bearer_guard.exceptions import KeyFetchError, KeysUnavailable
from django_bearer_guard.issuers.discovery import discover_jwks_uri, metadata_urls
from django_bearer_guard.jwks.refresh import get_key, key_status
from django_bearer_guard.testing import LocalIssuer

OIDC = "/.well-known/openid-configuration"
RFC8414 = "/.well-known/oauth-authorization-server"


class OAuthOnlyIssuer(LocalIssuer):
    """An issuer that publishes only RFC 8414 metadata (no OpenID configuration)."""

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        base = super()._handler_class()

        class Handler(base):  # type: ignore[valid-type,misc]
            def do_GET(self) -> None:
                if self.path.endswith(OIDC):
                    self.send_error(404)
                    return
                super().do_GET()

        return Handler


@pytest.fixture
def oauth_only_idp(idp):
    server = OAuthOnlyIssuer(keys=idp.keys, issuer_path="/tenants/acme/").start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        ("https://idp.test", ("https://idp.test" + OIDC, "https://idp.test" + RFC8414)),
        ("https://idp.test/", ("https://idp.test" + OIDC, "https://idp.test" + RFC8414)),
        (
            "https://idp.test/tenants/acme/",
            ("https://idp.test/tenants/acme" + OIDC, "https://idp.test" + RFC8414 + "/tenants/acme"),
        ),
        (
            "https://idp.test:8443/realms/x",
            ("https://idp.test:8443/realms/x" + OIDC, "https://idp.test:8443" + RFC8414 + "/realms/x"),
        ),
    ],
)
def test_metadata_urls_try_oidc_then_rfc8414(issuer: str, expected: tuple[str, str]) -> None:
    assert metadata_urls(issuer) == expected


def _discover(issuer: str) -> str:
    return discover_jwks_uri(issuer, deadline=time.monotonic() + 2, max_bytes=65536, allow_http_loopback=True)


def test_discover_jwks_uri_reads_the_openid_configuration(idp) -> None:
    assert _discover(idp.issuer) == idp.url + idp.jwks_path
    assert idp.fetches(OIDC) == 1
    assert idp.fetches(RFC8414) == 0


def test_discover_jwks_uri_falls_back_to_rfc8414_for_an_issuer_with_a_path(oauth_only_idp) -> None:
    assert _discover(oauth_only_idp.issuer) == oauth_only_idp.url + oauth_only_idp.jwks_path
    assert oauth_only_idp.fetches(RFC8414 + "/tenants/acme") == 1


def test_discover_jwks_uri_refuses_metadata_naming_another_issuer(idp) -> None:
    idp.metadata_issuer = idp.issuer + "evil/"
    with pytest.raises(KeyFetchError) as info:
        _discover(idp.issuer)
    assert "names issuer" in info.value.reason
    assert idp.fetches(OIDC) == 1
    assert idp.fetches(RFC8414) == 1


def test_discover_jwks_uri_refuses_an_issuer_differing_only_by_trailing_slash(idp) -> None:
    idp.metadata_issuer = idp.issuer.rstrip("/")
    with pytest.raises(KeyFetchError):
        _discover(idp.issuer)


@pytest.mark.parametrize("jwks_uri", ["http://jwks.example.com/keys", "ftp://127.0.0.1/keys", None, 42])
def test_discover_jwks_uri_refuses_an_unsafe_jwks_uri(idp, monkeypatch, jwks_uri: object) -> None:
    monkeypatch.setattr(idp, "metadata", lambda: {"issuer": idp.issuer, "jwks_uri": jwks_uri})
    with pytest.raises(KeyFetchError) as info:
        _discover(idp.issuer)
    assert "jwks_uri" in info.value.reason


def test_discover_jwks_uri_refuses_http_loopback_unless_allowed(idp) -> None:
    with pytest.raises(KeyFetchError):
        discover_jwks_uri(
            idp.issuer, deadline=time.monotonic() + 2, max_bytes=65536, allow_http_loopback=False
        )
    assert idp.fetches(OIDC) == 0


def test_discover_jwks_uri_issuer_down_fails(idp) -> None:
    idp.mode = "down"
    with pytest.raises(KeyFetchError) as info:
        _discover(idp.issuer)
    assert "503" in info.value.reason


def test_get_key_with_discovery_fetches_metadata_then_keys(idp, guard, clock) -> None:
    guard(issuers=[idp.issuer_settings(discovery=True)])
    issuer = get_settings().issuers[0]
    assert get_key(issuer, idp.keys[0].kid, "RS256").kid == idp.keys[0].kid
    assert (idp.fetches(OIDC), idp.fetches()) == (1, 1)


def test_get_key_with_discovery_rfc8414_fallback(oauth_only_idp, guard, clock) -> None:
    guard(issuers=[oauth_only_idp.issuer_settings(discovery=True)])
    issuer = get_settings().issuers[0]
    assert get_key(issuer, oauth_only_idp.keys[0].kid, "RS256").kid == oauth_only_idp.keys[0].kid
    assert oauth_only_idp.fetches() == 1


def test_get_key_with_mismatched_metadata_issuer_never_fetches_keys(idp, guard, clock) -> None:
    guard(issuers=[idp.issuer_settings(discovery=True)])
    idp.metadata_issuer = "https://attacker.example/"
    issuer = get_settings().issuers[0]
    with pytest.raises(KeysUnavailable):
        get_key(issuer, idp.keys[0].kid, "RS256")
    assert idp.fetches() == 0
    assert "attacker.example" in (key_status(issuer).last_error or "")


def test_get_key_with_slow_discovery_is_bounded_by_the_timeout(idp, guard, clock) -> None:
    guard(issuers=[idp.issuer_settings(discovery=True)], JWKS_TIMEOUT=0.5)
    idp.mode, idp.delay = "slow", 3.0
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        get_key(get_settings().issuers[0], idp.keys[0].kid, "RS256")
    assert time.monotonic() - started < 1.5
