from __future__ import annotations

import inspect

import pytest

from django_bearer_guard import exceptions
from django_bearer_guard.files import paths, ranges

DEFINED = [
    value
    for value in vars(exceptions).values()
    if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == exceptions.__name__
]


def test_exceptions_module_defines_the_whole_tree() -> None:
    # The filter above must see the tree, or the next test proves nothing.
    assert {exceptions.GuardError, exceptions.BearerGuardError, exceptions.KeySetError, exceptions.FileMissing} <= set(
        DEFINED
    )
    assert sorted(cls.__name__ for cls in DEFINED) == sorted(exceptions.__all__)


@pytest.mark.parametrize("cls", DEFINED, ids=lambda cls: cls.__name__)
def test_every_exception_derives_from_the_common_root(cls: type[Exception]) -> None:
    assert issubclass(cls, exceptions.GuardError)


@pytest.mark.parametrize("cls", DEFINED, ids=lambda cls: cls.__name__)
def test_every_exception_keeps_its_reason_and_a_one_line_docstring(cls: type[exceptions.GuardError]) -> None:
    # A use_dpop_nonce refusal always names the nonce to use.
    error = cls("the detailed cause", nonce="n") if cls is exceptions.UseDPoPNonce else cls("the detailed cause")
    assert error.reason == "the detailed cause"
    assert str(error) == "the detailed cause"
    assert cls.__doc__ and cls.__doc__.strip()


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (paths, "PathRefused"),
        (paths, "RootUnavailable"),
        (paths, "FileMissing"),
        (ranges, "RangeNotSatisfiable"),
    ],
)
def test_moved_errors_are_the_same_class_from_their_old_module(module: object, name: str) -> None:
    assert getattr(module, name) is getattr(exceptions, name)
    assert getattr(exceptions, name).__module__ == exceptions.__name__


def test_file_errors_keep_their_place_in_the_tree() -> None:
    assert issubclass(exceptions.PathRefused, exceptions.InvalidRequest)
    assert issubclass(exceptions.RootUnavailable, exceptions.InsufficientScope)
    assert not issubclass(exceptions.FileMissing, exceptions.BearerGuardError)
    assert not issubclass(exceptions.RangeNotSatisfiable, exceptions.BearerGuardError)
    assert not issubclass(exceptions.KeySetError, exceptions.BearerGuardError)


def test_request_errors_keep_their_rfc6750_attributes() -> None:
    error = exceptions.ExpiredToken()
    assert (error.error, error.status_code) == ("invalid_token", 401)
    assert error.reason == error.description == "The access token has expired."
    detailed = exceptions.PathRefused("segment '..' is not allowed", description="Not here.")
    assert (detailed.error, detailed.status_code) == ("invalid_request", 400)
    assert (detailed.reason, detailed.description) == ("segment '..' is not allowed", "Not here.")
    scope = exceptions.RootUnavailable("no folder", scopes=["files:read"])
    assert (scope.error, scope.status_code, scope.scopes) == ("insufficient_scope", 403, ("files:read",))
