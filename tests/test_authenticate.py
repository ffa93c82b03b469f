"""The request flow every face shares (``_authenticate``) and its DRF adapters."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIRequestFactory

from django_bearer_guard._authenticate import Rejected, Requirements
from django_bearer_guard._drf import AccessDenied, BearerGuardAPIException, check_issuer_allowed
from django_bearer_guard._refusals import AccessRefused
from django_bearer_guard.authentication import BearerTokenAuthentication
from django_bearer_guard.exceptions import ExpiredToken
from django_bearer_guard.signals import token_rejected
from tests.support.tokens import make_token


class _View:
    allowed_issuers = ["https://other.example/"]

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}


def test_reject_logs_signals_and_returns_the_drf_exception() -> None:
    request = APIRequestFactory().get("/orders/")
    senders: list[Any] = []

    def record(sender: Any, **kwargs: Any) -> None:
        senders.append(sender)

    token_rejected.connect(record)
    try:
        exception = BearerTokenAuthentication().reject(request, ExpiredToken("exp 1 is past"), view=_View())
    finally:
        token_rejected.disconnect(record)
    assert isinstance(exception, BearerGuardAPIException)
    assert exception.status_code == 401 and exception.auth_header is not None
    assert senders == [BearerTokenAuthentication]


def test_drf_issuer_check_refuses_with_access_denied() -> None:
    with pytest.raises(AccessDenied):
        check_issuer_allowed(_View(), make_token())


def test_rejected_answer_adds_the_nonce_to_a_refusal_without_a_challenge() -> None:
    reply = Rejected(AccessRefused("no"), nonce="n-1").answer()
    assert (reply.status, reply.body, reply.headers) == (
        403, {"error": "access_denied", "error_description": "no"}, {"DPoP-Nonce": "n-1"},
    )


def test_requirements_without_scopes_check_none() -> None:
    assert not Requirements(name="view").checks_scopes
    assert Requirements([], name="view").checks_scopes
    assert Requirements(scopes_by_method={"get": ["a"]}, name="view").checks_scopes
