"""Benchmark: BearerTokenAuthentication against raw PyJWT and simplejwt, interleaved, medians.

    python bench/bench_auth.py [--quick] [--rounds 15] [--calls 300] [--skip-binding] [--wall] [--json FILE]

Prints µs per authenticate() for RS256, ES256 and EdDSA: the same token again and again (the
token cache answers), a token not seen before on each call, and the same token with
``TOKEN_CACHE_SIZE: 0``; beside them the same token decoded by ``jwt.decode`` with a preloaded
key and authenticated by simplejwt's stateless authentication (bench.views), all in the same
rounds. Then the sender-constrained tokens, beside plain Bearer in the same rounds:
``binding: "workload"`` and ``"cnf"`` with an ``X-Forwarded-Client-Cert`` from a trusted
proxy (a certificate already seen, and a new certificate each call), and ``binding: "dpop"``
with a fresh ES256 or EdDSA proof per request (minted before the rounds), against one
signature verification of each kind. The machine is shared: read the ratios, not the
absolute numbers. Requests through views are bench_inprocess.py's and bench_gunicorn.py's.
"""

from __future__ import annotations

import functools
import itertools
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    ALGORITHMS,
    AUDIENCE,
    GuardGroups,
    arguments,
    environment,
    interleave,
    make_issuer,
    paired_ratio,
    parse,
    project_config,
    rounds_of,
    save,
    setting_accepted,
    setup_django,
    timer,
    token_cache_size,
)

BINDING_MODES = ("workload", "cnf", "dpop")
PROXY = "10.1.2.3"
WORKLOAD = "spiffe://bench.test/ns/bench/sa/client"
BOUND_PATH = "/bench/"
# More than the 256 entries of each certificate memo: cycling through them misses every time.
NEW_CERTIFICATES = 1024
BINDING_SETTINGS: dict[str, object] = {
    "TRANSPORT_IDENTITY": {"source": "xfcc", "trusted_proxies": ["10.0.0.0/8"]},
    # The proofs are minted before the rounds: an hour keeps the last one fresh on a slow machine.
    "DPOP_PROOF_MAX_AGE": 3600,
}
SAME, DISTINCT, CACHE_OFF = "authenticate(), same token", "authenticate(), distinct tokens", "authenticate(), cache off"
DECODE, SIMPLEJWT = "jwt.decode (preloaded key)", "simplejwt stateless"


def each(authenticate: Callable[[Any], object], requests: Iterable[object]) -> Callable[[], object]:
    """A call that authenticates the next of ``requests``, so that each timed call may get its own."""
    upcoming = iter(requests)
    return lambda: authenticate(next(upcoming))


def bound_issuers(idp: Any) -> list[dict[str, object]]:
    """The plain issuer's keys and algorithms under another ``iss`` per binding mode."""
    return [idp.issuer_settings(jwks=idp.jwks(), issuer=f"{idp.issuer}{mode}", binding=mode) for mode in BINDING_MODES]


def certificate_parses(call: Callable[[], object], calls: int) -> float:
    """Certificates parsed per call of ``call`` (misses of the library's certificate memo)."""
    from django_bearer_guard.identity import transport

    call()  # the first request of a case was already authenticated by its check
    before = transport._parse_pem.cache_info().misses
    for _ in range(calls):
        call()
    return (transport._parse_pem.cache_info().misses - before) / calls


