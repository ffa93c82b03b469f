from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_bearer_guard.exceptions import (
    BadSignature,
    DisallowedAlgorithm,
    ForbiddenHeader,
    InvalidToken,
    MalformedToken,
    UnknownKey,
)
from django_bearer_guard.jose.compact import parse_compact
from django_bearer_guard.jose.keyset import KeySet
from django_bearer_guard.testing import LocalIssuer
from django_bearer_guard.tokens import verify_compact
from tests.support.keys import ALL_ALGORITHMS, pooled_key


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def compact(header: dict[str, Any] | str, payload: bytes | str = b'{"a":1}', signature: bytes = b"sig") -> str:
    head = header if isinstance(header, str) else json.dumps(header)
    return f"{b64(head)}.{b64(payload)}.{b64(signature)}"


def keyset_for(*algs: str) -> KeySet:
    return KeySet.from_jwks({"keys": [pooled_key(alg).public_jwk() for alg in algs]})


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_verify_compact_accepts_every_supported_algorithm(alg: str) -> None:
    key = pooled_key(alg)
    token = jwt.encode({"hello": "world"}, key.private_key, algorithm=alg, headers={"kid": key.kid})
    header, payload = verify_compact(token, keyset_for(*ALL_ALGORITHMS), [alg])
    assert header["alg"] == alg
    assert json.loads(payload) == {"hello": "world"}


def test_verify_compact_returns_payload_bytes_unparsed() -> None:
    key = pooled_key("ES256")
    token = jwt.api_jws.encode(b"not json", key.private_key, algorithm="ES256", headers={"kid": key.kid})
    assert verify_compact(token, keyset_for("ES256"), ["ES256"])[1] == b"not json"


def test_verify_compact_refuses_algorithm_outside_allowlist() -> None:
    key = pooled_key("RS256")
    token = jwt.encode({}, key.private_key, algorithm="RS256", headers={"kid": key.kid})
    with pytest.raises(DisallowedAlgorithm):
        verify_compact(token, keyset_for("RS256"), ["ES256"])


def test_verify_compact_refuses_unknown_kid() -> None:
    key = pooled_key("RS256")
    token = jwt.encode({}, key.private_key, algorithm="RS256", headers={"kid": "other"})
    with pytest.raises(UnknownKey):
        verify_compact(token, keyset_for("RS256"), ["RS256"])


def test_verify_compact_without_kid_uses_the_single_matching_key() -> None:
    key = pooled_key("RS256")
    token = jwt.encode({}, key.private_key, algorithm="RS256")
    assert verify_compact(token, keyset_for("RS256", "ES256"), ["RS256"])[0] == {"alg": "RS256", "typ": "JWT"}


def test_verify_compact_without_kid_refuses_ambiguous_key_choice() -> None:
    one, two = pooled_key("RS256", 0), pooled_key("RS256", 1)
    token = jwt.encode({}, one.private_key, algorithm="RS256")
    keyset = KeySet.from_jwks({"keys": [one.public_jwk(), two.public_jwk()]})
    with pytest.raises(UnknownKey):
        verify_compact(token, keyset, ["RS256"])


def test_verify_compact_refuses_tampered_payload() -> None:
    key = pooled_key("ES256")
    token = jwt.encode({"admin": False}, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    head, _, sig = token.split(".")
    with pytest.raises(BadSignature):
        verify_compact(f"{head}.{b64(json.dumps({'admin': True}))}.{sig}", keyset_for("ES256"), ["ES256"])


@pytest.mark.parametrize(
    ("token", "error"),
    [
        ("", MalformedToken),
        ("a.b", MalformedToken),
        ("a.b.c.d.e", MalformedToken),
        (compact({"alg": "RS256"}, signature=b""), MalformedToken),
        (compact({"alg": "RS256"})[:-1] + "!", MalformedToken),
        ("eyJhbGciOiJSUzI1NiJ9=.e30.c2ln", MalformedToken),
        ("eyJhbGciOiJSUzI1NiJ9.e30.c2l", MalformedToken),
        ("eyJhbGciOiJSUzI1NiJ9.e31.c2ln", MalformedToken),
        ("eyJhbGciOiJSUzI1NiJ9.e30.c2lu+w", MalformedToken),
        ("eyJhbGciOiJSUzI1NiJ9.e30.c2lu/w", MalformedToken),
        (compact("[1]"), MalformedToken),
        (compact("not json"), MalformedToken),
        (compact('{"alg":"RS256","alg":"none"}'), MalformedToken),
        (compact('{"alg":"RS256","x":NaN}'), MalformedToken),
        (compact({"typ": "JWT"}), MalformedToken),
        (compact({"alg": 256}), MalformedToken),
        (compact({"alg": ""}), MalformedToken),
        (compact({"alg": "RS256", "kid": 1}), MalformedToken),
        (compact({"alg": "RS256", "kid": "k" * 257}), MalformedToken),
        (compact({"alg": "RS256", "typ": ["at+jwt"]}), MalformedToken),
        (compact(b"\xff\xfe".decode("latin-1")), MalformedToken),
        (compact({"alg": "RS256", "crit": ["exp"], "exp": 1}), ForbiddenHeader),
        (compact({"alg": "RS256", "b64": False, "crit": ["b64"]}), ForbiddenHeader),
        (compact({"alg": "RS256", "b64": True}), ForbiddenHeader),
        (compact({"alg": "RS256", "cty": "JWT"}), ForbiddenHeader),
        (compact({"alg": "RS256", "cty": 7}), ForbiddenHeader),
    ],
)
def test_parse_compact_refuses_malformed_tokens(token: str, error: type[InvalidToken]) -> None:
    with pytest.raises(error) as info:
        parse_compact(token)
    assert info.value.status_code == 401


def test_parse_compact_keeps_signing_input_and_decodes_once() -> None:
    token = compact({"alg": "ES256", "kid": "k1", "typ": "at+jwt", "cty": "json"}, b"payload", b"\x01\x02")
    jws = parse_compact(token)
    assert jws.signing_input == token.rsplit(".", 1)[0].encode()
    assert (jws.alg, jws.kid, jws.payload, jws.signature) == ("ES256", "k1", b"payload", b"\x01\x02")


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.text(max_size=300),
    st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=60),
             min_size=1, max_size=6).map(".".join),
    st.tuples(st.dictionaries(st.sampled_from(["alg", "kid", "typ", "cty", "crit", "jku", "x"]),
                              st.one_of(st.text(max_size=5), st.integers(), st.none(), st.booleans())),
              st.binary(max_size=40), st.binary(max_size=40)).map(lambda t: compact(t[0], t[1], t[2])),
))
def test_parse_compact_raises_only_library_errors(token: str) -> None:
    try:
        jws = parse_compact(token)
    except InvalidToken as exc:
        assert exc.status_code == 401
    else:
        assert isinstance(jws.header["alg"], str)
        assert jws.signature


