from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from django_bearer_guard._urls import discovered_key_url_problem
from django_bearer_guard.conf import get_settings
from django_bearer_guard.exceptions import KeyFetchError, KeysUnavailable
from django_bearer_guard.jwks.discovery import discover_jwks_uri, metadata_urls
from django_bearer_guard.runtime import get_key, key_status
from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support.client import assert_refused, bearer
from tests.support.metadata import MetadataServer as _MetadataServer

OIDC = "/.well-known/openid-configuration"
RFC8414 = "/.well-known/oauth-authorization-server"


class OAuthOnlyIssuer(LocalIssuer):
    """An issuer that publishes only RFC 8414 metadata (no OpenID configuration)."""

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        base = super()._handler_class()

        class Handler(base):  # type: ignore[valid-type,misc]  # LocalIssuer builds its handler class at run time
            def do_GET(self) -> None:
                if self.path.endswith(OIDC):
                    self.send_error(404)
                    return
                super().do_GET()

        return Handler


@pytest.fixture
def oauth_only_idp(idp: LocalIssuer) -> Iterator[LocalIssuer]:
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


def _discover(issuer: str, jwks_hosts: frozenset[str] | None = None) -> str:
    return discover_jwks_uri(
        issuer, deadline=time.monotonic() + 2, max_bytes=65536, allow_http_loopback=True, jwks_hosts=jwks_hosts
    ).jwks_uri


def test_discover_jwks_uri_reads_the_openid_configuration(idp: LocalIssuer) -> None:
    assert _discover(idp.issuer) == idp.url + idp.jwks_path
    assert idp.fetches(OIDC) == 1
    assert idp.fetches(RFC8414) == 0


def test_discover_jwks_uri_falls_back_to_rfc8414_for_an_issuer_with_a_path(oauth_only_idp: LocalIssuer) -> None:
    assert _discover(oauth_only_idp.issuer) == oauth_only_idp.url + oauth_only_idp.jwks_path
    assert oauth_only_idp.fetches(RFC8414 + "/tenants/acme") == 1


def test_discover_jwks_uri_refuses_metadata_naming_another_issuer(idp: LocalIssuer) -> None:
    idp.metadata_issuer = idp.issuer + "evil/"
    with pytest.raises(KeyFetchError) as info:
        _discover(idp.issuer)
    assert "names issuer" in info.value.reason
    assert idp.fetches(OIDC) == 1
    assert idp.fetches(RFC8414) == 1


def test_discover_jwks_uri_refuses_an_issuer_differing_only_by_trailing_slash(idp: LocalIssuer) -> None:
    idp.metadata_issuer = idp.issuer.rstrip("/")
    with pytest.raises(KeyFetchError):
        _discover(idp.issuer)


@pytest.mark.parametrize("jwks_uri", ["http://jwks.example.com/keys", "ftp://127.0.0.1/keys", None, 42])
def test_discover_jwks_uri_refuses_an_unsafe_jwks_uri(
    idp: LocalIssuer, monkeypatch: pytest.MonkeyPatch, jwks_uri: object
) -> None:
    monkeypatch.setattr(idp, "metadata", lambda: {"issuer": idp.issuer, "jwks_uri": jwks_uri})
    with pytest.raises(KeyFetchError) as info:
        _discover(idp.issuer)
    assert "jwks_uri" in info.value.reason


def test_discover_jwks_uri_refuses_http_loopback_unless_allowed(idp: LocalIssuer) -> None:
    with pytest.raises(KeyFetchError):
        discover_jwks_uri(
            idp.issuer, deadline=time.monotonic() + 2, max_bytes=65536, allow_http_loopback=False, jwks_hosts=None
        )
    assert idp.fetches(OIDC) == 0


def _serve_jwks_uri(idp: LocalIssuer, monkeypatch: pytest.MonkeyPatch, jwks_uri: object) -> None:
    monkeypatch.setattr(idp, "metadata", lambda: {"issuer": idp.issuer, "jwks_uri": jwks_uri})


UNSAFE_CHARACTERS = ["\r\n", "\n", "\t", " ", "\x00", "\x1b", "\x7f", "\x85", "\x9b", "\xa0", "\u2028", "\u3000"]


