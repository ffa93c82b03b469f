"""Rows pointing at a local issuer, and admin clients with and without permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import Clock, LocalIssuer

CHANGELIST = "/admin/django_bearer_guard/trustedissuer/"


@pytest.fixture(autouse=True)
def _rows_only(guard: Callable[..., None], clock: Clock) -> None:
    """No issuers in the settings (a test may add some), and the manual clock."""
    guard(ISSUERS=[])


@pytest.fixture
def make_row(idp: LocalIssuer) -> Callable[..., TrustedIssuer]:
    """A saved row for ``idp`` (``jwks_uri`` unless overridden)."""

    def make(**overrides: Any) -> TrustedIssuer:
        row: TrustedIssuer = TrustedIssuer.objects.create(**idp.issuer_settings(**overrides))
        return row

    return make


@pytest.fixture
def staff_client(django_user_model: type[User]) -> Callable[..., Client]:
    """A client logged in as a staff user holding only the given permissions of the app."""

    def make(*codenames: str) -> Client:
        user = django_user_model.objects.create_user("staff", password=None, is_staff=True)
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="django_bearer_guard", codename__in=codenames)
        )
        client = Client()
        client.force_login(user)
        return client

    return make
