"""The record of one validation, check by check: what the token checker shows."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_bearer_guard.issuers.config import IssuerConfig

__all__ = ["STEPS", "Trace", "in_words"]

STEPS = (
    "compact form and header",
    "issuer trusted",
    "algorithm allowed",
    "key found",
    "signature",
    "typ",
    "exp",
    "nbf",
    "iat",
    "audience",
    "claim types",
    "required claims",
    "tenant",
    "scopes",
    "workload",
    "binding",
)
"""The checks of ``TokenValidator.validate()``, in its order."""

_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60))


def _amount(seconds: float) -> tuple[int, str]:
    whole = int(abs(seconds))
    for unit, size in _UNITS:
        # Two of a unit before it is used: "90 seconds" says more than "1 minute".
        if whole >= 2 * size:
            return whole // size, unit + "s"
    return whole, "second" if whole == 1 else "seconds"


def in_words(seconds: float) -> str:
    """A duration for people: ``"45 seconds"``, ``"4 minutes"``, ``"3 days"`` (rounded down)."""
    count, unit = _amount(seconds)
    return f"{count} {unit}"


def _date(timestamp: float) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    except (OverflowError, ValueError, OSError):
        # Beyond the calendar; a JSON integer may even be beyond any float.
        return f"{timestamp:.0f}" if abs(timestamp) < 1e300 else "beyond any date"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


class Trace:
    """What one validation passed, in order, and what it read on the way.

    Give one to ``TokenValidator.validate(raw, trace=trace)``: each check reports itself with
    :meth:`passed` as soon as it holds, so when the validation raises, the check that refused
    the token is the first of :data:`STEPS` not passed (:attr:`stopped_at`). ``now``, when
    given, is the moment the time claims are judged at instead of the clock's.
    """

    def __init__(self, *, now: float | None = None) -> None:
        self.now = now
        self.leeway: float = 0
        self.header: Mapping[str, Any] | None = None
        self.claims: Mapping[str, Any] | None = None
        self.issuer: IssuerConfig | None = None
        self.steps: list[tuple[str, str]] = []

    def passed(self, step: str, detail: str) -> None:
        """Record that ``step`` holds; ``detail`` says how, in words safe to show an operator."""
        self.steps.append((step, detail))

    def time_passed(self, claim: str, value: float | None) -> None:
        """Record that the time claim ``claim`` (``exp``, ``nbf`` or ``iat``) holds."""
        self.passed(claim, self.describe_time(claim, value))

    @property
    def stopped_at(self) -> str | None:
        """The step a refusal stopped at: the first of :data:`STEPS` not passed (``None`` after all)."""
        return STEPS[len(self.steps)] if len(self.steps) < len(STEPS) else None

    def describe_time(self, claim: str, value: float | None) -> str:
        """``value`` of the time claim ``claim`` against ``now``, in words, with the leeway."""
        if value is None:
            return "absent"
        now = self.now or 0.0
        ahead = value > now
        try:
            delta = float(value) - now
        except OverflowError:  # a JSON integer beyond any float
            return f"{claim} beyond any date, {'ahead' if ahead else 'past'} (leeway {in_words(self.leeway)})"
        span = in_words(delta)
        if claim == "exp":
            count, unit = _amount(delta)
            relation = f"valid for {count} more {unit}" if ahead else f"expired {span} ago"
        elif claim == "nbf":
            relation = f"starts in {span}" if ahead else f"valid since {span} ago"
        else:
            relation = f"issued {span} in the future" if ahead else f"issued {span} ago"
        return f"{relation} ({claim} {_date(value)}, leeway {in_words(self.leeway)})"