@pytest.mark.parametrize("char", UNSAFE_CHARACTERS)
@pytest.mark.parametrize("where", ["start", "host", "path", "end"])
def test_discover_jwks_uri_refuses_whitespace_and_control_characters(
    idp: LocalIssuer, monkeypatch: pytest.MonkeyPatch, char: str, where: str
) -> None:
    url = idp.url + idp.jwks_path
    jwks_uri = {
        "start": char + url,
        "host": url.replace("127.0.0.1", "127.0." + char + "0.1"),
        "path": url.replace("jwks", "jw" + char + "ks"),
        "end": url + char,
    }[where]
    _serve_jwks_uri(idp, monkeypatch, jwks_uri)
    with pytest.raises(KeyFetchError) as info:
        _discover(idp.issuer)
    assert "whitespace or control characters" in info.value.reason
    # The refused URI is logged escaped: metadata cannot write lines of its own into the log.
    assert char not in info.value.reason.replace(" ", "") or char == " "


def test_discover_jwks_uri_shortens_a_huge_refused_uri_in_the_reason(
    idp: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve_jwks_uri(idp, monkeypatch, "https://10.0.0.1/" + "k" * 10000)
    with pytest.raises(KeyFetchError) as info:
        _discover(idp.issuer)
    assert len(info.value.reason) < 1000


INTERNAL = [
    ("https://10.0.0.1/keys", "private"),
    ("https://172.16.5.4/keys", "private"),
    ("https://192.168.1.1/keys", "private"),
    ("https://100.64.0.1/keys", "private"),
    ("https://0.0.0.0/keys", "private"),
    ("https://224.0.0.251/keys", "private"),
    ("https://240.0.0.1/keys", "private"),
    ("https://255.255.255.255/keys", "private"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://[fe80::1]/keys", "link-local"),
    ("https://[fe80::1%25eth0]/keys", "link-local"),
    ("https://[fd00:ec2::254]/keys", "private"),
    ("https://[fec0::1]/keys", "private"),
    ("https://[::]/keys", "private"),
    ("https://[ff02::1]/keys", "private"),
    ("https://[::ffff:10.0.0.1]/keys", "private"),
    ("https://[::ffff:169.254.169.254]/keys", "link-local"),
    ("https://[::ffff:a9fe:a9fe]/keys", "link-local"),
    ("https://[64:ff9b::a9fe:a9fe]/keys", "link-local"),
    ("https://2130706433/keys", "dotted quad"),
    ("https://0x7f000001/keys", "dotted quad"),
    ("https://0x7f.1/keys", "dotted quad"),
    ("https://127.1/keys", "dotted quad"),
    ("https://0177.0.0.1/keys", "dotted quad"),
    ("https://127.000.000.001/keys", "dotted quad"),
    ("https://10.1/keys", "dotted quad"),
    ("https://167772161/keys", "dotted quad"),
    ("https://idp.example.0x7f/keys", "dotted quad"),
    ("https://\uff11\uff12\uff17.0.0.1/keys", "ASCII"),
    ("https://127\u30020\u30020\u30021/keys", "ASCII"),
    ("https://[v1.idp.example]/keys", "neither"),
]


@pytest.mark.parametrize("allow_http_loopback", [False, True])
@pytest.mark.parametrize(("url", "reason"), INTERNAL)
def test_discovered_key_url_problem_refuses_internal_hosts(url: str, reason: str, allow_http_loopback: bool) -> None:
    problem = discovered_key_url_problem(url, allow_http_loopback=allow_http_loopback, allowed_hosts=None)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/keys",
        "https://127.8.9.10:8443/keys",
        "https://[::1]/keys",
        "https://[::ffff:127.0.0.1]/keys",
        "https://localhost/keys",
        "https://LocalHost./keys",
        "https://keys.localhost/keys",
    ],
)
def test_discovered_key_url_problem_allows_loopback_only_with_the_setting(url: str) -> None:
    problem = discovered_key_url_problem(url, allow_http_loopback=False, allowed_hosts=None)
    assert problem is not None and "ALLOW_HTTP_LOOPBACK" in problem
    assert discovered_key_url_problem(url, allow_http_loopback=True, allowed_hosts=None) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://www.googleapis.com/oauth2/v3/certs",
        "https://login.microsoftonline.com/common/discovery/keys",
        "https://idp.example:8443/keys",
        "https://cafe.be/keys",
        "https://8.8.8.8/keys",
        "https://[2001:4860:4860::8888]/keys",
        "https://[::ffff:8.8.8.8]/keys",
        "https://xn--bcher-kva.example/keys",
    ],
)
def test_discovered_key_url_problem_accepts_public_hosts(url: str) -> None:
    assert discovered_key_url_problem(url, allow_http_loopback=False, allowed_hosts=None) is None


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://www.googleapis.com/oauth2/v3/certs", True),
        ("https://WWW.GoogleAPIs.com/oauth2/v3/certs", True),
        ("https://www.googleapis.com:443/oauth2/v3/certs", True),
        ("https://www.googleapis.com:8443/oauth2/v3/certs", False),
        ("https://www.googleapis.com./oauth2/v3/certs", False),
        ("https://googleapis.com/oauth2/v3/certs", False),
        ("https://evil.www.googleapis.com/keys", False),
        ("https://keys.example:8443/jwks", True),
        ("https://keys.example/jwks", False),
        ("https://keys.example:443/jwks", False),
        ("https://attacker.example/jwks", False),
    ],
)
def test_discovered_key_url_problem_limits_hosts_to_jwks_hosts(url: str, accepted: bool) -> None:
    hosts = frozenset({"www.googleapis.com", "keys.example:8443"})
    problem = discovered_key_url_problem(url, allow_http_loopback=False, allowed_hosts=hosts)
    assert (problem is None) is accepted
    if not accepted:
        assert problem is not None