def test_verify_signature_refuses_algorithm_the_key_cannot_verify() -> None:
    # Key confusion stopped at the last step even if a caller picks the key by kid alone.
    from django_bearer_guard.jose.compact import verify_signature

    rsa_key = keyset_for("RS256").keys[0]
    token = compact({"alg": "HS256", "kid": rsa_key.kid}, b"{}", b"mac-made-with-the-public-key")
    with pytest.raises(DisallowedAlgorithm):
        verify_signature(parse_compact(token), rsa_key)


def test_parse_compact_hands_out_a_read_only_cached_header() -> None:
    token = compact({"alg": "ES256", "kid": "cached"})
    first = parse_compact(token)
    with pytest.raises(TypeError):
        first.header["alg"] = "none"  # type: ignore[index]  # the very write a read-only header refuses
    assert parse_compact(token).header == {"alg": "ES256", "kid": "cached"}


def test_parse_compact_header_cache_stays_bounded_and_skips_long_headers() -> None:
    from django_bearer_guard.jose import compact as jose

    for i in range(jose._HEADER_CACHE_SIZE + 10):
        parse_compact(compact({"alg": "ES256", "kid": f"k{i}"}))
    assert len(jose._checked_headers) <= jose._HEADER_CACHE_SIZE
    long_header = compact({"alg": "ES256", "kid": "k" * 250, "x": "y" * 300})
    parse_compact(long_header)
    assert long_header.split(".")[0] not in jose._checked_headers


def test_parse_compact_refuses_a_bad_header_every_time() -> None:
    token = compact({"alg": "RS256", "jku": "https://attacker.example/jwks"})
    for _ in range(2):
        with pytest.raises(ForbiddenHeader):
            parse_compact(token)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_verify_compact_returns_header_and_payload_bytes_without_claim_checks(idp: LocalIssuer) -> None:
    keyset = KeySet.from_jwks(idp.jwks())
    token = idp.mint(exp=1, aud="somebody-else")  # claims are not verify_compact's business
    header, payload = verify_compact(token, keyset, ["RS256"])
    assert header["alg"] == "RS256" and header["kid"] == idp.signing_key().kid
    assert isinstance(payload, bytes) and json.loads(payload)["exp"] == 1


def test_verify_compact_applies_the_algorithm_list_and_signature(idp: LocalIssuer) -> None:
    keyset = KeySet.from_jwks(idp.jwks())
    token = idp.mint()
    with pytest.raises(DisallowedAlgorithm):
        verify_compact(token, keyset, ["ES256"])
    head, body, signature = token.split(".")
    tampered = f"{head}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{signature}"
    with pytest.raises(InvalidToken):
        verify_compact(tampered, keyset, ["RS256"])
    unsigned = _b64url(b'{"alg":"none"}') + "." + _b64url(b"{}") + "."
    with pytest.raises(InvalidToken):
        verify_compact(unsigned, keyset, ["RS256", "none"])
    other = KeySet.from_jwks({"keys": [{**pooled_key("RS256", 1).public_jwk(), "kid": idp.signing_key().kid}]})
    with pytest.raises(InvalidToken):
        verify_compact(token, other, ["RS256"])