def binding_cases(
    idp: Any, authenticate: Callable[[Any], Any], proofs: int
) -> tuple[dict[str, Callable[[], object]], dict[str, Callable[[], object]]]:
    """The bound requests beside plain Bearer (all RS256 tokens), and one signature verification of each kind.

    Each DPoP case has ``proofs`` requests to time, each with its own proof (a new ``jti``).
    """
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from django_bearer_guard.jose.compact import parse_compact, verify_signature
    from django_bearer_guard.jose.keyset import KeySet
    from django_bearer_guard.testing import DPoPKey, WorkloadCA, WorkloadCertificate, xfcc_header

    factory = APIRequestFactory()

    def request(scheme: str, token: str, **meta: Any) -> Request:
        return Request(factory.get(BOUND_PATH, HTTP_AUTHORIZATION=f"{scheme} {token}", REMOTE_ADDR=PROXY, **meta))

    def xfcc(certificate: WorkloadCertificate) -> dict[str, Any]:
        return {"HTTP_X_FORWARDED_CLIENT_CERT": xfcc_header(certificate.xfcc())}

    def checked(requests: list[Request], methods: set[str]) -> list[Request]:
        # A case is timed only once its first request passes with the binding it is named for.
        binding = authenticate(requests[0])[1].binding
        assert (binding.methods if binding else set()) == methods, (binding, methods)
        return requests

    ca = WorkloadCA()
    seen = ca.issue(WORKLOAD)
    plain_token = idp.mint(alg="RS256")
    workload_token = idp.mint(alg="RS256", iss=f"{idp.issuer}workload", sub=WORKLOAD)
    cnf_token = idp.mint(alg="RS256", iss=f"{idp.issuer}cnf", cnf={"x5t#S256": seen.thumbprint})
    cases = {
        "plain Bearer": checked([request("Bearer", plain_token)], set()),
        "workload, XFCC, seen certificate": checked([request("Bearer", workload_token, **xfcc(seen))], {"workload"}),
        "workload, XFCC, new certificate": checked(
            [request("Bearer", workload_token, **xfcc(ca.issue(WORKLOAD))) for _ in range(NEW_CERTIFICATES)],
            {"workload"},
        ),
        "cnf x5t#S256, XFCC": checked([request("Bearer", cnf_token, **xfcc(seen))], {"x5t#S256"}),
    }
    variants = {name: each(authenticate, itertools.cycle(requests)) for name, requests in cases.items()}

    token_jws = parse_compact(plain_token)
    token_key = KeySet.from_jwks(idp.jwks()).find(token_jws.kid, "RS256")
    assert token_key is not None
    references: dict[str, Callable[[], object]] = {
        "RS256 access token": functools.partial(verify_signature, token_jws, token_key)
    }
    for alg in ("ES256", "EdDSA"):
        key = DPoPKey(alg)
        token = idp.mint(alg="RS256", iss=f"{idp.issuer}dpop", cnf={"jkt": key.jkt})
        url = f"http://testserver{BOUND_PATH}"
        # Minted before the rounds, so minting is not timed; one more for the check.
        requests = [request("DPoP", token, HTTP_DPOP=key.proof("GET", url, access_token=token))
                    for _ in range(proofs + 1)]
        variants[f"DPoP, {alg} proof"] = each(authenticate, checked(requests, {"jkt"})[1:])
        proof = parse_compact(requests[0].META["HTTP_DPOP"], embedded_key=True)
        proof_key = KeySet.from_jwks(proof.header["jwk"], allow_symmetric=False).keys[0]
        references[f"{alg} DPoP proof"] = functools.partial(verify_signature, proof, proof_key)
    return variants, references


def proofs_per_case(rounds: int, calls: int) -> int:
    """The requests (each with its own proof) a DPoP case needs: one per timed call, and the warm-up."""
    return rounds * calls + 1


