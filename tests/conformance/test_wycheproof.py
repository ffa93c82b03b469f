"""Google Wycheproof JWS/JWK vectors (../shared/testdata/wycheproof, see its README for provenance)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from django_bearer_guard.jose.algorithms import ALGORITHMS
from django_bearer_guard.testing import wycheproof_verify


def _shared_dir() -> Path:
    configured = os.environ.get("BEARER_GUARD_SHARED")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared"


VECTORS = _shared_dir() / "testdata" / "wycheproof"
FILES = ("json_web_signature_test.json", "json_web_key_test.json", "json_web_crypto_test.json")
# Vector counts pinned so a changed vector set fails loudly instead of passing quietly.
EXPECTED_JWS_VECTORS = {"json_web_signature_test.json": 401, "json_web_key_test.json": 26,
                        "json_web_crypto_test.json": 49}
# Labels the README documents as wrong or as allowing either outcome; the reason is noted.
EITHER = {
    ("json_web_signature_test.json", 367): "byte-identical to the valid tcId 357 (data bug)",
    ("json_web_signature_test.json", 370): "byte-identical to the valid tcId 357 (data bug)",
}
REJECTED_DESPITE_LABEL = {
    ("json_web_signature_test.json", 372): "'?' inside a segment: strict base64url refuses it",
    ("json_web_signature_test.json", 373): "'?' inside a segment: strict base64url refuses it",
    ("json_web_signature_test.json", 346): "JWK alg PS256 but the JWS uses PS384: the JWK alg is enforced",
    ("json_web_signature_test.json", 350): "JWK alg PS256 but the JWS uses PS384: the JWK alg is enforced",
    ("json_web_signature_test.json", 347): "JWK alg 'ES521' is not registered",
    ("json_web_signature_test.json", 351): "JWK alg 'ES521' is not registered",
}


def _vectors() -> list[Any]:
    if not VECTORS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"Wycheproof vectors not found at {VECTORS}"))]
    params = []
    for name in FILES:
        data = json.loads((VECTORS / name).read_text())
        for group in data["testGroups"]:
            key = group.get("public") or group.get("private")
            for test in group["tests"]:
                if "jws" not in test:
                    continue  # JWE vectors
                params.append(pytest.param((name, group["comment"], key, test), id=f"{name[9:-10]}-{test['tcId']}"))
    return params


@pytest.mark.parametrize("vector", _vectors())
def test_wycheproof_vector(vector: tuple[str, str, Any, dict[str, Any]]) -> None:
    name, group, key, test = vector
    accepted = wycheproof_verify(test["jws"], key, list(ALGORITHMS))
    tc = (name, test["tcId"])
    if tc in EITHER:
        return
    expected = test["result"] == "valid" and tc not in REJECTED_DESPITE_LABEL
    assert accepted == expected, f"{group} #{test['tcId']} {test['comment']} {test['flags']}"


def test_wycheproof_vector_counts_are_pinned() -> None:
    if not VECTORS.is_dir():
        pytest.skip(f"Wycheproof vectors not found at {VECTORS}")
    for name, expected in EXPECTED_JWS_VECTORS.items():
        data = json.loads((VECTORS / name).read_text())
        count = sum(1 for g in data["testGroups"] for t in g["tests"] if "jws" in t)
        assert count == expected, f"{name} changed: {count} JWS vectors"
