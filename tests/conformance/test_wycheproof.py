"""Google Wycheproof JWS/JWK vectors (../shared/testdata/wycheproof, see its README for provenance)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from django_bearer_guard.jose.algorithms import ALGORITHMS
from tests.conformance.wycheproof import (
    FILES,
    load_vectors,
    missing_files,
    shared_dir,
    vectors_required,
    wycheproof_verify,
)

VECTORS = shared_dir() / "testdata" / "wycheproof"
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
    # Collection never fails: without the files the pinned-count test below skips or fails.
    if missing_files(VECTORS):
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"Wycheproof vectors not found at {VECTORS}"))]
    params = []
    for name, data in load_vectors(VECTORS).items():
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
    for name, data in load_vectors(VECTORS).items():
        count = sum(1 for g in data["testGroups"] for t in g["tests"] if "jws" in t)
        assert count == EXPECTED_JWS_VECTORS[name], f"{name} changed: {count} JWS vectors"


@pytest.fixture
def developer_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment outside CI that names no shared folder."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BEARER_GUARD_SHARED", raising=False)
    return monkeypatch


@pytest.mark.parametrize(("variable", "value"), [("CI", "true"), ("CI", "1"), ("BEARER_GUARD_SHARED", "/srv/shared")])
def test_load_vectors_fails_when_required_and_missing(
    developer_env: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    developer_env.setenv(variable, value)
    with pytest.raises(pytest.fail.Exception, match=f"not found at {re.escape(str(tmp_path))}"):
        load_vectors(tmp_path)


def test_load_vectors_fails_when_required_and_one_file_is_missing(
    developer_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    developer_env.setenv("CI", "true")
    for name in FILES[:-1]:
        (tmp_path / name).write_text('{"testGroups": []}')
    with pytest.raises(pytest.fail.Exception, match=re.escape(FILES[-1])):
        load_vectors(tmp_path)


def test_load_vectors_skips_with_the_reason_for_a_developer(developer_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match=f"not found at {re.escape(str(tmp_path))}"):
        load_vectors(tmp_path / "absent")


@pytest.mark.parametrize("value", ["", "0", "false", "False"])
def test_vectors_are_not_required_when_ci_is_switched_off(developer_env: pytest.MonkeyPatch, value: str) -> None:
    developer_env.setenv("CI", value)
    assert vectors_required() is False


def test_load_vectors_parses_every_file(developer_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    developer_env.setenv("CI", "true")
    for index, name in enumerate(FILES):
        (tmp_path / name).write_text(json.dumps({"testGroups": [], "index": index}))
    assert {name: data["index"] for name, data in load_vectors(tmp_path).items()} == {
        name: index for index, name in enumerate(FILES)
    }
