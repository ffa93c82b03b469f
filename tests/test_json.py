from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_bearer_guard._json import JSONError, loads_object


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        '{"a": {"b": 1, "b": 1}}',
        '{"a": NaN}',
        '{"a": Infinity}',
        '{"a": -Infinity}',
        "[1]",
        '"x"',
        "",
        '{"a": 1',
        '{"a": "\\ud800"}',
        '{"a": "x\\udfffy"}',
        '{"\\ud800": 1}',
        "[" * 100000 + "]" * 100000,
        '{"a": 1' + "0" * 5000 + "}",
    ],
)
def test_loads_object_refuses_non_strict_json(text: str) -> None:
    with pytest.raises(JSONError):
        loads_object(text)


def test_loads_object_refuses_invalid_utf8() -> None:
    with pytest.raises(JSONError):
        loads_object(b'{"a": "\xff"}')


def test_loads_object_accepts_escaped_surrogate_pairs_and_plain_unicode() -> None:
    assert loads_object('{"a": "\\ud83d\\ude00", "b": "\u00e9\\u00e9"}') == {"a": "\U0001f600", "b": "\u00e9\u00e9"}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_loads_object_raises_only_json_error(data: bytes) -> None:
    try:
        value = loads_object(data)
    except JSONError:
        return
    assert isinstance(value, dict)
