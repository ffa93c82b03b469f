"""Write the seed corpora under ``fuzz/corpus/``: valid and near-valid inputs for each harness.

Run from the repository root: ``python -m fuzz.make_corpus``. Keys and certificates are made
fresh by the library's test helpers, so a second run writes different bytes of the same shapes.
Every seed starts with the harness's mode byte (see each harness's docstring).
"""

from __future__ import annotations

import base64
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fuzz._driver import configure_django

configure_django()

from django_bearer_guard.testing.certificates import WorkloadCA, xfcc_header  # noqa: E402
from django_bearer_guard.testing.keys import generate_private_key, public_jwk_of  # noqa: E402
from fuzz import fuzz_dpop  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "corpus"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _write(harness: str, seeds: dict[str, bytes]) -> None:
    folder = CORPUS / harness
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, data in seeds.items():
        (folder / name).write_bytes(data)


def _token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"\x01" * 64) -> str:
    return f"{_b64(_json(header))}.{_b64(_json(claims))}.{_b64(signature)}"


def header_seeds() -> dict[str, bytes]:
    token = _token({"alg": "ES256", "kid": "k1"}, {"sub": "a"}).encode("ascii")
    return {
        "bearer": b"\x00Bearer " + token,
        "bearer-lower": b"\x00bearer " + token,
        "bearer-upper-utf8": b"\x80BEARER " + token,
        "bearer-spaces": b"\x00Bearer    abc~+/==",
        "bearer-tab": b"\x00Bearer\tabc",
        "bearer-alone": b"\x00Bearer",
        "bearer-empty": b"\x00Bearer ",
        "bearer-two": b"\x00Bearer abc, Bearer def",
        "bearer-padding-inside": b"\x00Bearer ab=c",
        "bearer-too-large": b"\x04Bearer " + b"a" * 40,
        "dpop": b"\x01DPoP " + token,
        "dpop-only": b"\x02dpop abc",
        "basic": b"\x00Basic dXNlcjpwYXNz",
        "bearerx": b"\x00Bearerx abc",
        "latin1": b"\x00Bearer \xe9t\xe9",
        "nul": b"\x00Bearer a\x00b",
    }


def compact_seeds() -> dict[str, bytes]:
    jwk = public_jwk_of(generate_private_key("ES256"), "ES256")
    valid = _token({"alg": "ES256", "kid": "k1", "typ": "at+jwt"}, {"sub": "a", "exp": 1}).encode()
    proof = _token({"alg": "ES256", "typ": "dpop+jwt", "jwk": jwk}, {"jti": "j"}).encode()
    return {
        "token": b"\x00" + valid,
        "token-latin1": b"\x80" + valid + b"\xe9",
        "jwe-five-parts": b"\x00" + valid + b".a.b",
        "unsecured": b"\x00" + valid.rsplit(b".", 1)[0] + b".",
        "non-canonical": b"\x00" + valid[:-1] + b"B",
        "proof": b"\x01" + proof,
        "token-as-proof": b"\x01" + valid,
        "parts": b"\x02" + _json({"alg": "RS256", "kid": "a"}) + b"\xff" + _json({"sub": "x"}) + b"\xff\x01\x02",
        "parts-crit": b"\x02" + _json({"alg": "RS256", "crit": ["exp"]}) + b"\xff{}\xff\x01",
        "parts-jku": b"\x02" + _json({"alg": "RS256", "jku": "https://evil.test/"}) + b"\xff{}\xff\x01",
        "parts-cty": b"\x02" + _json({"alg": "HS256", "cty": "JWT"}) + b"\xff{}\xff\x01",
        "parts-duplicate": b'\x02{"alg":"RS256","alg":"none"}\xff{}\xff\x01',
        "parts-kid-number": b'\x02{"alg":"RS256","kid":7}\xff{}\xff\x01',
        "parts-no-signature": b'\x02{"alg":"RS256"}\xff{}\xff',
        "parts-proof": b"\x03" + _json({"alg": "ES256", "typ": "dpop+jwt", "jwk": jwk}) + b"\xff{}\xff\x01",
        "parts-proof-no-jwk": b'\x03{"alg":"ES256","typ":"dpop+jwt"}\xff{}\xff\x01',
        "json": b'\x04{"a":[1,2.5,-3e2,true,false,null],"b":{"c":"\\u00e9\\ud83d\\ude00"}}',
        "json-surrogate": b'\x04{"a":"\\ud800"}',
        "json-nan": b'\x04{"a":NaN}',
        "json-duplicate": b'\x04{"a":1,"a":2}',
        "json-array": b"\x04[1]",
        "json-deep": b"\x04" + b'{"a":' * 50 + b"1" + b"}" * 50,
        "json-big-number": b'\x04{"a":1e999,"b":' + b"9" * 30 + b"}",
        "json-bad-utf8": b'\x04{"a":"\xc3("}',
    }


