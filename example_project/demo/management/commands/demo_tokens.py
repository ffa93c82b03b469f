"""Print ready-to-paste curl commands with fresh tokens of the development issuer."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from example_project.demo.dev_issuer import mint


@dataclass
class Call:
    """One request of the demo and the status it should get."""

    title: str
    path: str
    expect: list[int]
    token: str | None = None
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    path_as_is: bool = False

    def curl(self, origin: str) -> str:
        """The request as a curl command line."""
        words = ["curl", "-sS", "-i"]
        if self.path_as_is:
            words.append("--path-as-is")
        if self.method != "GET":
            words += ["-X", self.method]
        if self.token:
            words += ["-H", f"Authorization: Bearer {self.token}"]
        for name, value in self.headers.items():
            words += ["-H", f"{name}: {value}"]
        if self.body is not None:
            words += ["--data", self.body]
        words.append(origin + self.path)
        return shlex.join(words)


def demo_calls() -> list[Call]:
    """The demo requests, each with a freshly minted token."""
    reader = mint(sub="reporting-service", scope="files:read documents:read")
    writer = mint(sub="reporting-service", scope="documents:read documents:write")
    json_body = {"Content-Type": "application/json"}
    return [
        Call("Valid token: 200 with the token's claims", "/api/whoami/", [200], reader),
        Call("Valid ES256 token: 200", "/api/whoami/", [200], mint(alg="ES256", scope="files:read")),
        Call("No token: 401 with a bare Bearer challenge", "/api/whoami/", [401]),
        Call("Expired token: 401 invalid_token", "/api/whoami/", [401], mint(issued_ago=3600)),
        Call(
            "Token for another audience: 401 invalid_token",
            "/api/whoami/",
            [401],
            mint(audience="https://other-api.example.test"),
        ),
        Call("Without the admin scope: 403 insufficient_scope", "/api/admin-only/", [403], reader),
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


class Command(BaseCommand):
    help = "Print curl commands with fresh tokens of the development issuer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--origin", default=settings.DEMO_ORIGIN, help="Where the demo server listens.")
        parser.add_argument("--json", action="store_true", help="Print the calls as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        calls = demo_calls()
        origin = options["origin"].rstrip("/")
        if options["json"]:
            self.stdout.write(json.dumps([asdict(call) for call in calls], indent=2))
            return
        self.stdout.write(f"# Tokens of the development issuer {settings.DEMO_ISSUER}, valid 10 minutes.\n")
        for call in calls:
            expect = " or ".join(str(status) for status in call.expect)
            self.stdout.write(f"# {call.title} (expect {expect})")
            self.stdout.write(call.curl(origin) + "\n")
