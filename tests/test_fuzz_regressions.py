"""The fuzz harnesses in ``fuzz/``: their seed corpora replay cleanly; and what fuzzing found.

The harnesses import without atheris; the replay needs only their ``test_one_input``. It runs
where atheris can be installed (the campaigns' environment), next to the source tree. Each
finding has a test named after the contract it broke.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import logging
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from django_bearer_guard._json import JSONError, loads_object
from django_bearer_guard.conf import GuardSettings
from django_bearer_guard.exceptions import InvalidDPoPProof, KeySetError
from django_bearer_guard.files.paths import MAX_PATH_BYTES, PathRefused, contain
from django_bearer_guard.identity.dpop import verify_proof
from django_bearer_guard.jose.keyset import KeySet
from django_bearer_guard.tokens.workloads import spiffe_trust_domain

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
HARNESSES = ("header", "compact", "keyset", "scopes", "paths", "xfcc", "spiffe", "dpop")
REPLAYS = 300

# The wheel environment runs the tests away from the source tree, without fuzz/.
needs_harnesses = pytest.mark.skipif(not FUZZ.is_dir(), reason="the fuzz harnesses are not next to the tests")


def _harness(name: str) -> Callable[[bytes], None]:
    module = importlib.import_module(f"fuzz.fuzz_{name}")
    target: Callable[[bytes], None] = module.test_one_input
    return target


def _mutate(data: bytes, rng: random.Random) -> bytes:
    # A few of libFuzzer's mutations, so the replay reaches past the seeds' exact bytes.
    if not data:
        return bytes([rng.randrange(256)])
    where = rng.randrange(len(data))
    kind = rng.randrange(4)
    if kind == 0:
        return data[:where]
    if kind == 1:
        return data[:where] + bytes([data[where] ^ (1 << rng.randrange(8))]) + data[where + 1 :]
    if kind == 2:
        return data[:where] + data[where : where + rng.randrange(1, 16)] + data[where:]
    return data[:where] + data[where + 1 :]


def _inputs(name: str) -> list[bytes]:
    seeds = [path.read_bytes() for path in sorted((FUZZ / "corpus" / name).iterdir())]
    rng = random.Random(name)  # the same inputs on every run
    mutated = [_mutate(rng.choice(seeds), rng) for _ in range(REPLAYS - len(seeds))]
    return seeds + mutated


@needs_harnesses
@pytest.mark.parametrize("name", HARNESSES)
def test_harness_replays_seeds_and_mutations_without_a_crash(name: str) -> None:
    pytest.importorskip("atheris", reason="the fuzz harnesses are kept working where atheris is installed")
    target = _harness(name)
    inputs = _inputs(name)
    assert len(inputs) == REPLAYS and len(set(inputs)) > REPLAYS // 2
    for data in inputs:
        target(data)


@needs_harnesses
def test_every_harness_has_a_seed_corpus_a_dictionary_and_a_test() -> None:
    found = sorted(path.stem.removeprefix("fuzz_") for path in FUZZ.glob("fuzz_*.py"))
    assert found == sorted(HARNESSES)
    for name in HARNESSES:
        assert 3 <= len(list((FUZZ / "corpus" / name).iterdir())) <= 50
        assert (FUZZ / "dicts" / f"{name}.dict").is_file()


# Found by the keyset campaign (its input is the seed fuzz/corpus/keyset/crv-list).


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.mark.parametrize(
    "jwks",
    [
        # Minimised from the campaign's input {"keys":[{"kty":"R",…},{"kty":"EC","crv":["verify"],…}]}.
        {"keys": [{"kty": "EC", "crv": ["verify"]}]},
        {"kty": "OKP", "crv": {}},
    ],
)
def test_keyset_refuses_a_key_whose_crv_is_not_a_string(jwks: dict[str, object]) -> None:
    with pytest.raises(KeySetError):
        KeySet.from_jwks(jwks)


def test_dpop_proof_with_a_key_whose_crv_is_not_a_string_is_refused() -> None:
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": [], "x": "AA", "y": "AA"}}
    proof = f"{_b64(json.dumps(header).encode())}.{_b64(b'{}')}.{_b64(bytes(64))}"
    with pytest.raises(InvalidDPoPProof):
        verify_proof(proof, access_token="a.b.c", method="GET", url="https://api.example.test/",
                     jkt="x" * 43, algorithms=("ES256",), settings=GuardSettings(), now=1_800_000_000.0)


# Found while writing the harnesses (see docs/fuzzing.rst).


def _nested(depth: int, *, escaped: bool) -> bytes:
    # An object holding `depth` nested arrays around one string, written with an escape or not.
    inner = b'"\\u00e9"' if escaped else b'"e"'
    return b'{"a":' + b"[" * depth + inner + b"]" * depth + b"}"


def _deepest_parsed() -> int:
    # The deepest nesting the decoder itself reads at this stack depth (it refuses deeper ones).
    depth = 0
    while True:
        try:
            loads_object(_nested(depth + 1, escaped=False))
        except JSONError:
            return depth
        depth += 1


def test_loads_object_refuses_the_deepest_readable_nesting_with_an_escape() -> None:
    depth = _deepest_parsed()
    assert depth > 100
    # The decoder and the writer run a frame or two apart: the depths around the limit.
    for candidate in range(depth + 8, depth - 8, -1):
        with contextlib.suppress(JSONError):
            loads_object(_nested(candidate, escaped=True))


def test_deeply_nested_token_header_with_an_escape_is_an_ordinary_refusal(
    client: Client, guard: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    signature = base64.urlsafe_b64encode(b"x" * 64).rstrip(b"=").decode()
    # The one depth that breaks depends on the stack, so every depth a header can reach is sent.
    for depth in range(1000, 500, -1):
        header = base64.urlsafe_b64encode(_nested(depth, escaped=True)[:-1] + b',"alg":"RS256"}')
        token = f"{header.rstrip(b'=').decode()}.e30.{signature}"
        response = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401, depth
    unexpected = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not unexpected, unexpected[0].getMessage()


def test_spiffe_trust_domain_gives_none_for_a_lone_surrogate() -> None:
    assert spiffe_trust_domain("spiffe://example.org/\ud800") is None


def test_contain_refuses_a_path_over_the_byte_limit_after_normalisation() -> None:
    # U+0958 is excluded from composition: NFC writes it as two characters, 3 UTF-8 bytes each.
    path = "/".join(["\u0958" * 42] * 8)
    assert len(path.encode("utf-8")) <= MAX_PATH_BYTES
    with pytest.raises(PathRefused):
        contain(path)
