"""Print ready-to-paste curl commands with fresh tokens of the development issuer.

The first calls send plain Bearer tokens. The bound ones follow: a workload-bound token with the
header a trusted proxy adds for the caller's client certificate, and a DPoP-bound token with a
proof that ``demo_dpop_proof`` signs when the line runs (a proof is good for a minute, and once).
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from example_project.demo.dev_clients import SVC_A, SVC_B, dpop_jkt, xfcc_file
from example_project.demo.dev_issuer import issuer_of, mint

# What a DPoP call sends: the token and the proof are the shell variables its first lines set.
_DPOP_HEADERS = '-H "Authorization: DPoP $T" -H "DPoP: $P"'


@dataclass
class Call:
    """One request of the demo and the status it should get.

    ``source`` is the local address curl connects from (``--interface``) and ``header_file`` a file
    of header lines it adds (``-H @file``). ``proof`` is ``"fresh"`` for a DPoP call that sets ``$T``
    to its token and ``$P`` to a new proof before the request, ``"again"`` for one that sends the
    ``$T`` and ``$P`` of the call before it.
    """

    title: str
    path: str
    expect: list[int]
    token: str | None = None
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    path_as_is: bool = False
    source: str | None = None
    header_file: str | None = None
    proof: str | None = None

    def curl(self, origin: str) -> str:
        """The request as a curl command line."""
        words = ["curl", "-sS", "-i"]
        if self.path_as_is:
            words.append("--path-as-is")
        if self.source:
            words += ["--interface", self.source]
        if self.method != "GET":
            words += ["-X", self.method]
        if self.header_file:
            words += ["-H", f"@{self.header_file}"]
        if self.token and not self.proof:
            words += ["-H", f"Authorization: Bearer {self.token}"]
        for name, value in self.headers.items():
            words += ["-H", f"{name}: {value}"]
        if self.body is not None:
            words += ["--data", self.body]
        if self.proof:
            return f"{shlex.join(words)} {_DPOP_HEADERS} {shlex.quote(origin + self.path)}"
        words.append(origin + self.path)
        return shlex.join(words)

    def lines(self, origin: str) -> list[str]:
        """The shell lines that make the request: the curl, after the proof's lines for a fresh proof."""
        if self.proof != "fresh":
            return [self.curl(origin)]
        assert self.token
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py"), "demo_dpop_proof"]
        proof = shlex.join([*manage, self.method, origin + self.path])
        return [f"T={shlex.quote(self.token)}", f'P=$({proof} --token "$T")', self.curl(origin)]


def demo_calls() -> list[Call]:
    """The demo requests, each with a freshly minted token."""
    reader = mint(sub="reporting-service", scope="files:read documents:read")
    writer = mint(sub="reporting-service", scope="documents:read documents:write")
    json_body = {"Content-Type": "application/json"}
    return [
        Call("Valid token: 200 with the token's claims", "/api/whoami/", [200], reader),
        Call("Valid ES256 token: 200", "/api/whoami/", [200], mint(alg="ES256", scope="files:read")),
        Call(
            "No token: 401 missing_token, a challenge without error code naming the resource metadata",
            "/api/whoami/",
            [401],
        ),
        Call(
            "Protected resource metadata (RFC 9728), no token needed: 200",
            "/.well-known/oauth-protected-resource",
            [200],
        ),
        Call("Expired token: 401 invalid_token", "/api/whoami/", [401], mint(issued_ago=3600)),
        Call(
            "Token for another audience: 401 invalid_token",
            "/api/whoami/",
            [401],
            mint(audience="https://other-api.example.test"),
        ),
        Call(
            "RFC 9068 profile: a token without client_id: 401 invalid_token",
            "/api/whoami/",
            [401],
            mint(scope="files:read", client_id=False),
        ),
        Call("Without the admin scope: 403 insufficient_scope", "/api/admin-only/", [403], reader),
        Call(
            "Step-up (RFC 9470), no acr: 401 insufficient_user_authentication with acr_values and max_age",
            "/api/step-up/",
            [401],
            reader,
        ),
        Call(
            "Step-up with acr silver, signed in a minute ago: 200",
            "/api/step-up/",
            [200],
            mint(acr="urn:mace:incommon:iap:silver", auth_age=60),
        ),
        Call(
            "Step-up with acr silver, signed in an hour ago: 401 with max_age",
            "/api/step-up/",
            [401],
            mint(acr="urn:mace:incommon:iap:silver", auth_age=3600),
        ),
        Call("With the admin scope: 200", "/api/admin-only/", [200], mint(scope="admin")),
        Call("List documents with documents:read: 200", "/api/documents/", [200], reader),
        Call(
            "Create a document without documents:write: 403",
            "/api/documents/",
            [403],
            reader,
            method="POST",
            headers=json_body,
            body=json.dumps({"title": "Denied"}),
        ),
        Call(
            "Create a document with documents:write: 201",
            "/api/documents/",
            [201],
            writer,
            method="POST",
            headers=json_body,
            body=json.dumps({"title": "Hello", "body": "Written with a scoped token."}),
        ),
        Call("Download a public file: 200", "/files/public/readme.txt", [200], reader),
        Call("Download the workload's own file: 200", "/files/mine/report.txt", [200], reader),
        Call(
            "Range request: 206 with the first ten bytes",
            "/files/public/readme.txt",
            [206],
            reader,
            headers={"Range": "bytes=0-9"},
        ),
        Call(
            "Path traversal out of the root: 400 or 404, never the file",
            "/files/public/../secret.txt",
            [400, 404],
            reader,
            path_as_is=True,
        ),
        Call(
            "Encoded traversal: 400 or 404",
            "/files/public/%2e%2e/secret.txt",
            [400, 404],
            reader,
            path_as_is=True,
        ),
    ]


