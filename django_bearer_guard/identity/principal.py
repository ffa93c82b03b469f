"""Who a verified token speaks for: a stateless :class:`TokenUser` or a looked-up Django user.

``SCOPE_PERMISSIONS`` turns the token's scopes into Django permissions. A ``TokenUser`` has
exactly those permissions. A looked-up Django user keeps its own permissions, narrowed by the
token: a permission holds only when the user has it **and** one of the token's scopes maps to
it, so a token never lets a user do more than the user may, nor more than the token says.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import FieldDoesNotExist, ValidationError

from django_bearer_guard.conf import UserLookup, get_settings
from django_bearer_guard.exceptions import UserRejected
from django_bearer_guard.tokens.scopes import claim_at
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = ["TokenUser", "permissions_for", "resolve_user"]


def permissions_for(scopes: Iterable[str]) -> frozenset[str]:
    """The Django permissions (``"app_label.codename"``) that ``SCOPE_PERMISSIONS`` grants ``scopes``."""
    mapping = get_settings().scope_permissions
    return frozenset(perm for scope in scopes for perm in mapping.get(scope, ()))


def _in_module(permissions: Iterable[str], app_label: str) -> bool:
    return any(perm.startswith(app_label + ".") for perm in permissions)


def _perm_list(perm_list: Iterable[str]) -> list[str]:
    # Django's contract: a bare string would be checked one character at a time.
    if isinstance(perm_list, str):
        raise ValueError("perm_list must be an iterable of permissions.")
    return list(perm_list)


class TokenUser:
    """The caller as the token describes it: authenticated, stateless, never stored.

    ``username`` is the token's subject. Permissions come only from the token's scopes through
    ``SCOPE_PERMISSIONS``; scopes are not object-specific, so object permissions
    (``has_perm(perm, obj)``) are never granted, as with Django's ``ModelBackend``.
    Two ``TokenUser`` objects are equal when they share subject and issuer, and then only
    they share a :attr:`pk`.
    """

    is_active = True
    is_staff = False
    is_superuser = False

    @cached_property
    def pk(self) -> str:
        """``"token:"`` and the SHA-256 (64 hex digits) of the token's issuer and subject.

        One caller, one value, never another issuer's: DRF's ``UserRateThrottle`` gives each
        caller its own bucket. No integer or UUID primary key can equal it, and ``:`` is not
        allowed in Django's user names, so an ORM lookup with it raises or matches nothing
        rather than reaching a stored row.
        """
        # An issuer speaks only for itself: the issuer is part of the identity, unambiguously encoded.
        identity = json.dumps(["TokenUser", self.token.issuer, self.username])
        return "token:" + hashlib.sha256(identity.encode("ascii")).hexdigest()

    @property
    def id(self) -> str:
        """The same as :attr:`pk`."""
        return self.pk

    def __init__(self, token: VerifiedToken) -> None:
        self.token = token
        self.username = token.subject or ""
        self._permissions: frozenset[str] | None = None

    @property
    def is_authenticated(self) -> bool:
        """Always ``True``: a ``TokenUser`` exists only for a verified token."""
        return True

    @property
    def is_anonymous(self) -> bool:
        """Always ``False``."""
        return False

    @property
    def groups(self) -> Any:
        """An empty manager: a token user belongs to no group."""
        from django.contrib.auth.models import Group
        from django.db.models.manager import EmptyManager

        return EmptyManager(Group)

    @property
    def user_permissions(self) -> Any:
        """An empty manager: a token user's permissions come from its scopes only."""
        from django.contrib.auth.models import Permission
        from django.db.models.manager import EmptyManager

        return EmptyManager(Permission)

    def get_username(self) -> str:
        """The token's subject."""
        return self.username

    def get_all_permissions(self, obj: Any = None) -> set[str]:
        """The permissions the token's scopes map to (none for an object)."""
        if obj is not None:
            return set()
        if self._permissions is None:
            self._permissions = permissions_for(self.token.scopes)
        return set(self._permissions)

    def get_user_permissions(self, obj: Any = None) -> set[str]:
        """Same as :meth:`get_all_permissions`."""
        return self.get_all_permissions(obj)

    def get_group_permissions(self, obj: Any = None) -> set[str]:
        """Always empty."""
        return set()

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        """True when a scope of the token maps to ``perm`` (never for an object)."""
        return perm in self.get_all_permissions(obj)

    def has_perms(self, perm_list: Iterable[str], obj: Any = None) -> bool:
        """True when the token's scopes grant every permission in ``perm_list``."""
        return all(self.has_perm(perm, obj) for perm in _perm_list(perm_list))

    def has_module_perms(self, app_label: str) -> bool:
        """True when the token's scopes grant some permission in ``app_label``."""
        return _in_module(self.get_all_permissions(), app_label)

    def __str__(self) -> str:
        return self.username

    def __repr__(self) -> str:
        return f"<TokenUser {self.username!r} of {self.token.issuer!r}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TokenUser):
            return NotImplemented
        return (self.username, self.token.issuer) == (other.username, other.token.issuer)

    def __hash__(self) -> int:
        return hash((self.username, self.token.issuer))


