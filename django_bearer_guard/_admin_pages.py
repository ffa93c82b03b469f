"""What the admin pages show: an issuer's health, a token's verdict."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from django.template.loader import render_to_string
from django.utils import formats
from django.utils import timezone as django_timezone

from django_bearer_guard import checker
from django_bearer_guard._admin_forms import TokenCheckForm
from django_bearer_guard.jwks.health import IssuerHealth, KeyInfo

__all__ = ["check_token", "describe", "render_panel", "summary", "when"]

_MARKS = {True: "✓", False: "✗", None: "·"}


def when(at: float | None) -> str | None:
    """A time of the library's clock (seconds since the epoch) in the current time zone."""
    if at is None:
        return None
    local = django_timezone.localtime(datetime.fromtimestamp(at, tz=timezone.utc))
    return formats.date_format(local, "Y-m-d H:i:s T")


def _kids(kids: tuple[str | None, ...]) -> str:
    return ", ".join("(no kid)" if kid is None else kid for kid in kids)


def _key(key: KeyInfo) -> dict[str, Any]:
    return {"info": key, "shape": key.crv or (f"{key.size} bits" if key.size else "")}


def describe(health: IssuerHealth) -> dict[str, Any]:
    """``health`` laid out for the templates: times formatted, keys and history as rows."""
    config = health.config
    return {
        "health": health,
        "name": config.name or config.issuer,
        "last_attempt": when(health.last_attempt_at),
        "last_success": when(health.last_success_at),
        "expires": when(health.expires_at),
        "stale_until": when(health.stale_until),
        "keys": [_key(key) for key in health.keys],
        "history": [
            {"at": when(event.at), "event": event, "kids": _kids(event.kids)} for event in health.history
        ],
    }


def summary(health: IssuerHealth) -> str:
    """The status in one line: the keys when there are some, what is wrong when not."""
    if health.status == "misconfigured":
        return "misconfigured: " + "; ".join(health.problems)
    if health.status == "stale":
        return f"stale: {health.last_error}; the last good keys serve until {when(health.stale_until)}"
    if health.status == "failing":
        return f"failing: {health.last_error or 'no usable keys'}"
    if not health.keys:
        return health.status
    return f"{health.status}, {len(health.keys)} key(s): {_kids(tuple(key.kid for key in health.keys))}"


def render_panel(name: str, health: IssuerHealth) -> str:
    """One read-only panel of the change page (``status``, ``keys`` or ``history``)."""
    return render_to_string(f"admin/django_bearer_guard/_{name}.html", {"issuer": describe(health)})


def check_token(posted: Mapping[str, Any] | None) -> tuple[TokenCheckForm, dict[str, Any] | None]:
    """The checker's form and, after a valid POST (``posted``), the verdict laid out for the template.

    The form never renders the token back.
    """
    if posted is None:
        return TokenCheckForm(), None
    form = TokenCheckForm(posted)
    if not form.is_valid():
        return form, None
    verdict = checker.check_token(form.cleaned_data["token"], view_path=form.cleaned_data["path"] or None)
    return form, _verdict(verdict)


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _verdict(verdict: checker.Verdict) -> dict[str, Any]:
    if verdict.accepted:
        note = ""
    elif any(step.name == "signature" and step.ok for step in verdict.steps):
        note = "signature verified, but the token was refused"
    else:
        note = "not verified: the token was refused"
    return {
        "verdict": verdict,
        "note": note,
        "yields": verdict.accepted or bool(verdict.scopes) or verdict.workload is not None,
        "steps": [{"mark": _MARKS[step.ok], "step": step} for step in verdict.steps],
        "header": _json(verdict.header),
        "claims": _json(verdict.claims),
    }