def bound_calls() -> list[Call]:
    """The demo requests with bound tokens, each accepted only with what it is bound to."""
    workload = mint(binding="workload", sub=SVC_A, scope="files:read")
    dpop = mint(binding="dpop", sub="dpop-client", scope="files:read", alg="ES256", cnf={"jkt": dpop_jkt()})
    proxy, svc_a, svc_b = settings.DEMO_PROXY_ADDR, str(xfcc_file(SVC_A)), str(xfcc_file(SVC_B))
    return [
        Call(
            "Workload-bound token of svc-a, with svc-a's certificate from the proxy: 200",
            "/api/whoami/",
            [200],
            workload,
            source=proxy,
            header_file=svc_a,
        ),
        Call(
            "The same token with svc-b's certificate, a replay by another workload: 401 invalid_token",
            "/api/whoami/",
            [401],
            workload,
            source=proxy,
            header_file=svc_b,
        ),
        Call(
            "svc-a's certificate header from 127.0.0.1, not the proxy, is ignored: 401 invalid_token",
            "/api/whoami/",
            [401],
            workload,
            header_file=svc_a,
        ),
        Call("DPoP-bound token sent as Bearer: 401 invalid_token", "/api/whoami/", [401], dpop),
        Call("DPoP-bound token with a fresh proof: 200", "/api/whoami/", [200], dpop, proof="fresh"),
        Call("The same proof again, a replay: 401 invalid_dpop_proof", "/api/whoami/", [401], dpop, proof="again"),
    ]


class Command(BaseCommand):
    help = "Print curl commands with fresh tokens of the development issuer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--origin", default=settings.DEMO_ORIGIN, help="Where the demo server listens.")
        parser.add_argument("--json", action="store_true", help="Print the calls as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        calls, bound = demo_calls(), bound_calls()
        origin = options["origin"].rstrip("/")
        if options["json"]:
            # "lines" are the printed shell lines of each call, to run in order in one shell.
            entries = [(call, False) for call in calls] + [(call, True) for call in bound]
            printed = [{**asdict(call), "bound": is_bound, "lines": call.lines(origin)} for call, is_bound in entries]
            self.stdout.write(json.dumps(printed, indent=2))
            return
        self.stdout.write(f"# Tokens of the development issuer {settings.DEMO_ISSUER}, valid 10 minutes.\n")
        self._write(calls, origin)
        proxy = settings.DEMO_PROXY_ADDR
        self.stdout.write(
            f"\n# Bound tokens, of the issuers {issuer_of('workload')} and {issuer_of('dpop')}:"
            " paste these lines in order into bash or zsh.\n"
            "# The API believes X-Forwarded-Client-Cert (the client certificate a proxy verified) only from"
            f" {proxy}, the proxy's\n"
            f"# address: curl --interface {proxy} plays the proxy (on macOS, first: sudo ifconfig lo0 alias {proxy}).\n"
            "# A DPoP proof names its request and is good once, within a minute: the lines sign one as they run.\n"
        )
        self._write(bound, origin)

    def _write(self, calls: list[Call], origin: str) -> None:
        for call in calls:
            expect = " or ".join(str(status) for status in call.expect)
            self.stdout.write(f"# {call.title} (expect {expect})")
            self.stdout.write("\n".join(call.lines(origin)) + "\n")
