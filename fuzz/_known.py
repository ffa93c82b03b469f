"""Inputs of crashes that campaigns found and the library does not handle yet.

A harness skips such an input, so a campaign can go on exploring instead of stopping at the same
crash again. Each predicate names the ``xfail`` test in ``tests/test_fuzz_regressions.py`` that
reproduces the crash; once the library is fixed, that test fails (strict), and the predicate and
its uses are removed with the ``xfail`` mark.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

__all__ = ["proof_key_has_unhashable_curve", "unhashable_curve"]


def unhashable_curve(document: object) -> bool:
    """A JWK, or a JWK Set, with a key whose ``crv`` is a list or an object.

    ``test_keyset_refuses_a_key_whose_crv_is_not_a_string``: ``KeySet.from_jwks`` raises
    ``TypeError`` looking such a curve up in a set.
    """
    if not isinstance(document, Mapping):
        return False
    keys = document.get("keys") if "keys" in document else [document]
    return isinstance(keys, list) and any(
        isinstance(key, Mapping) and isinstance(key.get("crv"), (list, dict)) for key in keys
    )


def proof_key_has_unhashable_curve(proof: str) -> bool:
    """A DPoP proof whose header's ``jwk`` has a ``crv`` that is a list or an object.

    ``test_dpop_proof_with_a_key_whose_crv_is_not_a_string_is_refused``: the proof's key goes
    through ``KeySet.from_jwks``.
    """
    header = proof.split(".", 1)[0]
    try:
        value = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(value, dict) and unhashable_curve(value.get("jwk"))
