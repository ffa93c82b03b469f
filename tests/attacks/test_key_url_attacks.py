"""Attacks on the URLs keys are fetched from, through real token requests and real discovery.

Each one must leave the issuer's tokens refused (401) and send nothing where the attacker points.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard._http import get_json
from django_bearer_guard._urls import discovered_key_url_problem, peer_address_problem
from django_bearer_guard.conf import get_settings
from django_bearer_guard.exceptions import KeyFetchError
from django_bearer_guard.jwks import fetch
from django_bearer_guard.runtime import key_status
from django_bearer_guard.testing import LocalIssuer

OIDC = "/.well-known/openid-configuration"
UNSAFE = ["\r\n", "\n", "\r", "\t", " ", "\x00", "\x7f", "\x85", "\xa0", "\u2028", "\u3000"]


class Listener:
    """A TCP port on 127.0.0.1 that counts connections: a stand-in for an internal service."""

    def __init__(self) -> None:
        self.connections = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.02)
        self.port: int = self._socket.getsockname()[1]
        self._running = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self._running:
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def stop(self) -> None:
        self._running = False
        self._thread.join()
        self._socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    internal = Listener()
    yield internal
    internal.stop()


def status(client: Client, idp: LocalIssuer, **claims: Any) -> int:
    response = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(**claims)}")
    if response.status_code == 401:
        assert 'error="invalid_token"' in response["WWW-Authenticate"]
    return response.status_code


@pytest.fixture
def discovering(idp: LocalIssuer, guard: Callable[..., None], monkeypatch: Any) -> Callable[..., None]:
    """Trust ``idp`` through discovery; its metadata announces ``jwks_uri`` (``None``: its own)."""

    def apply(jwks_uri: str | None, **entry: Any) -> None:
        guard(issuers=[idp.issuer_settings(discovery=True, **entry)], JWKS_TIMEOUT=0.5)
        if jwks_uri is not None:
            monkeypatch.setattr(idp, "metadata", lambda: {"issuer": idp.issuer, "jwks_uri": jwks_uri})

    return apply


def last_error() -> str:
    return key_status(get_settings().issuers[0]).last_error or ""


def test_sanity_discovery_with_the_host_listed_in_jwks_hosts_accepts_the_token(
    client: Client, idp: LocalIssuer, discovering: Callable[..., None]
) -> None:
    discovering(None, jwks_hosts=[idp.url.removeprefix("http://")])
    assert status(client, idp) == 200


def test_sanity_the_listener_sees_a_connection_to_a_canonical_loopback_jwks_uri(
    client: Client, idp: LocalIssuer, discovering: Callable[..., None], listener: Listener
) -> None:
    # Loopback is allowed with ALLOW_HTTP_LOOPBACK, so this fetch is attempted: the probe works.
    discovering(f"https://127.0.0.1:{listener.port}/keys")
    assert status(client, idp) == 401
    assert listener.connections >= 1


@pytest.mark.parametrize("char", UNSAFE)
def test_configured_jwks_uri_with_control_characters_is_refused_not_stripped(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], char: str
) -> None:
    guard(issuers=[idp.issuer_settings(jwks_uri=idp.url + idp.jwks_path.replace("jwks", "jw" + char + "ks"))])
    assert "bearer_guard.E007" in {problem.id for problem in get_settings().issuers[0].problems}
    assert status(client, idp) == 401
    assert sum(idp.requests.values()) == 0


@pytest.mark.parametrize("char", ["\t", "\n", "\r\n", " ", "\x85"])
def test_discovery_issuer_with_control_characters_is_refused_not_stripped(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], char: str
) -> None:
    issuer = idp.issuer + char
    guard(issuers=[idp.issuer_settings(discovery=True, issuer=issuer)])
    assert "bearer_guard.E007" in {problem.id for problem in get_settings().issuers[0].problems}
    assert status(client, idp, iss=issuer) == 401
    assert sum(idp.requests.values()) == 0


@pytest.mark.parametrize("char", UNSAFE)
@pytest.mark.parametrize("where", ["end", "path", "host"])
def test_discovered_jwks_uri_with_control_characters_is_refused_not_stripped(
    client: Client, idp: LocalIssuer, discovering: Callable[..., None], char: str, where: str
) -> None:
    url = idp.url + idp.jwks_path
    jwks_uri = {
        "end": url + char,
        "path": url.replace("jwks", "jw" + char + "ks"),
        "host": url.replace("127.0.0.1", "127.0.0" + char + ".1"),
    }[where]
    discovering(jwks_uri)
    assert status(client, idp) == 401
    assert idp.fetches(OIDC) == 1
    assert idp.fetches() == 0
    assert "whitespace or control characters" in last_error()


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # decimal
        "0x7f000001",  # hexadecimal
        "017700000001",  # octal
        "0x7f.1",
        "127.1",
        "127.0.1",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "\uff11\uff12\uff17.\uff10.\uff10.\uff11",  # fullwidth digits, mapped by IDNA
        "127\u30020\u30020\u30021",  # ideographic full stops
    ],
)
def test_discovered_jwks_uri_in_a_disguised_loopback_spelling_never_connects(
    client: Client, idp: LocalIssuer, discovering: Callable[..., None], listener: Listener, host: str
) -> None:
    # The resolver reads each of these as 127.0.0.1; the checks must not read them as a name.
    discovering(f"https://{host}:{listener.port}/keys")
    assert status(client, idp) == 401
    assert listener.connections == 0


@pytest.mark.parametrize(
    ("jwks_uri", "reason"),
    [
        ("https://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local"),
        ("https://[fd00:ec2::254]/latest/meta-data/", "private"),
        ("https://[::ffff:169.254.169.254]/latest/meta-data/", "link-local"),
        ("https://10.0.0.1/keys", "private"),
        ("https://[::ffff:10.0.0.1]/keys", "private"),
        ("https://[64:ff9b::a00:1]/keys", "private"),
        ("https://192.168.0.1/keys", "private"),
        ("https://100.64.0.1/keys", "private"),
        ("https://0.0.0.0/keys", "private"),
    ],
)
def test_discovered_jwks_uri_on_the_metadata_service_or_a_private_network_is_refused(
    client: Client, idp: LocalIssuer, discovering: Callable[..., None], jwks_uri: str, reason: str
) -> None:
    discovering(jwks_uri)
    assert status(client, idp) == 401
    assert reason in last_error()


@pytest.mark.parametrize("jwks_hosts", [["keys.idp.example"], ["127.0.0.1"], ["127.0.0.1:1"], []])
def test_metadata_steering_keys_outside_jwks_hosts_is_refused(
    client: Client, idp: LocalIssuer, discovering: Callable[..., None], jwks_hosts: list[str]
) -> None:
    # The metadata names a server of its choosing (here one that serves valid keys): not listed, not fetched.
    discovering(None, jwks_hosts=jwks_hosts)
    assert status(client, idp) == 401
    assert idp.fetches(OIDC) == 1
    assert idp.fetches() == 0
    assert "jwks_hosts" in last_error()


@pytest.mark.parametrize(
    "jwks_uri",
    ["https://[2002:a00:1::]/jwks", "https://[2002:a9fe:a9fe::]/jwks", "https://[2002:7f00:1::]/jwks"],
)
def test_discovered_jwks_uri_in_6to4_form_of_an_internal_address_is_refused(jwks_uri: str) -> None:
    # 2002::/16 routes to the IPv4 address it embeds (10.0.0.1, 169.254.169.254, 127.0.0.1).
    problem = discovered_key_url_problem(jwks_uri, allow_http_loopback=False, allowed_hosts=None)
    assert problem is not None


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("169.254.169.254", True),
        ("fe80::1%eth0", True),
        ("::ffff:192.168.0.1", True),
        ("2002:c0a8:1::", True),
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_peer_address_problem_refuses_internal_addresses(address: str, refused: bool) -> None:
    assert (peer_address_problem(address, allow_loopback=False) is not None) is refused


def test_name_resolving_to_an_internal_address_is_refused_on_the_connected_socket(listener: Listener) -> None:
    # A public-looking name (or one rebound after any check) that resolves inward: the address
    # the socket really reached is what is vetted, before TLS or a byte of HTTP is sent.
    with pytest.raises(KeyFetchError, match=r"resolved to 127\.0\.0\.1"):
        get_json(
            f"http://localhost:{listener.port}/jwks",
            timeout=1.0,
            max_bytes=1024,
            allow_http_loopback=True,
            peers=partial(peer_address_problem, allow_loopback=False),
        )


def test_discovered_jwks_uri_fetch_vets_the_peer_address(
    idp: LocalIssuer, discovering: Callable[..., None], client: Client, monkeypatch: Any
) -> None:
    seen: list[str] = []

    def recording(address: str, *, allow_loopback: bool) -> str | None:
        seen.append(address)
        return "names a private or reserved address"

    monkeypatch.setattr(fetch, "peer_address_problem", recording)
    discovering(jwks_uri=None)
    assert status(client, idp) == 401
    assert seen == ["127.0.0.1"]
    assert "resolved to 127.0.0.1" in last_error()
