"""``manage.py bearer_guard_check_token``: why a token is accepted or refused, step by step."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_bearer_guard.checker import Verdict, check_token
from django_bearer_guard.management.terminal import printable

__all__ = ["Command"]

# Far beyond MAX_TOKEN_BYTES: enough to say "too large" without reading an endless pipe.
_STDIN_LIMIT = 2 * 1024 * 1024
_MARKS = {True: "✓", False: "✗", None: "·"}
_ASCII_MARKS = {True: "+", False: "x", None: "-"}


def _document(title: str, value: dict[str, Any] | None) -> list[str]:
    if value is None:
        return [f"{title}: not decodable"]
    body = json.dumps(value, indent=2, ensure_ascii=False)
    return [f"{title}:", *("  " + line for line in body.splitlines())]


def _render(verdict: Verdict, marks: dict[bool | None, str]) -> str:
    if verdict.accepted:
        lines = ["Accepted."]
    else:
        lines = [f"Refused: {verdict.error}. The client is told: {verdict.description!r}"]
    width = max(len(step.name) for step in verdict.steps)
    lines.append("")
    for step in verdict.steps:
        lines.append(f"  {marks[step.ok]} {step.name:<{width}}  {step.detail}")
        if step.hint:
            lines.append(f"    {'':<{width}}  hint: {step.hint}")
    lines.append("")
    if verdict.accepted:
        lines.append(f"Scopes: {' '.join(verdict.scopes) or 'none'}")
        lines.append(f"Workload: {verdict.workload if verdict.workload is not None else 'none'}")
        note = ""
    elif any(step.name == "signature" and step.ok for step in verdict.steps):
        note = " (signature verified, but the token was refused)"
    else:
        note = " (not verified: the token was refused)"
    lines += _document("Header" + note, verdict.header)
    lines += _document("Claims" + note, verdict.claims)
    return printable("\n".join(lines))


class Command(BaseCommand):
    """Check a token as the API would and print the verdict, step by step.

    The token comes from the argument, or from standard input with ``-``. Exits with 0 when
    the token is accepted, 1 when it is refused and 2 on a usage error. The token is neither
    logged nor stored; key material and secrets are never printed.
    """

    help = (
        "Check a bearer token as the API would and print each step of the verdict. "
        "Exit status: 0 accepted, 1 refused, 2 usage error."
    )
    stealth_options = ("stdin",)
    # The verdict reports the settings' errors itself; warnings would only crowd stderr.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("token", nargs="?", metavar="TOKEN|-", help="The token, or - to read it from stdin.")
        parser.add_argument("--json", action="store_true", help="Print the verdict as JSON.")
        parser.add_argument(
            "--path", metavar="PATH", help="Also check the scopes the view routed at PATH requires for GET."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        raw = self._read_token(options.get("token"), options.get("stdin") or sys.stdin.buffer)
        verdict = check_token(raw, view_path=options.get("path"))
        if options.get("json"):
            self.stdout.write(json.dumps(verdict.to_dict(), indent=2))
        else:
            self.stdout.write(self._encodable(_render(verdict, self._marks())))
        if not verdict.accepted:
            raise CommandError(f"The token is refused: {verdict.error}.", returncode=1)

    def _read_token(self, argument: str | None, stdin: IO[bytes]) -> str:
        if argument == "-":
            # Bytes, decoded leniently: garbage on stdin is a refused token, not a traceback.
            argument = stdin.read(_STDIN_LIMIT).decode("utf-8", "replace")
        if argument is None or not argument.strip():
            raise CommandError("Give a token, or - to read one from stdin.", returncode=2)
        return argument.strip()

    def _encoding(self) -> str:
        return getattr(self.stdout, "encoding", None) or "utf-8"

    def _marks(self) -> dict[bool | None, str]:
        try:
            "".join(_MARKS.values()).encode(self._encoding())
        except UnicodeEncodeError:
            return _ASCII_MARKS
        return _MARKS

    def _encodable(self, text: str) -> str:
        # A terminal that cannot show a character gets its escape, never a UnicodeEncodeError.
        return text.encode(self._encoding(), "backslashreplace").decode(self._encoding())