def test_discovered_key_url_problem_with_empty_jwks_hosts_refuses_every_host() -> None:
    problem = discovered_key_url_problem("https://www.googleapis.com/k", allow_http_loopback=False, allowed_hosts=())
    assert problem is not None and "jwks_hosts" in problem


def test_discovered_key_url_problem_jwks_hosts_never_admits_a_private_address() -> None:
    problem = discovered_key_url_problem("https://10.0.0.1/k", allow_http_loopback=False, allowed_hosts={"10.0.0.1"})
    assert problem is not None and "private" in problem


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_discovered_key_url_problem_never_raises_and_never_passes_unsafe_characters(tail: str) -> None:
    for url in ("https://" + tail, "https://idp.example/" + tail, tail):
        problem = discovered_key_url_problem(url, allow_http_loopback=True, allowed_hosts=None)
        assert problem is None or isinstance(problem, str)
        if problem is None:
            assert not any(char.isspace() or ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in url)


@pytest.mark.parametrize(("url", "reason"), INTERNAL[:3] + INTERNAL[8:9] + INTERNAL[15:16] + INTERNAL[19:20])
def test_discover_jwks_uri_refuses_a_jwks_uri_on_an_internal_host(
    idp: LocalIssuer, monkeypatch: pytest.MonkeyPatch, url: str, reason: str
) -> None:
    _serve_jwks_uri(idp, monkeypatch, url)
    with pytest.raises(KeyFetchError) as info:
        _discover(idp.issuer)
    assert reason in info.value.reason
    assert url in info.value.reason


def test_discover_jwks_uri_accepts_a_host_listed_in_jwks_hosts(idp: LocalIssuer) -> None:
    assert _discover(idp.issuer, frozenset({idp.url.removeprefix("http://")})) == idp.url + idp.jwks_path


@pytest.mark.parametrize("jwks_hosts", [frozenset(), frozenset({"127.0.0.1"}), frozenset({"idp.example"})])
def test_discover_jwks_uri_refuses_a_host_missing_from_jwks_hosts(idp: LocalIssuer, jwks_hosts: frozenset[str]) -> None:
    with pytest.raises(KeyFetchError) as info:
        _discover(idp.issuer, jwks_hosts)
    assert "jwks_hosts" in info.value.reason


def test_discover_jwks_uri_issuer_down_fails(idp: LocalIssuer) -> None:
    idp.mode = "down"
    with pytest.raises(KeyFetchError) as info:
        _discover(idp.issuer)
    assert "503" in info.value.reason


