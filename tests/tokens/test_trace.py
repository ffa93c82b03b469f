from __future__ import annotations

from collections.abc import Callable

import pytest

from django_bearer_guard.exceptions import ExpiredToken
from django_bearer_guard.testing import Clock, LocalIssuer
from django_bearer_guard.tokens.trace import STEPS, Trace, in_words
from django_bearer_guard.tokens.validator import TokenValidator


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (-1.9, "1 second"),
        (119, "119 seconds"),
        (120, "2 minutes"),
        (7199, "119 minutes"),
        (7200, "2 hours"),
        (172_799, "47 hours"),
        (172_800, "2 days"),
        (10**12, "11574074 days"),
    ],
)
def test_in_words_rounds_down_to_the_largest_unit_held_twice(seconds: float, words: str) -> None:
    assert in_words(seconds) == words


def test_describe_time_survives_a_date_beyond_the_calendar() -> None:
    trace = Trace(now=0)
    assert trace.describe_time("exp", 1e20) == (
        "valid for 1157407407407407 more days (exp 100000000000000000000, leeway 0 seconds)"
    )


def test_trace_records_every_step_of_an_accepted_token_in_order(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    trace = Trace()
    TokenValidator().validate(idp.mint(), trace=trace)
    assert tuple(name for name, _ in trace.steps) == STEPS
    assert trace.stopped_at is None
    assert (trace.now, trace.leeway) == (clock.now, 30)
    assert trace.issuer is not None and trace.issuer.issuer == idp.issuer


def test_trace_stops_at_the_check_that_refused(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    trace = Trace()
    with pytest.raises(ExpiredToken):
        TokenValidator().validate(idp.mint(exp=1), trace=trace)
    assert trace.stopped_at == "exp"
    assert trace.steps[-1][0] == "typ"


def test_describe_time_names_no_date_for_a_time_beyond_any_date() -> None:
    trace = Trace(now=0)
    assert "(exp beyond any date, leeway 0 seconds)" in trace.describe_time("exp", 1e301)
