from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_bearer_guard.identity.transport import MalformedXfcc, XfccElement, certificate_from_pem, parse_xfcc
from django_bearer_guard.testing.certificates import WorkloadCA, xfcc_header

CA = WorkloadCA("Property test CA")
HEX = "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688"
PIECES = [
    "By", "Hash", "Cert", "Chain", "Subject", "URI", "DNS", "by", "uri", "Foo",
    "=", ";", ",", '"', "\\", '\\"', "\\\\", " ", "\t", "\x00", "\x85", "\r\n",
    "%0A", "%2", "%zz", "spiffe://example.org/a", HEX, HEX.upper(), "a", "é",
    "-----BEGIN%20CERTIFICATE-----", "-----END%20CERTIFICATE-----",
]  # fmt: skip
PLAIN = re.compile(r'[^,;="\s\x00-\x1f\x7f-\x9f]*')
# Characters a quoted value may hold (no controls); surrogates cannot reach a header.
VALUE_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20)
ELEMENT = CA.issue("spiffe://example.org/ns/prod/sa/billing", dns=["billing.example.org"]).xfcc(
    by="spiffe://example.org/gw", subject=True
)
SEGMENT = st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..")
)
SPIFFE_IDS = st.lists(SEGMENT, min_size=1, max_size=4).map(lambda parts: "spiffe://example.org/" + "/".join(parts))


def parses_or_refuses(value: str) -> tuple[XfccElement, ...] | None:
    try:
        return parse_xfcc(value)
    except MalformedXfcc:
        return None


@given(st.text(max_size=300))
def test_parse_xfcc_raises_only_malformed_xfcc_on_any_text(value: str) -> None:
    result = parses_or_refuses(value)
    assert result is None or all(isinstance(element, XfccElement) for element in result)


@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_parse_xfcc_raises_only_malformed_xfcc_on_grammar_pieces(value: str) -> None:
    result = parses_or_refuses(value)
    assert result is None or 1 <= len(result) <= value.count(",") + 1


def serialise(value: str, quoted: bool) -> str:
    if quoted or not PLAIN.fullmatch(value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


@st.composite
def elements(draw: st.DrawFn) -> tuple[str, XfccElement]:
    by = draw(st.lists(VALUE_TEXT, max_size=3))
    uri = draw(st.lists(VALUE_TEXT, max_size=3))
    dns = draw(st.lists(VALUE_TEXT, max_size=3))
    subject = draw(st.none() | st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20))
    digest = draw(st.none() | st.sampled_from([HEX, HEX.upper()]))
    pairs = [(draw(st.sampled_from(["By", "by", "BY"])), v) for v in by]
    pairs += [(draw(st.sampled_from(["URI", "uri"])), v) for v in uri]
    pairs += [(draw(st.sampled_from(["DNS", "dns"])), v) for v in dns]
    pairs += [] if subject is None else [("Subject", subject)]
    pairs += [] if digest is None else [("Hash", digest)]
    if not pairs:
        pairs, by = [("By", "x")], ["x"]
    order = draw(st.permutations(pairs))
    text = ";".join(f"{key}={serialise(value, draw(st.booleans()))}" for key, value in order)
    expected = XfccElement(
        by=tuple(v for k, v in order if k.lower() == "by"),
        hash=None if digest is None else digest.lower(),
        cert=None,
        chain=None,
        subject=subject,
        uri=tuple(v for k, v in order if k.lower() == "uri"),
        dns=tuple(v for k, v in order if k.lower() == "dns"),
    )
    return text, expected


@given(st.lists(elements(), min_size=1, max_size=4))
def test_parse_xfcc_reads_back_what_envoy_quoting_writes(made: list[tuple[str, XfccElement]]) -> None:
    header = ",".join(text for text, _ in made)
    assert parse_xfcc(header) == tuple(expected for _, expected in made)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spiffe_id=st.none() | SPIFFE_IDS,
    by=st.none() | VALUE_TEXT,
    flags=st.fixed_dictionaries({"hash": st.booleans(), "uri": st.booleans(), "subject": st.booleans()}),
    injected=st.lists(SPIFFE_IDS, max_size=2),
)
def test_workload_certificate_xfcc_parses_back_to_the_same_certificate(
    spiffe_id: str | None, by: str | None, flags: dict[str, bool], injected: list[str]
) -> None:
    workload = CA.issue(spiffe_id)
    # Elements a client might put before the proxy's do not change the last one.
    header = xfcc_header(*(f"URI={uri}" for uri in injected), workload.xfcc(by=by, **flags))
    last = parse_xfcc(header)[-1]
    assert last.cert == workload.pem
    assert certificate_from_pem(last.cert) is not None
    assert last.hash == (workload.sha256_hex if flags["hash"] else None)
    assert last.uri == (((spiffe_id,) if spiffe_id else ()) if flags["uri"] else ())
    assert last.by == ((by,) if by else ())
    assert last.subject == (workload.certificate.subject.rfc4514_string() if flags["subject"] else None)


@given(st.integers(min_value=0), st.lists(st.sampled_from(PIECES), min_size=1, max_size=3).map("".join))
def test_parse_xfcc_raises_only_malformed_xfcc_on_a_damaged_element(position: int, piece: str) -> None:
    cut = position % (len(ELEMENT) + 1)
    value = ELEMENT[:cut] + piece + ELEMENT[cut:]
    result = parses_or_refuses(value)
    assert result is None or len(result) >= 1
