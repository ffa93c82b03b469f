"""Properties of DPoP proof checking: what arbitrary input can and cannot do."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from django_bearer_guard.conf import get_settings
from django_bearer_guard.exceptions import InvalidDPoPProof
from django_bearer_guard.identity.dpop import current_nonce, nonce_age, normalize_htu, verify_proof
from django_bearer_guard.testing.dpop import DPoPKey

NOW = 1_800_000_000.0
URL = "https://api.example.test/files/report.pdf"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ3b3JrZXIifQ.c2lnbmF0dXJl"
KEY = DPoPKey()
PROOF = KEY.proof("GET", URL, access_token=TOKEN, iat=NOW)
BASE64URL = string.ascii_letters + string.digits + "-_"

URI_CHARACTERS = string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%"
urls = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=URI_CHARACTERS, max_size=80),
    st.tuples(
        st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "https:", ""]),
        st.text(alphabet=string.ascii_letters + string.digits + ".-:[]@%", max_size=20),
        st.lists(st.sampled_from(["a", "B", ".", "..", "", "%2e", "%2E%2e", "%41", "%7e", "%2F", "%zz", "é", "~"]),
                 max_size=8).map("/".join),
        st.sampled_from(["", "?q=1", "#f", "?", "/"]),
    ).map(lambda parts: f"{parts[0]}{parts[1]}/{parts[2]}{parts[3]}"),
)


@settings(max_examples=600, deadline=None)
@given(urls)
def test_normalize_htu_raises_nothing_but_value_error_and_is_idempotent(url: str) -> None:
    try:
        normal = normalize_htu(url)
    except ValueError:
        return
    assert normalize_htu(normal) == normal
    assert "?" not in normal and "#" not in normal
    assert normal.startswith(("http://", "https://"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", ".", "..", "", "%2E", "c%2e"]), max_size=8).map("/".join))
def test_normalize_htu_leaves_no_dot_segment(path: str) -> None:
    normal = normalize_htu("https://api.example.test/" + path)
    assert all(segment not in (".", "..") for segment in normal.split("/")[3:])


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.none(),
    st.text(max_size=300),
    st.lists(st.text(alphabet=BASE64URL, max_size=80), min_size=1, max_size=5).map(".".join),
    # Proofs with this key's header and payload, and garbage after them.
    st.text(alphabet=BASE64URL + ".", max_size=100).map(lambda tail: PROOF.rsplit(".", 1)[0] + tail),
))
def test_verify_proof_of_arbitrary_text_raises_only_invalid_dpop_proof(value: str | None) -> None:
    try:
        verify_proof(value, access_token=TOKEN, method="GET", url=URL, jkt=KEY.jkt,
                     algorithms=("ES256",), settings=get_settings(), now=NOW)
    except InvalidDPoPProof:
        return
    raise AssertionError("accepted arbitrary text as a proof")


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(PROOF) - 1), st.sampled_from(BASE64URL + "."))
def test_verify_proof_refuses_any_one_character_change_of_a_valid_proof(index: int, char: str) -> None:
    changed = PROOF[:index] + char + PROOF[index + 1:]
    if changed == PROOF:
        return
    try:
        verify_proof(changed, access_token=TOKEN, method="GET", url=URL, jkt=KEY.jkt,
                     algorithms=("ES256",), settings=get_settings(), now=NOW)
    except InvalidDPoPProof:
        return
    raise AssertionError(f"accepted a changed proof (position {index})")


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0, max_value=4e9), st.integers(min_value=10, max_value=86400))
def test_a_nonce_is_current_then_stale_then_refused(now: float, lifetime: int) -> None:
    nonce = current_nonce(now, lifetime)
    start = (now // lifetime) * lifetime
    assert nonce_age(nonce, start, lifetime) == 0
    assert nonce_age(nonce, start + lifetime, lifetime) == 1
    assert nonce_age(nonce, start + 2 * lifetime, lifetime) is None
    assert nonce_age(nonce, start - lifetime, lifetime) is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.text(alphabet=BASE64URL, min_size=32, max_size=32)))
def test_nonce_age_of_arbitrary_text_is_none(text: str) -> None:
    assert nonce_age(text, NOW, 300) is None