def _rsa_jwk(**extra: Any) -> dict[str, Any]:
    return {**public_jwk_of(generate_private_key("RS256"), "RS256"), **extra}


def keyset_seeds() -> dict[str, bytes]:
    ec256 = public_jwk_of(generate_private_key("ES256"), "ES256")
    ec384 = public_jwk_of(generate_private_key("ES384"), "ES384")
    ed = public_jwk_of(generate_private_key("EdDSA"), "EdDSA")
    rsa = _rsa_jwk(kid="r1", alg="RS256", use="sig")
    secret = {"kty": "oct", "kid": "h1", "k": _b64(b"s" * 32)}
    return {
        "set": b"\x00" + _json({"keys": [rsa, {**ec256, "kid": "e1"}, {**ed, "kid": "o1"}]}),
        "single-key": b"\x00" + _json(ec384),
        "enc-key": b"\x00" + _json({"keys": [{**ec256, "use": "enc"}, {**ed, "key_ops": ["verify"]}]}),
        "alg-mismatch": b"\x00" + _json({"keys": [{**ec256, "alg": "ES384"}]}),
        "private": b"\x00" + _json({"keys": [{**ec256, "d": ec256["x"]}]}),
        "duplicate-kid": b"\x00" + _json({"keys": [{**ec256, "kid": "a"}, {**ec384, "kid": "a"}]}),
        "weak-rsa": b"\x00" + _json({"keys": [{"kty": "RSA", "n": _b64(b"\xff" * 64), "e": "AQAB"}]}),
        "secret": b"\x01" + _json({"keys": [secret]}),
        "secret-short": b"\x01" + _json({"keys": [{**secret, "k": "c2hvcnQ"}]}),
        "secret-refused": b"\x00" + _json({"keys": [secret]}),
        "mixed": b"\x01" + _json({"keys": [secret, ec256]}),
        "bad-point": b"\x00" + _json({"keys": [{**ec256, "y": ec256["x"]}]}),
        "x25519": b"\x00" + _json({"keys": [{"kty": "OKP", "crv": "X25519", "x": ed["x"]}]}),
        "empty": b'\x00{"keys":[]}',
        "not-a-list": b'\x00{"keys":{}}',
        "no-kty": b'\x00{"keys":[{"kid":"a"}]}',
    }


def scopes_seeds() -> dict[str, bytes]:
    prefixes = {"scope_prefixes": {"api://app/": "", "https://api/": "x:"}}
    return {
        "scope": b'\xff{"scope":"read write  admin"}',
        "scope-list": b'{"scope_claim":"scp"}\xff{"scp":["read","write"]}',
        "scope-bad-item": b'{"scope_claim":"scp"}\xff{"scp":["read",1]}',
        "scope-control": b'\xff{"scope":"read\\u0007"}',
        "keycloak": b'{"scope_claim":"realm_access.roles"}\xff{"realm_access":{"roles":["a","b"]}}',
        "keycloak-client": (b'{"scope_claim":"resource_access.api.example.roles"}'
                            b'\xff{"resource_access":{"api.example":{"roles":["r"]}}}'),
        "dotted-literal": b'{"scope_claim":"a.b"}\xff{"a.b":"x","a":{"b":"y"}}',
        "through-string": b'{"scope_claim":"a.b"}\xff{"a":"x"}',
        "prefixes": _json(prefixes) + b'\xff{"scope":"api://app/read https://api/w"}',
        "allowed": b'{"allowed_scopes":["read"]}\xff{"scope":"read write"}',
        "permissions": b'{"scope_claim":"permissions"}\xff{"permissions":["read:files"]}',
        "null": b'\xff{"scope":null}',
        "number": b'\xff{"scope":5}',
        "long": b'\xff{"scope":"' + b"a" * 300 + b'"}',
    }


