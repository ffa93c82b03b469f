"""The fuzz harnesses in ``fuzz/``: their seed corpora replay cleanly; and what fuzzing found.

The harnesses import without atheris; the replay needs only their ``test_one_input``. It runs
where atheris can be installed (the campaigns' environment), next to the source tree. Each
finding has a test named after the contract it breaks, ``xfail(strict=True)`` until it is fixed.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from django_bearer_guard.files.paths import MAX_PATH_BYTES, PathRefused, contain
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


# Found while writing the harnesses (both are outside what the harnesses assert, so that the
# campaigns could run on; see docs/fuzzing.rst).


@pytest.mark.xfail(
    strict=True,
    raises=UnicodeEncodeError,
    reason="spiffe_trust_domain encodes the value to measure it before any check: a lone surrogate "
    "raises UnicodeEncodeError instead of giving None",
)
def test_spiffe_trust_domain_gives_none_for_a_lone_surrogate() -> None:
    assert spiffe_trust_domain("spiffe://example.org/\ud800") is None


@pytest.mark.xfail(
    strict=True,
    raises=pytest.fail.Exception,
    reason="contain measures MAX_PATH_BYTES before NFC normalisation, which can make a path up to three "
    "times longer",
)
def test_contain_refuses_a_path_over_the_byte_limit_after_normalisation() -> None:
    # U+0958 is excluded from composition: NFC writes it as two characters, 3 UTF-8 bytes each.
    path = "/".join(["\u0958" * 42] * 8)
    assert len(path.encode("utf-8")) <= MAX_PATH_BYTES
    with pytest.raises(PathRefused):
        contain(path)
