from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import override_settings

from django_bearer_guard.exceptions import UserRejected
from django_bearer_guard.identity.principal import TokenUser, permissions_for, resolve_user
from django_bearer_guard.tokens.verified import VerifiedToken

SCOPE_PERMISSIONS = {
    "docs:read": ["testapp.view_document"],
    "docs:write": ["testapp.add_document", "testapp.change_document"],
    "users:read": ["auth.view_user"],
}


def token(
    scopes: tuple[str, ...] = (), issuer: str = "https://idp.example.test/", **claims: Any
) -> VerifiedToken:
    claims.setdefault("sub", "alice")
    return VerifiedToken(
        claims=claims,
        header={"alg": "RS256"},
        issuer=issuer,
        scopes=frozenset(scopes),
        workload=None,
        token_id=None,
        expires_at=0.0,
    )


@pytest.fixture
def scope_permissions() -> Iterator[None]:
    with override_settings(BEARER_GUARD={"SCOPE_PERMISSIONS": SCOPE_PERMISSIONS}):
        yield


def lookup(**value: Any) -> override_settings:
    return override_settings(
        BEARER_GUARD={
            "SCOPE_PERMISSIONS": SCOPE_PERMISSIONS,
            "USER_LOOKUP": {"claim": "sub", "field": "username", "issuers": ["https://idp.example.test/"], **value},
        }
    )


def test_token_user_is_authenticated_and_stateless() -> None:
    user = TokenUser(token())
    assert user.is_authenticated
    assert user.is_active
    assert not (user.is_anonymous)
    assert not (user.is_staff)
    assert not (user.is_superuser)
    assert user.pk == user.id and user.pk.startswith("token:")  # one per caller: tests/test_throttling.py
    assert user.username == user.get_username() == str(user) == "alice"
    assert "alice" in repr(user)
    assert list(user.groups.all()) == []
    assert list(user.user_permissions.all()) == []


def test_token_user_without_subject_has_empty_username() -> None:
    assert TokenUser(token(sub=42)).username == ""


def test_token_user_permissions_come_from_scopes(scope_permissions: None) -> None:
    user = TokenUser(token(("docs:write", "unmapped")))
    assert user.get_all_permissions() == {"testapp.add_document", "testapp.change_document"}
    assert user.get_user_permissions() == user.get_all_permissions()
    assert user.get_group_permissions() == set()
    assert user.has_perm("testapp.add_document")
    assert not user.has_perm("testapp.delete_document")
    assert user.has_perms(["testapp.add_document", "testapp.change_document"])
    assert not user.has_perms(["testapp.add_document", "testapp.view_document"])
    assert user.has_module_perms("testapp")
    assert not user.has_module_perms("auth")


def test_token_user_never_has_object_permissions(scope_permissions: None) -> None:
    user = TokenUser(token(("docs:write",)))
    assert not user.has_perm("testapp.add_document", obj=object())
    assert user.get_all_permissions(obj=object()) == set()


def test_token_user_without_mapping_has_no_permissions() -> None:
    assert not TokenUser(token(("docs:write",))).has_perm("testapp.add_document")
    assert permissions_for(["docs:write"]) == frozenset()


def test_token_user_has_perms_refuses_bare_string(scope_permissions: None) -> None:
    with pytest.raises(ValueError, match="iterable"):
        TokenUser(token(("docs:write",))).has_perms("testapp.add_document")


def test_token_users_are_equal_by_subject_and_issuer() -> None:
    alice = TokenUser(token(("a",)))
    assert alice == TokenUser(token(("b",)))
    assert hash(alice) == hash(TokenUser(token()))
    assert alice != TokenUser(token(issuer="https://other.example.test/"))
    assert alice != TokenUser(token(sub="bob"))
    assert alice != "alice"


def test_resolve_user_without_lookup_returns_token_user() -> None:
    # No django_db mark: a database query here would raise.
    assert isinstance(resolve_user(token()), TokenUser)


