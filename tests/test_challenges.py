"""``WWW-Authenticate`` challenges: RFC 6750 §3 attributes, quoted so nothing can be injected."""

from __future__ import annotations

from typing import Any

import pytest

from django_bearer_guard.challenges import bearer_challenge, challenge, quote


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("api",), 'Bearer realm="api"'),
        (("api", "invalid_token"), 'Bearer realm="api", error="invalid_token"'),
        (("api", "invalid_token", "Expired."),
         'Bearer realm="api", error="invalid_token", error_description="Expired."'),
        (("api", None, "Ignored."), 'Bearer realm="api"'),
        (("api", "insufficient_scope", None, "a:read b"),
         'Bearer realm="api", error="insufficient_scope", scope="a:read b"'),
    ],
    ids=["realm-only", "error-without-description", "error-and-description", "description-without-error", "scope"],
)
def test_bearer_challenge_carries_only_the_attributes_given(args: tuple[Any, ...], expected: str) -> None:
    assert bearer_challenge(*args) == expected


def test_challenge_appends_extra_parameters_after_the_standard_ones() -> None:
    assert challenge("DPoP", "api", "invalid_token", algs="ES256 EdDSA") == (
        'DPoP realm="api", error="invalid_token", algs="ES256 EdDSA"'
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [('say "hi"', r'"say \"hi\""'), ("back\\slash", r'"back\\slash"'), ("a\r\nSet-Cookie: x", '"a??Set-Cookie: x"'),
     ("caf\u00e9", '"caf?"')],
)
def test_quote_escapes_quotes_and_replaces_controls_and_non_ascii(value: str, expected: str) -> None:
    assert quote(value) == expected