def paths_seeds() -> dict[str, bytes]:
    return {
        "plain": b"\x00reports/2024/q1.pdf",
        "unicode": "\x00caf\u00e9/\u65e5\u672c/\u0915\u093c.txt".encode(),
        "decomposed": "\x00cafe\u0301.txt".encode(),
        "parent": b"\x00a/../../etc/passwd",
        "dot": b"\x00./a",
        "absolute": b"\x00/etc/passwd",
        "backslash": b"\x00a\\..\\b",
        "drive": b"\x00C:/x",
        "fullwidth-slash": "\x00a\uff0fb".encode(),
        "fraction-slash": "\x00a\u2044b".encode(),
        "one-dot-leader": "\x00\u2024\u2024/x".encode(),
        "trailing-dot": b"\x00a.txt.",
        "trailing-space": b"\x00a.txt ",
        "bidi": "\x00a\u202eb".encode(),
        "nul": b"\x00a\x00b",
        "surrogate-bytes": b"\x00a\xed\xa0\x80b",
        "invalid-utf8": b"\x00a\xc3(b",
        "root": b"\x01users/alice\xffdocs/a.txt",
        "root-parent": b"\x01users/alice\xff../bob/a.txt",
        "root-prefix": b"\x01data\xff-evil/x",
        "template": (b"\x02users/{issuer}/{claims.sub}\xff" + _json({"sub": "alice"})
                     + b"\xff\xffhttps://idp.example.test/"),
        "template-workload": b"\x02w/{workload}\xff\xffspiffe-ns\xff",
        "template-parent": b"\x02u/{claims.sub}\xff" + _json({"sub": ".."}) + b"\xff\xff",
        "template-nested": b"\x02u/{claims.org.id}\xff" + _json({"org": {"id": 7}}) + b"\xff\xff",
        "template-kelvin": "\x02u/{claims.sub}\xff".encode() + _json({"sub": "\u212aate"}) + b"\xff\xff",
        "template-bad": b"\x02u/{nope}\xff{}\xff\xff",
    }