def test_get_key_with_discovery_fetches_metadata_then_keys(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(issuers=[idp.issuer_settings(discovery=True)])
    issuer = get_settings().issuers[0]
    assert get_key(issuer, idp.keys[0].kid, "RS256").kid == idp.keys[0].kid
    assert (idp.fetches(OIDC), idp.fetches()) == (1, 1)


def test_get_key_with_discovery_rfc8414_fallback(
    oauth_only_idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(issuers=[oauth_only_idp.issuer_settings(discovery=True)])
    issuer = get_settings().issuers[0]
    assert get_key(issuer, oauth_only_idp.keys[0].kid, "RS256").kid == oauth_only_idp.keys[0].kid
    assert oauth_only_idp.fetches() == 1


def test_get_key_with_mismatched_metadata_issuer_never_fetches_keys(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(issuers=[idp.issuer_settings(discovery=True)])
    idp.metadata_issuer = "https://attacker.example/"
    issuer = get_settings().issuers[0]
    with pytest.raises(KeysUnavailable):
        get_key(issuer, idp.keys[0].kid, "RS256")
    assert idp.fetches() == 0
    assert "attacker.example" in (key_status(issuer).last_error or "")


def test_get_key_with_discovery_honours_the_issuers_jwks_hosts(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(issuers=[idp.issuer_settings(discovery=True, jwks_hosts=["keys.idp.example"])])
    issuer = get_settings().issuers[0]
    with pytest.raises(KeysUnavailable):
        get_key(issuer, idp.keys[0].kid, "RS256")
    assert (idp.fetches(OIDC), idp.fetches()) == (1, 0)
    assert "jwks_hosts" in (key_status(issuer).last_error or "")


def test_get_key_with_slow_discovery_is_bounded_by_the_timeout(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(issuers=[idp.issuer_settings(discovery=True)], JWKS_TIMEOUT=0.5)
    idp.mode, idp.delay = "slow", 3.0
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        get_key(get_settings().issuers[0], idp.keys[0].kid, "RS256")
    assert time.monotonic() - started < 1.5


def _discovery_setup(server: _MetadataServer, idp: LocalIssuer, guard: Callable[..., None]) -> tuple[str, str, str]:
    issuer = server.url + "/tenant/a"
    oidc = "/tenant/a/.well-known/openid-configuration"
    rfc8414 = "/.well-known/oauth-authorization-server/tenant/a"
    server.documents["/keys"] = idp.jwks()
    guard(issuers=[{"issuer": issuer, "audiences": [idp.audience], "algorithms": ["RS256"], "discovery": True}])
    return issuer, oidc, rfc8414


def test_discovery_tries_openid_configuration_first(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], metadata_server: _MetadataServer
) -> None:
    issuer, oidc, rfc8414 = _discovery_setup(metadata_server, idp, guard)
    for path in (oidc, rfc8414):
        metadata_server.documents[path] = {"issuer": issuer, "jwks_uri": metadata_server.url + "/keys"}
    assert bearer(client, idp.mint(iss=issuer)).status_code == 200
    assert metadata_server.paths == [oidc, "/keys"]


def test_discovery_falls_back_to_rfc8414_inserted_before_the_path(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], metadata_server: _MetadataServer
) -> None:
    issuer, oidc, rfc8414 = _discovery_setup(metadata_server, idp, guard)
    metadata_server.documents[rfc8414] = {"issuer": issuer, "jwks_uri": metadata_server.url + "/keys"}
    assert bearer(client, idp.mint(iss=issuer)).status_code == 200
    assert metadata_server.paths == [oidc, rfc8414, "/keys"]


@pytest.mark.parametrize("announced", ["{issuer}/", "{issuer}/x", "https://evil.example/tenant/a", None])
def test_discovery_requires_exact_issuer_match(
    client: Client,
    idp: LocalIssuer,
    guard: Callable[..., None],
    metadata_server: _MetadataServer,
    announced: str | None,
) -> None:
    issuer, oidc, rfc8414 = _discovery_setup(metadata_server, idp, guard)
    claimed = announced.format(issuer=issuer) if announced else None
    for path in (oidc, rfc8414):
        metadata_server.documents[path] = {"issuer": claimed, "jwks_uri": metadata_server.url + "/keys"}
    assert_refused(bearer(client, idp.mint(iss=issuer)), 401, "invalid_token")
    assert "/keys" not in metadata_server.paths


def test_discovery_with_root_issuer_uses_the_idp_documents(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[idp.issuer_settings(discovery=True)])
    assert bearer(client, idp.mint()).status_code == 200
    assert idp.fetches("/.well-known/openid-configuration") == 1
    assert idp.fetches("/.well-known/oauth-authorization-server") == 0
