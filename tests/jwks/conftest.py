from __future__ import annotations

from collections.abc import Callable

import pytest

from django_bearer_guard.conf import get_settings
from django_bearer_guard.issuers.config import IssuerConfig


@pytest.fixture
def configured() -> Callable[..., IssuerConfig]:
    """The issuer currently configured in BEARER_GUARD (the first, or the one at ``index``)."""

    def get(index: int = 0) -> IssuerConfig:
        return get_settings().issuers[index]

    return get
