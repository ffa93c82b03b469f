"""Callers without a token, a scope or a tenant learn nothing about which files exist."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.files.fixtures import Store, auth, bearer, server, store
from tests.files.probes import PROBES
from tests.files.probes import fingerprint as _fingerprint
from tests.files.server import raw_get

__all__ = ["auth", "bearer", "server", "store"]  # fixtures


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_caller_without_token_learns_nothing_about_what_exists(
    store: Store, server: tuple[str, int], method: str
) -> None:
    answers = {_fingerprint(raw_get(server, b"/files/" + probe, {}, method=method)) for probe in PROBES}
    assert len(answers) == 1
    assert next(iter(answers))[0] == 401


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_caller_without_scope_learns_nothing_about_what_exists(
    store: Store, server: tuple[str, int], bearer: Callable[..., dict[str, str]], method: str
) -> None:
    headers = {"Authorization": bearer(scope="other")["HTTP_AUTHORIZATION"]}
    answers = {_fingerprint(raw_get(server, b"/files/" + probe, headers, method=method)) for probe in PROBES}
    assert len(answers) == 1
    assert next(iter(answers))[0] == 403


def test_caller_without_a_tenant_learns_nothing_about_any_tenant(
    store: Store, server: tuple[str, int], bearer: Callable[..., dict[str, str]]
) -> None:
    headers = {"Authorization": bearer()["HTTP_AUTHORIZATION"]}
    probes = [b"report.txt", b"missing.txt", b"../other/secret.txt", b"%2e%2e/acme/report.txt"]
    answers = {_fingerprint(raw_get(server, b"/tenant/" + probe, headers)) for probe in probes}
    assert len(answers) == 1
    assert next(iter(answers))[0] == 403