def grant(user: User, *codenames: str) -> User:
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    refreshed: User = User.objects.get(pk=user.pk)
    return refreshed


@pytest.mark.django_db
def test_resolve_user_finds_user_by_claim() -> None:
    alice = User.objects.create_user("alice")
    with lookup():
        user = resolve_user(token())
    assert user == alice
    assert user.bearer_token.claims["sub"] == "alice"
    assert isinstance(user, User)


@pytest.mark.django_db
def test_resolve_user_narrows_user_permissions_to_token_scopes() -> None:
    grant(User.objects.create_user("alice"), "view_document", "add_document", "view_user")
    with lookup():
        user = resolve_user(token(("docs:write",)))
        # The user may add (has it, and a scope maps to it).
        assert user.has_perm("testapp.add_document")
        # The user may view, but no scope maps to it: narrowed away.
        assert not user.has_perm("testapp.view_document")
        # A scope maps to change, but the user lacks it: never widened.
        assert not user.has_perm("testapp.change_document")
        assert user.has_perms(["testapp.add_document"])
        assert not user.has_perms(["testapp.add_document", "testapp.change_document"])
        assert user.get_all_permissions() == {"testapp.add_document"}
        assert user.get_user_permissions() == {"testapp.add_document"}
        assert user.get_group_permissions() == set()
        assert user.has_module_perms("testapp")
        assert not user.has_module_perms("auth")
        with pytest.raises(ValueError, match="iterable"):
            user.has_perms("testapp.add_document")


@pytest.mark.django_db
def test_resolve_user_narrows_superuser() -> None:
    User.objects.create_superuser("alice", password="unused-in-this-test")
    with lookup():
        user = resolve_user(token(("docs:read",)))
        assert user.has_perm("testapp.view_document")
        assert not user.has_perm("testapp.delete_document")
        assert not user.has_module_perms("auth")


@pytest.mark.django_db
def test_resolve_user_rejects_missing_user() -> None:
    with lookup(), pytest.raises(UserRejected):
        resolve_user(token())


@pytest.mark.django_db
def test_resolve_user_rejects_inactive_user() -> None:
    User.objects.create_user("alice", is_active=False)
    with lookup(), pytest.raises(UserRejected, match="inactive"):
        resolve_user(token())


@pytest.mark.django_db
def test_resolve_user_creates_user_with_unusable_password() -> None:
    with lookup(create=True):
        user = resolve_user(token())
        again = resolve_user(token())
    assert user.pk == again.pk
    assert not User.objects.get(username="alice").has_usable_password()


@pytest.mark.django_db
def test_resolve_user_rejects_ambiguous_field() -> None:
    User.objects.create_user("alice", first_name="Al")
    User.objects.create_user("alfred", first_name="Al")
    with lookup(claim="given_name", field="first_name"), pytest.raises(UserRejected, match="several"):
        resolve_user(token(given_name="Al"))


@pytest.mark.parametrize("sub", [None, "", 42, "ali\x00ce", "a" * 151])
@pytest.mark.django_db
def test_resolve_user_rejects_unusable_claim(sub: Any) -> None:
    with lookup(create=True), pytest.raises(UserRejected):
        resolve_user(token(sub=sub))
    assert not User.objects.exists()


@pytest.mark.django_db
def test_resolve_user_rejects_unknown_field() -> None:
    with lookup(field="nickname"), pytest.raises(UserRejected, match="nickname"):
        resolve_user(token())


@pytest.mark.django_db
def test_resolve_user_grants_nothing_to_user_model_without_permissions(scope_permissions: None) -> None:
    from django_bearer_guard.identity.principal import _narrow

    user = _narrow(SimpleNamespace(is_active=True), token(("docs:write",)))
    assert not user.has_perm("testapp.add_document")
    assert not user.has_module_perms("testapp")
    assert user.get_all_permissions() == set()
