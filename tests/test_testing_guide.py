"""The examples of docs/testing.rst, run: a ``TestCase`` with a ``LocalIssuer``, and key rotation
against the refetch cool-down."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.test import TestCase, override_settings

from django_bearer_guard.testing import Clock, LocalIssuer, use_clock

pytestmark = pytest.mark.urls("tests.testapp.scope_urls")


class ReportsTests(TestCase):
    issuer: ClassVar[LocalIssuer]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.issuer = LocalIssuer(audience="https://api.example.test").start()
        cls.addClassCleanup(cls.issuer.stop)

    def setUp(self) -> None:
        guard = {"ISSUERS": [self.issuer.issuer_settings()], "ALLOW_HTTP_LOOPBACK": True}
        override = override_settings(BEARER_GUARD=guard)
        override.enable()
        self.addCleanup(override.disable)

    def get(self, token: str) -> Any:
        return self.client.get("/reports/", HTTP_AUTHORIZATION=f"Bearer {token}")

    def test_the_read_scope_is_enough(self) -> None:
        assert self.get(self.issuer.mint(scope="reports:read")).status_code == 200

    def test_another_scope_is_403(self) -> None:
        assert self.get(self.issuer.mint(scope="reports:write")).status_code == 403


def test_a_rotated_key_waits_for_the_refetch_cool_down(guard: Any, idp: LocalIssuer, client: Any) -> None:
    def get(token: str) -> Any:
        return client.get("/reports/", HTTP_AUTHORIZATION=f"Bearer {token}")

    clock = Clock()
    with use_clock(clock):
        assert get(idp.mint(scope="reports:read")).status_code == 200  # keys fetched now
        idp.rotate()
        # An unknown kid refetches at most once per JWKS_REFETCH_COOLDOWN (30 s by default).
        assert get(idp.mint(scope="reports:read")).status_code == 401
        clock.advance(31)
        assert get(idp.mint(scope="reports:read")).status_code == 200