def _nothing(*args: Any) -> bool:
    return False


def _none(obj: Any = None) -> tuple[str, ...]:
    return ()


def _narrow(user: Any, token: VerifiedToken) -> Any:
    """Shadow ``user``'s permission methods on this instance with token-narrowed ones.

    The instance stays a real user object (foreign keys, ``isinstance`` and ``save`` work), and
    superusers are narrowed too, which an authentication backend could not do.
    """
    granted = permissions_for(token.scopes)
    # A user model without PermissionsMixin has no permissions of its own.
    has_perm: Callable[..., bool] = getattr(user, "has_perm", _nothing)
    has_module_perms: Callable[[str], bool] = getattr(user, "has_module_perms", _nothing)

    def narrowed(name: str) -> Callable[..., set[str]]:
        method: Callable[[Any], Iterable[str]] = getattr(user, name, _none)
        return lambda obj=None: set(method(obj)) & granted

    def narrowed_has_perm(perm: str, obj: Any = None) -> bool:
        return perm in granted and has_perm(perm, obj)

    def narrowed_has_perms(perm_list: Iterable[str], obj: Any = None) -> bool:
        return all(narrowed_has_perm(perm, obj) for perm in _perm_list(perm_list))

    def narrowed_has_module_perms(app_label: str) -> bool:
        return _in_module(granted, app_label) and has_module_perms(app_label)

    for name in ("get_all_permissions", "get_user_permissions", "get_group_permissions"):
        setattr(user, name, narrowed(name))
    user.has_perm = narrowed_has_perm
    user.has_perms = narrowed_has_perms
    user.has_module_perms = narrowed_has_module_perms
    user.bearer_token = token
    return user


def _normalised(model: Any, field: str, value: str) -> str:
    # The user model's own rule for its username field (NFKC in AbstractBaseUser), NFKC otherwise.
    if field == getattr(model, "USERNAME_FIELD", None) and hasattr(model, "normalize_username"):
        return str(model.normalize_username(value))
    return unicodedata.normalize("NFKC", value)


def _lookup_value(token: VerifiedToken, lookup: UserLookup) -> str:
    """The token's ``lookup.claim``, checked to be a usable value of the user model's field."""
    value = claim_at(token.claims, lookup.claim)
    if not isinstance(value, str) or not value or not value.isprintable():
        raise UserRejected(f"claim {lookup.claim!r} does not hold a usable user name")
    model = get_user_model()
    try:
        field = model._meta.get_field(lookup.field)
    except FieldDoesNotExist:
        raise UserRejected(f"USER_LOOKUP field {lookup.field!r} is not a field of {model.__name__}") from None
    max_length = getattr(field, "max_length", None)
    if max_length is not None and len(value) > max_length:
        raise UserRejected(f"claim {lookup.claim!r} is longer than {model.__name__}.{lookup.field}")
    # Look-alikes (full-width letters, decomposed accents) are refused, never mapped to the
    # account they imitate nor created beside it.
    if _normalised(model, lookup.field, value) != value:
        raise UserRejected(f"claim {lookup.claim!r} = {value!r} is not in the user model's normal form")
    validators = getattr(field, "run_validators", None)
    if lookup.create and validators is not None:
        try:
            validators(value)
        except ValidationError as exc:
            raise UserRejected(f"claim {lookup.claim!r} = {value!r} fails the field's validators: {exc}") from None
    return value


def resolve_user(token: VerifiedToken) -> Any:
    """The user ``token`` speaks for, per ``USER_LOOKUP``.

    Without ``USER_LOOKUP``, or for a token whose issuer is not in ``USER_LOOKUP["issuers"]``
    (default: the issuers of the settings), a :class:`TokenUser` (no database query). Otherwise
    the Django user whose ``field`` equals the token's ``claim``, created with an unusable
    password when ``create`` is true (after the field's validators), its permissions narrowed
    by the token's scopes. A claim that the user model's normalisation (NFKC) would change is
    refused, so look-alikes of existing users never map to them nor become accounts. Raises
    :class:`~django_bearer_guard.exceptions.UserRejected` when the claim is unusable or the
    user is missing, ambiguous or inactive.
    """
    settings = get_settings()
    lookup = settings.user_lookup
    if lookup is None:
        return TokenUser(token)
    issuers = lookup.issuers if lookup.issuers is not None else {i.issuer for i in settings.issuers}
    if token.issuer not in issuers:
        # An issuer speaks only for itself: a partner's sub "admin" is not the local admin.
        return TokenUser(token)
    value = _lookup_value(token, lookup)
    model = get_user_model()
    manager = model._default_manager
    try:
        if lookup.create:
            unusable = {"password": make_password(None)}
            user, _ = manager.get_or_create(**{lookup.field: value}, defaults=unusable)
        else:
            user = manager.get(**{lookup.field: value})
    except model.DoesNotExist:
        raise UserRejected(f"no user with {lookup.field}={value!r}") from None
    except model.MultipleObjectsReturned:
        raise UserRejected(f"several users with {lookup.field}={value!r}") from None
    if not user.is_active:
        raise UserRejected(f"user {value!r} is inactive")
    return _narrow(user, token)
