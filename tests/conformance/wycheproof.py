"""Loading Google's Wycheproof JWS/JWK vectors and running one through the library.

The vectors live outside the package, in ``testdata/wycheproof`` of the project's shared folder
(``BEARER_GUARD_SHARED``, else ``../shared`` beside the checkout). A developer without that
folder gets a skip; CI (``CI`` set) and a run that names the folder explicitly get a failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from django_bearer_guard.exceptions import InvalidToken, KeySetError
from django_bearer_guard.jose.compact import verify_compact
from django_bearer_guard.jose.keyset import KeySet

FILES = ("json_web_signature_test.json", "json_web_key_test.json", "json_web_crypto_test.json")


def shared_dir() -> Path:
    configured = os.environ.get("BEARER_GUARD_SHARED")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared"


def vectors_required() -> bool:
    """True under CI or with ``BEARER_GUARD_SHARED`` set: missing vectors are then a failure."""
    in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return in_ci or bool(os.environ.get("BEARER_GUARD_SHARED"))


def missing_files(directory: Path) -> list[str]:
    return [name for name in FILES if not (directory / name).is_file()]


def load_vectors(directory: Path) -> dict[str, Any]:
    """Every vector file in ``directory``, parsed; fails or skips the test when one is missing."""
    missing = missing_files(directory)
    if missing:
        reason = f"Wycheproof vectors not found at {directory} (missing {', '.join(missing)})"
        if vectors_required():
            pytest.fail(f"{reason}; CI and BEARER_GUARD_SHARED need them")
        pytest.skip(reason)
    return {name: json.loads((directory / name).read_text()) for name in FILES}


def wycheproof_verify(jws: Any, jwk_set: dict[str, Any], allowed_algs: list[str]) -> bool:
    """True when ``jws`` verifies against ``jwk_set`` with ``allowed_algs``; any refusal is False.

    Only the public rules: :meth:`KeySet.from_jwks` for the key set, ``verify_compact`` for the token.
    """
    if not isinstance(jws, str):
        return False  # only the compact serialization is accepted
    try:
        verify_compact(jws, KeySet.from_jwks(jwk_set), allowed_algs)
    except (InvalidToken, KeySetError):
        return False
    return True
