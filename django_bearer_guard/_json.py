from __future__ import annotations

import json
from typing import Any


class JSONError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # RFC 7515 §5.2 / RFC 8725 §3.12: parsers disagree on duplicate members; refuse them.
        raise JSONError("duplicate member name")
    return result


def _no_constant(name: str) -> Any:
    raise JSONError(f"non-standard constant {name}")


_decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def loads_object(data: bytes | str) -> dict[str, Any]:
    """Parse strict JSON (UTF-8, no duplicate names, no NaN) whose top level is an object."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = _decoder.decode(text)
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise JSONError(str(exc)) from None
    if not isinstance(value, dict):
        raise JSONError("not a JSON object")
    if "\\u" in text:
        # RFC 7493 §2.1: an escaped lone surrogate is not a character; such strings would
        # break every consumer that encodes them again (logs, templates, JSON renderers).
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise JSONError("a string holds an unpaired surrogate") from None
        except RecursionError:
            # The writer runs a frame deeper than the decoder did: a nesting at the decoder's limit.
            raise JSONError("nested too deeply") from None
    return value
