"""The token checker: why a token is accepted or refused, step by step.

:func:`check_token` runs the real :class:`~django_bearer_guard.tokens.validator.TokenValidator`
with a :class:`~django_bearer_guard.tokens.trace.Trace`, so its verdict cannot drift from the
one a request gets. It serves operators (the admin's token checker,
``manage.py bearer_guard_check_token``): it shows the detailed reason of a refusal, which a
client never sees, and hints at near misses. Key material and secrets are never shown, and the
token is neither logged nor stored.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.urls import Resolver404, resolve
from django.views.decorators.debug import sensitive_variables

from django_bearer_guard._declarations import (
    DeclaredView,
    InvalidDeclaration,
    declares_authentication_level,
    max_auth_age,
    required_acr_values,
    required_scope_sets,
)
from django_bearer_guard._json import JSONError, loads_object
from django_bearer_guard.conf import require_valid
from django_bearer_guard.exceptions import (
    ExpiredToken,
    InsufficientScope,
    InvalidClaim,
    InvalidToken,
    IssuedInFuture,
    KeysUnavailable,
    NotYetValid,
    UnknownKey,
    UntrustedIssuer,
    WrongAudience,
)
from django_bearer_guard.runtime import Runtime, get_runtime
from django_bearer_guard.tokens.trace import STEPS, Trace
from django_bearer_guard.tokens.validator import TokenValidator
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = ["Step", "Verdict", "check_token"]

_VIEW = "view scopes"
_LEVEL = "view authentication level"
_TIME_ERRORS: dict[type[InvalidToken], str] = {ExpiredToken: "exp", NotYetValid: "nbf", IssuedInFuture: "iat"}


@dataclass(frozen=True)
class Step:
    """One check of the verdict: passed (``ok``), failed (``not ok``) or not reached (``ok is None``)."""

    name: str
    ok: bool | None
    detail: str
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The step as JSON-serialisable data."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "hint": self.hint}


@dataclass(frozen=True)
class Verdict:
    """What the validator made of a token, and what it read of it (unverified when refused)."""

    accepted: bool
    steps: tuple[Step, ...]
    error: str | None
    description: str
    header: dict[str, Any] | None
    claims: dict[str, Any] | None
    scopes: tuple[str, ...]
    workload: str | None

    def to_dict(self) -> dict[str, Any]:
        """The verdict as JSON-serialisable data (``--json``)."""
        return {
            "accepted": self.accepted,
            "error": self.error,
            "description": self.description,
            "steps": [step.to_dict() for step in self.steps],
            "header": self.header,
            "claims": self.claims,
            "scopes": list(self.scopes),
            "workload": self.workload,
        }


@sensitive_variables("raw")
def check_token(raw: str, *, view_path: str | None = None, now: float | None = None) -> Verdict:
    """The verdict of the validator on ``raw``, judged at ``now`` (default: the clock's now).

    With ``view_path``, a last step says whether the token holds the scopes the view routed at
    that path requires for ``GET``, and for a view that uses ``RequiresAuthenticationLevel`` one
    more whether its ``acr`` and ``auth_time`` meet the view's level; the token is refused when
    it does not.
    """
    runtime = get_runtime()
    try:
        require_valid(runtime.settings)
    except ImproperlyConfigured as exc:
        # Every token is refused then, whatever it holds (see BearerTokenAuthentication).
        failed = Step("settings", False, f"BEARER_GUARD has errors, so every token is refused: {exc}")
        return _refusal(raw, Trace(), failed, KeysUnavailable(str(exc)), view_path)
    trace = Trace(now=now)
    try:
        token = TokenValidator(runtime).validate(raw, trace=trace)
    except InvalidToken as error:
        return _refusal(raw, trace, _failed_step(runtime, raw, trace, error), error, view_path)
    except Exception as exc:
        # A request fails closed on these too (BearerTokenAuthentication).
        unexpected = InvalidToken(f"unexpected {type(exc).__name__}: {exc}")
        return _refusal(raw, trace, _failed_step(runtime, raw, trace, unexpected), unexpected, view_path)
    steps = [Step("settings", True, "BEARER_GUARD has no errors")]
    steps += [Step(name, True, detail) for name, detail in trace.steps]
    error_name: str | None = None
    description = "accepted"
    if view_path is not None:
        view_step, error_name, refusal = _view_step(token, view_path)
        steps.append(view_step)
        level = _level_step(token, view_path, trace) if error_name is None else None
        if level is not None:
            steps.append(level[0])
            error_name, refusal = level[1], level[2]
        description = refusal or description
    return Verdict(
        accepted=error_name is None,
        steps=tuple(steps),
        error=error_name,
        description=description,
        header=dict(token.header),
        claims=dict(token.claims),
        scopes=tuple(sorted(token.scopes)),
        workload=token.workload,
    )


@sensitive_variables("raw")
def _refusal(raw: str, trace: Trace, failed: Step, error: InvalidToken, view_path: str | None) -> Verdict:
    steps = [Step("settings", True, "BEARER_GUARD has no errors")] if failed.name != "settings" else []
    steps += [Step(name, True, detail) for name, detail in trace.steps]
    steps.append(failed)
    rest = STEPS[STEPS.index(failed.name) + 1 :] if failed.name in STEPS else STEPS
    if view_path is not None:
        rest += (_VIEW,)
    steps += [Step(name, None, "not reached") for name in rest]
    header, claims = trace.header, trace.claims
    if header is None or claims is None:
        header, claims = _peek(raw)
    return Verdict(
        accepted=False,
        steps=tuple(steps),
        error=type(error).__name__,
        description=error.description,
        header=dict(header) if header is not None else None,
        claims=dict(claims) if claims is not None else None,
        scopes=(),
        workload=None,
    )


@sensitive_variables("raw")
def _peek(raw: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Header and payload of a token the validator could not parse, decoded for display only."""
    parts = raw.strip().split(".")
    decoded: list[dict[str, Any] | None] = []
    for segment in [*parts, "", ""][:2]:
        try:
            data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
            decoded.append(loads_object(data))
        except (binascii.Error, ValueError, JSONError):
            decoded.append(None)
    return decoded[0], decoded[1]


@sensitive_variables("raw")
def _failed_step(runtime: Runtime, raw: str, trace: Trace, error: InvalidToken) -> Step:
    name = trace.stopped_at or STEPS[-1]
    claims = trace.claims or {}
    detail, hint = error.reason, None
    if isinstance(error, UntrustedIssuer):
        iss = str(claims.get("iss"))
        detail = f"{iss[:200]!r} is not a trusted issuer"
        hint = _issuer_hint(runtime, iss)
    elif isinstance(error, UnknownKey) and trace.issuer is not None:
        kids = runtime.keys.key_status(trace.issuer).kids
        hint = f"the issuer's keys have kid {', '.join(repr(kid) for kid in kids)}" if kids else None
    elif isinstance(error, WrongAudience) and trace.issuer is not None:
        aud = claims.get("aud")
        audiences: list[str] = [aud] if isinstance(aud, str) else list(aud or ())
        expected = trace.issuer.audiences
        detail = f"the token is for {audiences!r}; the issuer's tokens must be for {list(expected)!r} here"
        hint = _near_miss("audience", audiences, expected)
    elif type(error) in _TIME_ERRORS:
        claim = _TIME_ERRORS[type(error)]
        detail = trace.describe_time(claim, claims[claim])
    elif name == STEPS[0] and raw.lower().startswith("bearer "):
        hint = "paste the token alone, without the 'Bearer ' of the Authorization header"
    return Step(name, False, detail, hint)


def _issuer_hint(runtime: Runtime, iss: str) -> str | None:
    configured = runtime.issuers.all_issuers()
    if any(config.issuer == iss for config in configured):
        return "the issuer is configured but disabled"
    return _near_miss("issuer", [iss], [config.issuer for config in configured])


def _differences(given: str, trusted: str) -> list[str]:
    """How ``given`` differs from ``trusted`` when only by a trailing slash, the scheme and case."""
    found: list[str] = []
    if given.endswith("/") != trusted.endswith("/"):
        found.append("a trailing slash")
        given, trusted = given.rstrip("/"), trusted.rstrip("/")
    schemes = (given.lower().partition("://")[0], trusted.lower().partition("://")[0])
    if schemes[0] != schemes[1] and set(schemes) == {"http", "https"}:
        found.append("its scheme")
        given, trusted = given.partition("://")[2], trusted.partition("://")[2]
    if given != trusted:
        if given.lower() != trusted.lower():
            return []
        found.append("case")
    return found


def _near_miss(what: str, given: Iterable[str], trusted: Iterable[str]) -> str | None:
    for value in given:
        for candidate in trusted:
            found = _differences(value, candidate)
            if found:
                return f"a trusted {what} differs from {value[:200]!r} only by {' and '.join(found)}: {candidate!r}"
    return None


def _view_step(token: VerifiedToken, path: str) -> tuple[Step, str | None, str]:
    """The view-scopes step, and the error name and description of a refusal (``None`` when held)."""
    # Imported here: the faces load DRF's views, which read the settings as they load.
    from django_bearer_guard.permissions import HasScopes, uses_permission

    try:
        callback: Any = resolve(urlsplit(path).path).func
    except (Resolver404, ValueError):  # ValueError: not even a URL ("//[x")
        return Step(_VIEW, False, f"no view is routed at {path[:200]!r}"), "Resolver404", "No view is routed here."
    view = DeclaredView.of(callback, "get")
    if view is None:
        name = getattr(callback, "__qualname__", repr(callback))
        return Step(_VIEW, True, f"{name} is not a DRF view: it requires no scopes"), None, ""
    cls = callback.cls
    name = f"{cls.__module__}.{cls.__qualname__}"
    if not uses_permission(view.permission_classes, HasScopes):
        return Step(_VIEW, True, f"{name} does not use HasScopes: it requires no scopes"), None, ""
    scope_sets = required_scope_sets(view, "GET")
    if scope_sets is None:
        detail = f"{name} uses HasScopes but declares no scopes for GET: it refuses every token"
        return Step(_VIEW, False, detail), "AccessDenied", "This resource declares no scopes."
    wanted = " or ".join(repr(" ".join(scopes)) for scopes in scope_sets)
    if any(token.scopes.issuperset(scopes) for scopes in scope_sets):
        return Step(_VIEW, True, f"{name} needs {wanted} for GET: held"), None, ""
    held = repr(" ".join(sorted(token.scopes))) if token.scopes else "no scopes"
    detail = f"{name} needs {wanted} for GET; the token holds {held}"
    return Step(_VIEW, False, detail), InsufficientScope.__name__, InsufficientScope.default_description


def _level_step(token: VerifiedToken, path: str, trace: Trace) -> tuple[Step, str | None, str] | None:
    """The step-up step for a view that uses ``RequiresAuthenticationLevel`` (``None`` otherwise)."""
    from django_bearer_guard.permissions import RequiresAuthenticationLevel, uses_permission
    from django_bearer_guard.tokens.levels import authentication_shortfall

    callback: Any = resolve(urlsplit(path).path).func  # resolved already by the view-scopes step
    view = DeclaredView.of(callback, "get")
    if view is None or not uses_permission(view.permission_classes, RequiresAuthenticationLevel):
        return None
    name = f"{callback.cls.__module__}.{callback.cls.__qualname__}"
    try:
        acr_values, max_age = required_acr_values(view, "GET"), max_auth_age(view)
    except InvalidDeclaration as exc:
        detail = f"{name} declares an invalid level ({exc}): it refuses every token"
        return Step(_LEVEL, False, detail), "AccessDenied", "This resource declares no valid authentication level."
    if not declares_authentication_level(view):
        detail = f"{name} uses RequiresAuthenticationLevel but declares no level: it refuses every token"
        return Step(_LEVEL, False, detail), "AccessDenied", "This resource declares no authentication level."
    wanted = [f"acr {' or '.join(repr(value) for value in acr_values)}"] if acr_values else []
    wanted += [f"auth_time at most {max_age} s old"] if max_age is not None else []
    needs = f"{name} needs {' and '.join(wanted) or 'no authentication level'} for GET"
    try:
        shortfall = authentication_shortfall(
            token.claims, acr_values, max_age, now=float(trace.now or 0.0), leeway=trace.leeway
        )
    except InvalidClaim as exc:
        return Step(_LEVEL, False, f"{needs}; {exc.reason}"), InvalidClaim.__name__, exc.description
    if shortfall is None:
        return Step(_LEVEL, True, f"{needs}: met"), None, ""
    return Step(_LEVEL, False, f"{needs}; {shortfall.reason}"), type(shortfall).__name__, shortfall.description
