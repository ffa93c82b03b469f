"""Fuzz the SPIFFE ID parser and the workload reader (``tokens/workloads.py``, ``identity/matching.py``).

Input: one mode byte, then

* mode 0: a string checked by ``spiffe_trust_domain`` against an independent reading of the
  SPIFFE ID specification;
* mode 1: ``issuer settings JSON 0xff claims JSON``: ``workload_from`` with the fuzzed
  ``workload_claim`` and ``workload_trust_domains``;
* mode 2: ``workload 0xff pattern``: ``workload_allowed``.

Text is UTF-8 (undecodable bytes replaced: the values come from strict JSON or a certificate,
never with lone surrogates). Refusal: ``InvalidClaim`` from ``workload_from``. Properties: the
parser agrees with the reference reading; a workload read is a printable string of at most
2048 characters, a valid SPIFFE ID when it has the ``spiffe:`` scheme and one of the issuer's
trust domains when it has some; a pattern ending in ``/*`` admits only workloads strictly below
it, by whole segments free of empty, ``.`` and ``..`` segments.
"""

from __future__ import annotations

import string

from fuzz._driver import configure_django, fuzz, library_imports, split

configure_django()
with library_imports(__name__):
    from django_bearer_guard._json import JSONError, loads_object
    from django_bearer_guard.exceptions import InvalidClaim
    from django_bearer_guard.identity.matching import workload_allowed
    from django_bearer_guard.issuers.config import parse_issuer
    from django_bearer_guard.tokens.workloads import MAX_WORKLOAD_LENGTH, spiffe_trust_domain, workload_from

_TRUST_DOMAIN_CHARS = frozenset(string.ascii_lowercase + string.digits + ".-_")
_SEGMENT_CHARS = frozenset(string.ascii_letters + string.digits + ".-_")
_FIXED = {"issuer": "https://idp.example.test/", "audiences": ["api"], "algorithms": ["ES256"],
          "jwks_uri": "https://idp.example.test/jwks"}
_FIELDS = ("workload_claim", "workload_trust_domains")


def reference_trust_domain(value: str) -> str | None:
    """The trust domain of a SPIFFE ID, read character by character from the specification."""
    scheme = "spiffe://"
    if value[: len(scheme)] != scheme or len(value.encode("utf-8")) > MAX_WORKLOAD_LENGTH:
        return None
    rest = value[len(scheme) :]
    slash = rest.find("/")
    domain, path = (rest, None) if slash < 0 else (rest[:slash], rest[slash + 1 :])
    if not 0 < len(domain) <= 255 or not set(domain) <= _TRUST_DOMAIN_CHARS:
        return None
    if path is not None:
        for segment in path.split("/"):
            if segment in ("", ".", "..") or not set(segment) <= _SEGMENT_CHARS:
                return None
    return domain


def _check_workload(config_json: bytes, claims_json: bytes) -> None:
    try:
        config = loads_object(config_json) if config_json else {}
        claims = loads_object(claims_json)
    except JSONError:
        return
    entry = {**_FIXED, **{name: config[name] for name in _FIELDS if name in config}}
    issuer = parse_issuer(entry, allow_http_loopback=False, where="fuzz")
    try:
        workload = workload_from(claims, issuer)
    except InvalidClaim:
        return
    if workload is None:
        return
    assert isinstance(workload, str) and workload.isprintable() and 0 < len(workload) <= MAX_WORKLOAD_LENGTH
    if workload[:7].lower() == "spiffe:":
        assert reference_trust_domain(workload) is not None, workload
    if issuer.workload_trust_domains is not None:
        assert reference_trust_domain(workload) in issuer.workload_trust_domains, workload


def _check_pattern(workload: str, pattern: str) -> None:
    allowed = workload_allowed(workload, [pattern])
    if not pattern.endswith("/*"):
        assert allowed == (workload == pattern)
        return
    base = pattern[:-2].split("/")
    parts = workload.split("/")
    below = parts[: len(base)] == base and len(parts) > len(base)
    clean = not {"", ".", ".."}.intersection(parts[len(base) :])
    assert allowed == (below and clean), (workload, pattern)


def test_one_input(data: bytes) -> None:
    """Check one SPIFFE ID, workload claim or workload pattern."""
    if not data:
        return
    mode, rest = data[0] % 3, data[1:]
    if mode == 0:
        value = rest.decode("utf-8", "replace")
        assert spiffe_trust_domain(value) == reference_trust_domain(value), value
    elif mode == 1:
        _check_workload(*split(rest, 2))
    else:
        workload, pattern = split(rest, 2)
        _check_pattern(workload.decode("utf-8", "replace"), pattern.decode("utf-8", "replace"))


if __name__ == "__main__":
    fuzz(test_one_input)
