from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings
from pytest_django import DjangoDbBlocker

from django_bearer_guard.exceptions import InvalidToken
from django_bearer_guard.signals import token_rejected
from django_bearer_guard.testing import Clock, LocalIssuer, WorkloadCA, WorkloadCertificate, use_clock
from tests.support import live
from tests.support.binding import SVC_A, SVC_B
from tests.support.keys import pooled_key
from tests.support.metadata import MetadataServer
from tests.support.services import services_required


@pytest.fixture(autouse=True)
def _clear_caches() -> Iterator[None]:
    from django_bearer_guard import conf
    from django_bearer_guard.jwks.refresh import join_background

    conf.reload()
    for alias in caches:
        caches[alias].clear()
    yield
    # A refresh or prefetch a test started must not write into the next test's caches.
    join_background()
    conf.reload()


@pytest.fixture
def clock() -> Iterator[Clock]:
    """A manual clock installed as the library's clock."""
    manual = Clock(1_800_000_000.0)
    with use_clock(manual):
        yield manual


@pytest.fixture
def make_idp() -> Iterator[Callable[..., LocalIssuer]]:
    """Start LocalIssuers with pooled keys; all are stopped after the test."""
    started: list[LocalIssuer] = []

    def make(algorithms: tuple[str, ...] = ("RS256",), **kwargs: Any) -> LocalIssuer:
        kwargs.setdefault("keys", [pooled_key(alg) for alg in algorithms])
        idp = LocalIssuer(algorithms=algorithms, **kwargs).start()
        started.append(idp)
        return idp

    yield make
    for idp in started:
        idp.stop()


@pytest.fixture
def idp(make_idp: Callable[..., LocalIssuer]) -> LocalIssuer:
    return make_idp()


@pytest.fixture
def guard(idp: LocalIssuer) -> Iterator[Callable[..., None]]:
    """Apply BEARER_GUARD for ``idp`` (extra keys and issuer overrides through the call)."""
    stack: list[Any] = []

    def apply(*, issuers: list[dict[str, Any]] | None = None, **settings: Any) -> None:
        value = {"ALLOW_HTTP_LOOPBACK": True, "ISSUERS": issuers or [idp.issuer_settings()], **settings}
        override = override_settings(BEARER_GUARD=value)
        override.enable()
        stack.append(override)

    apply()
    yield apply
    while stack:
        stack.pop().disable()


@pytest.fixture
def bearer(idp: LocalIssuer) -> Callable[..., dict[str, Any]]:
    """Test client keyword arguments with a token of ``idp`` carrying the given claims.

    The file view tests have their own (with ``files:read``) in tests/files/fixtures.py.
    """

    def header(**claims: Any) -> dict[str, Any]:
        return {"HTTP_AUTHORIZATION": f"Bearer {idp.mint(**claims)}"}

    return header


@pytest.fixture
def rejected() -> Iterator[list[InvalidToken]]:
    """The errors ``token_rejected`` reports while the test runs."""
    errors: list[InvalidToken] = []

    def record(sender: Any, error: InvalidToken, **kwargs: Any) -> None:
        errors.append(error)

    token_rejected.connect(record)
    yield errors
    token_rejected.disconnect(record)


@pytest.fixture
def metadata_server() -> Iterator[MetadataServer]:
    server = MetadataServer()
    yield server
    server.close()


@pytest.fixture
def gunicorn_server(idp: LocalIssuer, tmp_path: Path) -> Iterator[live.Address]:
    """gunicorn serving tests.urls with ``idp`` trusted."""
    guard = {"ISSUERS": [idp.issuer_settings()], "ALLOW_HTTP_LOOPBACK": True}
    with live.gunicorn(guard, tmp_path / "gunicorn.log") as address:
        yield address


@pytest.fixture
def runserver(guard: Callable[..., None]) -> Iterator[live.Address]:
    """The development server in a thread, with the ``guard`` settings and the test's URLconf."""
    with live.development_server() as address:
        yield address


@pytest.fixture(scope="session", autouse=True)
def _services_reachable(django_db_blocker: DjangoDbBlocker) -> None:
    """With BG_SERVICES=1 the suite must really run on PostgreSQL and Redis: fail, never skip."""
    if not services_required():
        return
    from django.db import connection

    with django_db_blocker.unblock():
        connection.ensure_connection()
        assert connection.vendor == "postgresql", connection.vendor
    cache = caches["default"]
    cache.set("bearer-guard-ping", "pong", 10)
    assert cache.get("bearer-guard-ping") == "pong"
    assert "redis" in type(cache).__module__, type(cache)


@pytest.fixture(scope="session")
def ca() -> WorkloadCA:
    """A workload CA for client certificates (the binding tests)."""
    return WorkloadCA()


@pytest.fixture(scope="session")
def svc_a(ca: WorkloadCA) -> WorkloadCertificate:
    """The client certificate of ``spiffe://example.test/ns/default/sa/svc-a``."""
    return ca.issue(SVC_A)


@pytest.fixture(scope="session")
def svc_b(ca: WorkloadCA) -> WorkloadCertificate:
    """The client certificate of ``spiffe://example.test/ns/default/sa/svc-b``."""
    return ca.issue(SVC_B)
