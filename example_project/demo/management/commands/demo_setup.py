"""Make the demo's trusted issuer rows and admin user; print where to log in."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing.dev_issuer import write_once
from example_project.demo.dev_issuer import BINDINGS, row_fields, secrets_dir

PASSWORD_FILE = "admin-password"


def setup_issuers() -> list[TrustedIssuer]:
    """The development issuer's rows, one per binding, reset to :func:`row_fields` (enabled) for ``DEMO_ADDR``.

    All or none: a row the library refuses (a ``DEMO_ADDR`` that is not loopback) leaves the table as it was.
    """
    rows = []
    with transaction.atomic():
        for binding in BINDINGS:
            fields = row_fields(binding)
            # A run on another DEMO_ADDR left a row for an issuer nobody serves now.
            TrustedIssuer.objects.filter(name=fields["name"]).exclude(issuer=fields["issuer"]).delete()
            row = TrustedIssuer.objects.filter(issuer=fields["issuer"]).first() or TrustedIssuer()
            for name, value in fields.items():
                setattr(row, name, value)
            try:
                row.full_clean()
            except ValidationError as exc:
                raise CommandError(f"the development issuer {fields['issuer']!r} is refused: {exc}") from exc
            row.save()
            rows.append(row)
    return rows


def setup_admin() -> tuple[str, str]:
    """The admin user's name and password: a superuser made once, its password kept in a file.

    The password is generated on first use and kept beside the development keys (git-ignored);
    each run sets it again, so the printed one always logs in.
    """
    password = write_once(secrets_dir() / PASSWORD_FILE, lambda: secrets.token_urlsafe(12).encode()).decode()
    username = settings.DEMO_ADMIN_USER
    user, _ = get_user_model().objects.get_or_create(username=username)
    if not (user.is_active and user.is_staff and user.is_superuser and user.check_password(password)):
        user.is_active = user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
    return username, password


class Command(BaseCommand):
    help = "Create the development issuer's TrustedIssuer rows and the admin user (idempotent)."
    # Before the row exists the checks would warn that no issuer is trusted: this command makes it.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        rows = setup_issuers()
        username, password = setup_admin()
        for row in rows:
            binding = f", binding {row.binding}" if row.binding else ""
            self.stdout.write(f"# Trusted issuer: {row.issuer} (TrustedIssuer row {row.pk}, enabled{binding})")
        self.stdout.write(f"# Admin: {settings.DEMO_ORIGIN}/admin/ (user: {username}, password: {password})")
