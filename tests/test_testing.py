"""django_bearer_guard.testing as adopters use it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from django_bearer_guard.exceptions import ExpiredToken
from django_bearer_guard.testing import LocalIssuer, use_clock
from django_bearer_guard.tokens.validator import TokenValidator


def test_use_clock_replaces_the_library_clock(idp: LocalIssuer, guard: Any) -> None:
    token = idp.mint(lifetime=60)
    validator = TokenValidator()
    assert validator.validate(token).issuer == idp.issuer
    with use_clock(lambda: time.time() + 3600), pytest.raises(ExpiredToken):
        validator.validate(token)
    assert validator.validate(token).issuer == idp.issuer
