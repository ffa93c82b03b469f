"""The changelist's actions: what each reports, the admin log, the log lines, and the effect on requests."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import LocalIssuer
from tests.admin.conftest import CHANGELIST
from tests.admin.pages import messages_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_rows_only")]


def act(client: Client, action: str, *rows: TrustedIssuer) -> Any:
    data = {"action": action, "_selected_action": [str(row.pk) for row in rows]}
    return client.post(CHANGELIST, data, follow=True)


def log_of(row: TrustedIssuer) -> list[str]:
    entries = LogEntry.objects.filter(object_id=str(row.pk), action_flag=CHANGE).order_by("pk")
    return [entry.get_change_message() for entry in entries]


def whoami(token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return int(client.get("/whoami/").status_code)


def test_disable_refuses_the_issuers_tokens_at_once(
    admin_client: Client,
    idp: LocalIssuer,
    make_row: Callable[..., TrustedIssuer],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    row = make_row(name="Corporate")
    token = idp.mint()
    assert whoami(token) == 200
    caplog.set_level(logging.INFO, logger="django_bearer_guard")
    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_client, "disable", row)
    assert messages_of(response) == [("success", "Disabled 1 issuer(s): Corporate.")]
    row.refresh_from_db()
    assert not row.enabled
    assert log_of(row) == ["Changed Enabled."]
    assert f"bearer_guard: admin disabled the trusted issuer {row.issuer} in the admin" in caplog.messages
    assert whoami(token) == 401

    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_client, "enable", row)
    assert messages_of(response) == [("success", "Enabled 1 issuer(s): Corporate.")]
    assert log_of(row) == ["Changed Enabled.", "Changed Enabled."]
    assert f"bearer_guard: admin enabled the trusted issuer {row.issuer} in the admin" in caplog.messages
    assert whoami(token) == 200


def test_enable_and_disable_leave_rows_already_so_alone(
    admin_client: Client, make_idp: Callable[..., LocalIssuer], caplog: pytest.LogCaptureFixture
) -> None:
    on = TrustedIssuer.objects.create(name="On", **make_idp().issuer_settings())
    off = TrustedIssuer.objects.create(name="Off", **make_idp().issuer_settings(enabled=False))
    stamp = off.updated_at
    caplog.set_level(logging.INFO, logger="django_bearer_guard")
    response = act(admin_client, "disable", on, off)
    assert messages_of(response) == [("success", "Disabled 1 issuer(s): On.")]
    off.refresh_from_db()
    assert (log_of(on), log_of(off), off.updated_at) == (["Changed Enabled."], [], stamp)
    assert messages_of(act(admin_client, "disable", on, off)) == [
        ("info", "The selected issuers were already disabled.")
    ]
    assert len([m for m in caplog.messages if "disabled the trusted issuer" in m]) == 1


def test_fetch_keys_now_reports_each_row(
    admin_client: Client,
    idp: LocalIssuer,
    make_idp: Callable[..., LocalIssuer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    down, inline, off = make_idp(), make_idp(), make_idp()
    down.mode = "down"
    healthy = TrustedIssuer.objects.create(name="A healthy", **idp.issuer_settings())
    failing = TrustedIssuer.objects.create(name="B failing", **down.issuer_settings())
    static = TrustedIssuer.objects.create(name="C inline", **inline.issuer_settings(jwks=inline.jwks()))
    disabled = TrustedIssuer.objects.create(name="D disabled", **off.issuer_settings(enabled=False))
    broken = TrustedIssuer.objects.create(name="E broken", **make_idp().issuer_settings(algorithms=["none"]))
    caplog.set_level(logging.INFO, logger="django_bearer_guard")

    response = act(admin_client, "fetch_keys_now", healthy, failing, static, disabled, broken)

    kid, inline_kid, off_kid = idp.signing_key().kid, inline.signing_key().kid, off.signing_key().kid
    shown = dict(messages_of(response)[i][::-1] for i in range(5))
    assert shown[f"A healthy: healthy, 1 key(s): {kid}"] == "success"
    failed = next(text for text in shown if text.startswith("B failing: failing: "))
    assert "503" in failed and shown[failed] == "error"
    assert shown[f"C inline: healthy, 1 key(s): {inline_kid}"] == "success"
    assert shown[f"D disabled: disabled, 1 key(s): {off_kid}"] == "warning"
    misconfigured = next(text for text in shown if text.startswith("E broken: misconfigured: "))
    assert "unsigned tokens" in misconfigured and shown[misconfigured] == "error"
    assert (idp.fetches(), down.fetches(), inline.fetches(), off.fetches()) == (1, 1, 0, 1)
    assert log_of(healthy) == [f"Fetched keys now: healthy, 1 key(s): {kid}"]
    assert log_of(failing)[0].startswith("Fetched keys now: failing: ")
    assert "bearer_guard: keys of 'A healthy' fetched on request of 'admin'" in caplog.messages
    failure = "bearer_guard: fetch of the keys of 'B failing' on request of 'admin' failed"
    assert any(message.startswith(failure) for message in caplog.messages)


def test_fetch_keys_now_skips_a_row_the_settings_shadow(
    admin_client: Client, idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], guard: Callable[..., None]
) -> None:
    row = make_row(name="Shadowed")
    guard(ISSUERS=[idp.issuer_settings()])
    response = act(admin_client, "fetch_keys_now", row)
    assert messages_of(response) == [
        ("warning", "Shadowed: not fetched; BEARER_GUARD['ISSUERS'] names the same issuer and the settings entry wins.")
    ]
    assert (idp.fetches(), log_of(row)) == (0, [])


def test_fetch_keys_now_reports_stale_keys(
    admin_client: Client, idp: LocalIssuer, make_row: Callable[..., TrustedIssuer]
) -> None:
    row = make_row(name="Corporate")
    act(admin_client, "fetch_keys_now", row)
    idp.mode = "down"
    ((level, text),) = messages_of(act(admin_client, "fetch_keys_now", row))
    assert level == "warning"
    assert text.startswith("Corporate: stale: ") and "the last good keys serve until " in text


def test_fetch_keys_now_of_a_disabled_row_without_keys_says_only_disabled(
    admin_client: Client, idp: LocalIssuer, make_row: Callable[..., TrustedIssuer]
) -> None:
    row = make_row(name="Off", enabled=False)
    idp.mode = "down"
    assert messages_of(act(admin_client, "fetch_keys_now", row)) == [("warning", "Off: disabled")]
    assert idp.fetches() == 1


def test_disable_names_every_row_it_changed(admin_client: Client, make_idp: Callable[..., LocalIssuer]) -> None:
    rows = [TrustedIssuer.objects.create(name=name, **make_idp().issuer_settings()) for name in ("A", "B")]
    assert messages_of(act(admin_client, "disable", *rows)) == [("success", "Disabled 2 issuer(s): A, B.")]
    assert not TrustedIssuer.objects.filter(enabled=True).exists()


@pytest.mark.parametrize("action", ["fetch_keys_now", "enable", "disable"])
def test_actions_need_the_change_permission(
    staff_client: Callable[..., Client], idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], action: str
) -> None:
    row = make_row(enabled=action != "enable")
    client = staff_client("view_trustedissuer")
    response = act(client, action, row)
    assert response.status_code == 200
    assert response.context["action_form"] is None
    row.refresh_from_db()
    assert row.enabled is (action != "enable")
    assert (log_of(row), idp.fetches()) == ([], 0)