def measure_binding(
    idp: Any, authenticate: Callable[[Any], Any], rounds: int, calls: int, clock: Callable[[], int]
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Median µs of the binding cases and of the signature verifications, in the same rounds; parses per call."""
    variants, references = binding_cases(idp, authenticate, proofs_per_case(rounds, calls))
    parses = {name: certificate_parses(variants[f"workload, XFCC, {name} certificate"], 50) for name in ("seen", "new")}
    medians = interleave({**variants, **references}, rounds, calls, timer=clock)
    return {name: medians[name] for name in variants}, {name: medians[name] for name in references}, parses


def print_binding(row: dict[str, float], references: dict[str, float], parses: dict[str, float]) -> None:
    """The binding table: µs per call, µs added over plain Bearer, and what they are set against."""
    plain = row["plain Bearer"]
    print("\nsender-constrained tokens, RS256 access token, µs per authenticate()")
    for name, value in row.items():
        print(f"  {name:32s} {value:8.1f} µs   added = {value - plain:+7.1f} µs   this/plain = {value / plain:5.2f}x")
    print("one signature verification (verify_signature, key parsed)")
    for name, value in references.items():
        print(f"  {name:32s} {value:8.1f} µs")
    print("certificates parsed per authenticate(): "
          + ", ".join(f"{name} {count:.2f}" for name, count in parses.items()))
    seen = row["workload, XFCC, seen certificate"]
    print(f"XFCC on a memo hit adds {seen - plain:.1f} µs; a new certificate costs "
          f"{row['workload, XFCC, new certificate'] - seen:.1f} µs more (parse)")
    for alg in ("ES256", "EdDSA"):
        added = row[f"DPoP, {alg} proof"] - plain
        print(f"DPoP, {alg}: adds {added:.1f} µs = {added / references[f'{alg} DPoP proof']:.2f}x "
              f"one {alg} proof verification")


def plain_cases(idp: Any, rounds: int, calls: int, cache_off: bool) -> dict[str, Callable[[], object]]:
    """The authenticate() variants of each algorithm, named "alg|variant"; the cache-off ones last."""
    import jwt
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from bench.views import public_key, simplejwt_authentication
    from django_bearer_guard.authentication import BearerTokenAuthentication

    factory = APIRequestFactory()
    ours = BearerTokenAuthentication()

    def request(token: str) -> Request:
        return Request(factory.get("/", HTTP_AUTHORIZATION=f"Bearer {token}"))

    def mint(alg: str) -> str:
        return str(idp.mint(alg=alg, scope="read write", token_type="access", lifetime=3600))

    distinct = max(token_cache_size() + 1, (rounds + 1) * calls + 1)
    cases: dict[str, Callable[[], object]] = {}
    later: dict[str, Callable[[], object]] = {}
    for alg in ALGORITHMS:
        token = mint(alg)
        same = request(token)
        theirs: Any = simplejwt_authentication(alg)()  # simplejwt's annotations do not take DRF's Request
        assert ours.authenticate(same) is not None and theirs.authenticate(same) is not None
        cases[f"{alg}|{SAME}"] = functools.partial(ours.authenticate, same)
        # Each call a token never seen before: minted ahead, one request each, never repeated.
        cases[f"{alg}|{DISTINCT}"] = each(ours.authenticate, [request(mint(alg)) for _ in range(distinct)])
        cases[f"{alg}|{DECODE}"] = functools.partial(
            jwt.decode, token, public_key(alg), algorithms=[alg], audience=AUDIENCE, issuer=idp.issuer)
        cases[f"{alg}|{SIMPLEJWT}"] = functools.partial(theirs.authenticate, same)
        if cache_off:
            later[f"{alg}|{CACHE_OFF}"] = functools.partial(ours.authenticate, same)
    return {**cases, **later}


def print_plain(samples: dict[str, list[float]], rounds: int, calls: int) -> dict[str, Any]:
    """The per-algorithm table: medians {alg: {variant: µs}}, ratios to jwt.decode within each round."""
    table: dict[str, dict[str, list[float]]] = {}
    for name, values in samples.items():
        alg, variant = name.split("|")
        table.setdefault(alg, {})[variant] = values
    medians = {alg: {variant: statistics.median(values) for variant, values in row.items()}
               for alg, row in table.items()}
    ratios = {alg: {variant: paired_ratio(row, variant, DECODE) for variant in row} for alg, row in table.items()}
    print(f"medians of {rounds} interleaved rounds of {calls} calls, µs per call (CPU time unless --wall); "
          "ratios within each round, then their median\n")
    for alg, row in medians.items():
        print(alg)
        for variant, value in row.items():
            print(f"  {variant:34s} {value:8.1f} µs   /jwt.decode = {ratios[alg][variant]:5.2f}x")
        print(f"  distinct tokens against simplejwt: {paired_ratio(table[alg], SIMPLEJWT, DISTINCT):5.2f}x as fast")
    return {"authenticate_us": medians, "ratio_decode": ratios, "samples_us": table}


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], timed=True, rounds=(15, 3), calls=(300, 100))
    parser.add_argument("--skip-binding", action="store_true", help="only the plain Bearer comparisons")
    args = parse(parser)
    idp = make_issuer(start=False)
    guard = {"ISSUERS": [idp.issuer_settings(jwks=idp.jwks()), *bound_issuers(idp)], **BINDING_SETTINGS}
    setup_django(project_config(idp, guard=guard, cache_entries=2 * proofs_per_case(args.rounds, args.calls) + 1000))
    cache_off = setting_accepted("TOKEN_CACHE_SIZE", 0)
    cases = plain_cases(idp, args.rounds, args.calls, cache_off)
    groups = GuardGroups({name: {"TOKEN_CACHE_SIZE": 0} for name in cases if name.endswith(CACHE_OFF)})
    samples = rounds_of(cases, args.rounds, args.calls, before=groups, timer=timer(args))
    table = print_plain(samples, args.rounds, args.calls)
    if not cache_off:
        print("TOKEN_CACHE_SIZE is refused by the system checks: cache off is n/a")
    results: dict[str, Any] = {"environment": environment(), "rounds": args.rounds, "calls": args.calls,
                               "clock": "wall" if args.wall else "cpu", **table}
    if not args.skip_binding:
        from django_bearer_guard.authentication import BearerTokenAuthentication

        groups.reset()  # the last round may have ended on a cache-off variant

        binding = measure_binding(idp, BearerTokenAuthentication().authenticate, args.rounds, args.calls, timer(args))
        print_binding(*binding)
        results["binding_us"], results["signature_us"], results["certificate_parses"] = binding
    print("\ntargets: RS256 authenticate(), same token <= 0.15x jwt.decode; distinct tokens <= 0.6x jwt.decode and\n"
          "         >= 1.5x as fast as simplejwt; XFCC on a memo hit adds <= 50 µs; DPoP adds <= 2.5x one proof\n"
          "         verification")
    save(args.json, results)


if __name__ == "__main__":
    main()