def xfcc_seeds() -> dict[str, bytes]:
    ca = WorkloadCA()
    # Valid at the harness's fixed NOW (2027), except the expired one.
    start, end = datetime(2020, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc)
    workload = ca.issue("spiffe://example.org/ns/prod/sa/api", dns=["api.example.org"], not_before=start, not_after=end)
    plain = ca.issue(uris=[], not_before=start, not_after=end)
    two_uris = ca.issue(uris=["spiffe://a.org/x", "spiffe://b.org/y"], not_before=start, not_after=end)
    expired = ca.issue("spiffe://example.org/old", not_before=start, not_after=start.replace(year=2021))
    element = workload.xfcc(by="spiffe://example.org/proxy", subject=True).encode()
    seeds = {
        "element": b"\x00" + element,
        "two-elements": b"\x00" + xfcc_header(plain.xfcc(), workload.xfcc()).encode(),
        "no-cert": b'\x00By=spiffe://p;Hash=' + b"a" * 64 + b";URI=spiffe://x/y",
        "quoted": b'\x00Subject="CN=a\\,b \\"q\\"";URI=;DNS=a',
        "bad-escape": b'\x00Subject="a\\',
        "unterminated": b'\x00Subject="abc',
        "twice": b"\x00Hash=" + b"a" * 64 + b";hash=" + b"b" * 64,
        "bad-hash": b"\x00Hash=xyz",
        "unknown-key": b"\x00Foo=bar",
        "empty-element": b"\x00By=a,,By=b",
        "read": b"\x01" + element,
        "read-plain": b"\x01" + plain.xfcc().encode(),
        "read-two-uris": b"\x01" + two_uris.xfcc().encode(),
        "read-expired": b"\x01" + expired.xfcc().encode(),
        "read-hash-mismatch": b"\x01" + workload.xfcc().replace(workload.sha256_hex, "0" * 64).encode(),
        "read-ca-last": b"\x01" + xfcc_header(workload.xfcc(), f"Cert={quote(ca.pem, safe='')}").encode(),
        "pem-header": b"\x02" + workload.escaped_pem().encode(),
        "pem-header-two": b"\x02" + quote(workload.pem + plain.pem, safe="").encode(),
        "pem-header-empty": b"\x02 ",
        "environ": b"\x03" + workload.pem.encode(),
        "environ-garbage": b"\x03-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    }
    return seeds


def spiffe_seeds() -> dict[str, bytes]:
    return {
        "id": b"\x00spiffe://example.org/ns/prod/sa/api",
        "domain-only": b"\x00spiffe://example.org",
        "trailing-slash": b"\x00spiffe://example.org/",
        "upper-scheme": b"\x00SPIFFE://example.org/x",
        "upper-domain": b"\x00spiffe://Example.org/x",
        "port": b"\x00spiffe://example.org:443/x",
        "userinfo": b"\x00spiffe://u@example.org/x",
        "dot-segment": b"\x00spiffe://example.org/a/../b",
        "query": b"\x00spiffe://example.org/a?b",
        "percent": b"\x00spiffe://example.org/a%2Fb",
        "non-ascii": "\x00spiffe://example.org/\u00e9".encode(),
        "long": b"\x00spiffe://example.org/" + b"a" * 2100,
        "workload": b'\x01\xff{"sub":"spiffe://example.org/ns/prod/sa/api"}',
        "workload-bad": b'\x01\xff{"sub":"spiffe://example.org/a//b"}',
        "workload-domains": (b'\x01{"workload_trust_domains":["example.org"]}'
                             b'\xff{"sub":"spiffe://other.org/x"}'),
        "workload-claim": b'\x01{"workload_claim":"kubernetes.io.serviceaccount"}\xff{"kubernetes.io":'
                          b'{"serviceaccount":"spiffe://cluster.local/ns/a/sa/b"}}',
        "workload-control": b'\x01\xff{"sub":"a\\nb"}',
        "workload-number": b'\x01{"workload_trust_domains":["a"]}\xff{"sub":5}',
        "pattern": b"\x02spiffe://example.org/ns/prod/sa/api\xffspiffe://example.org/ns/prod/*",
        "pattern-sibling": b"\x02spiffe://example.org/ns/production/x\xffspiffe://example.org/ns/prod/*",
        "pattern-self": b"\x02spiffe://example.org/ns/prod\xffspiffe://example.org/ns/prod/*",
        "pattern-climb": b"\x02spiffe://example.org/ns/prod/../admin\xffspiffe://example.org/ns/prod/*",
        "pattern-exact": b"\x02client-1\xffclient-1",
    }


def dpop_seeds() -> dict[str, bytes]:
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": fuzz_dpop.PUBLIC_JWK}
    claims = {"jti": "j-1", "htm": fuzz_dpop.METHOD, "htu": "https://api.example.test/files/a.txt",
              "iat": int(fuzz_dpop.NOW), "ath": fuzz_dpop.ATH}
    proof = fuzz_dpop.sign(_json(header), _json(claims))
    return {
        "proof": b"\x00" + proof.encode(),
        "proof-nonce": b"\x80" + proof.encode(),
        "two-proofs": b"\x00" + f"{proof}, {proof}".encode(),
        "hs256": b"\x00" + fuzz_dpop.sign(_json({**header, "alg": "HS256"}), _json(claims)).encode(),
        "signed": b"\x01" + _json(header) + b"\xff" + _json(claims),
        "signed-nonce": b"\x81" + _json(header) + b"\xff" + _json({**claims, "nonce": "A" * 32}),
        "signed-other-url": b"\x01" + _json(header) + b"\xff" + _json({**claims, "htu": "https://api.example.test/b"}),
        "signed-dots": b"\x01" + _json(header) + b"\xff" + _json({**claims, "htu": "https://API.example.test:443/x/../files/%61.txt"}),
        "signed-old": b"\x01" + _json(header) + b"\xff" + _json({**claims, "iat": 1}),
        "signed-no-typ": b"\x01" + _json({"alg": "ES256", "jwk": fuzz_dpop.PUBLIC_JWK}) + b"\xff" + _json(claims),
        "signed-private": b"\x01" + _json({**header, "jwk": {**fuzz_dpop.PUBLIC_JWK, "d": "AA"}}) + b"\xff{}",
        "signed-keyset": b"\x01" + _json({**header, "jwk": {"keys": [fuzz_dpop.PUBLIC_JWK]}}) + b"\xff{}",
        "htu": b"\x02https://API.Example.test:443/a/./b/../c/%7e%2f?q#f",
        "htu-ipv6": b"\x02http://[0:0::1]:8080",
        "htu-userinfo": b"\x02https://u@h/",
        "htu-port": b"\x02https://h:99999/",
        "htu-percent": b"\x02https://h/%zz",
    }


def main() -> None:
    """Write every harness's seed corpus."""
    _write("header", header_seeds())
    _write("compact", compact_seeds())
    _write("keyset", keyset_seeds())
    _write("scopes", scopes_seeds())
    _write("paths", paths_seeds())
    _write("xfcc", xfcc_seeds())
    _write("spiffe", spiffe_seeds())
    _write("dpop", dpop_seeds())


if __name__ == "__main__":
    main()
