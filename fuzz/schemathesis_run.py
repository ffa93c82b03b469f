"""Run schemathesis against the example project's OpenAPI schema, with six kinds of credential.

    python -m fuzz.schemathesis_run [--max-examples N] [--seed N] [--only NAME,…] [--keep DIR]

Starts the example project on a free loopback port (its own SQLite database and development keys
in a temporary directory, its issuer rows made by ``demo_setup``), serves its schema with
drf-spectacular (``fuzz/schemathesis_settings.py``), then runs ``schemathesis run`` once per
credential: a valid token of the demo's issuer with every scope, one with none, the first with a broken
signature, a garbage token, none, and whatever schemathesis generates for the schema's bearer
scheme. Checks: ``not_a_server_error`` and ``bearer_challenge``
(``fuzz/schemathesis_checks.py``). Prints one summary line per run; exits non-zero on a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "example_project" / "manage.py"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
SCOPES = "documents:read documents:write admin files:read"
GENERATED = "generated"
_MINT = "from example_project.demo.dev_issuer import mint; print(mint(scope={!r}, lifetime=3600))"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, str(MANAGE), *args], env=env,  # noqa: S603 - our own command
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode:
        raise SystemExit(f"manage.py {args[0]} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _wait(url: str, server: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the example project stopped before it answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our loopback URL
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer 200 within {seconds} s")


def _broken_signature(token: str) -> str:
    head, _, signature = token.rpartition(".")
    # A middle character changed: still canonical base64url, no longer the issuer's signature.
    middle = len(signature) // 2
    return f"{head}.{signature[:middle]}{'A' if signature[middle] != 'A' else 'B'}{signature[middle + 1:]}"


def _run(name: str, schema_url: str, header: str | None, *, args: argparse.Namespace, report: Path,
         env: dict[str, str]) -> tuple[bool, dict[str, object]]:
    command = [str(SCHEMATHESIS), "run", schema_url, "--checks", "not_a_server_error,bearer_challenge",
               "--max-examples", str(args.max_examples), "--seed", str(args.seed), "--workers", "1",
               "--report", "ndjson", "--report-ndjson-path", str(report), "--no-color",
               "--generation-database", "none"]
    if header == GENERATED:
        # schemathesis writes the Authorization header itself, from the schema's bearer scheme.
        command += ["--generation-with-security-parameters", "true"]
    else:
        command += ["--generation-with-security-parameters", "false"]
        if header is not None:
            command += ["--header", f"Authorization:{header}"]
    done = subprocess.run(command, env={**env, "SCHEMATHESIS_HOOKS": "fuzz.schemathesis_checks"},  # noqa: S603
                          capture_output=True, text=True, check=False)
    (report.parent / f"{name}.log").write_text(done.stdout + done.stderr)
    return done.returncode == 0, _summary(report)


def _summary(report: Path) -> dict[str, object]:
    operations: set[str] = set()
    cases = 0
    statuses: dict[int, int] = {}
    for line in report.read_text().splitlines():
        event = json.loads(line)
        scenario = event.get("ScenarioFinished")
        if not scenario:
            continue
        recorder = scenario.get("recorder", {})
        label = recorder.get("label", "")
        if " /" in label:  # "GET /api/whoami/"; the stateful phase's scenarios are not operations
            operations.add(label)
        cases += len(recorder.get("cases", {}))
        for interaction in recorder.get("interactions", {}).values():
            response = interaction.get("response") or {}
            code = int(response.get("status_code", 0))
            statuses[code] = statuses.get(code, 0) + 1
    return {"operations": len(operations), "cases": cases, "statuses": dict(sorted(statuses.items()))}


def main() -> int:
    """Start the example project, run schemathesis four times, print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=100, help="examples per operation and phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the reports and logs in this directory")
    parser.add_argument("--only", help="comma-separated credentials to run (default: all six)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bg-schemathesis-") as temporary:
        work = Path(temporary)
        out = args.keep or work / "reports"
        out.mkdir(parents=True, exist_ok=True)
        addr = f"127.0.0.1:{_free_port()}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "fuzz.schemathesis_settings",
               "BG_DEMO_ADDR": addr, "BG_DEMO_DB": str(work / "db.sqlite3"), "BG_DEMO_KEYS": str(work / "keys")}
        _manage(env, "migrate", "--verbosity", "0")
        _manage(env, "demo_setup")
        command = [sys.executable, str(MANAGE), "runserver", "--noreload", "--skip-checks", addr]
        log = (out / "server.log").open("wb")
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            schema_url = f"http://{addr}/api/schema/?format=json"
            _wait(schema_url, server)
            token, scopeless = (_manage(env, "shell", "--no-imports", "--command", _MINT.format(scope))
                                .strip().splitlines()[-1] for scope in (SCOPES, ""))
            variants = {
                "valid-token": f"Bearer {token}",
                "no-scopes": f"Bearer {scopeless}",
                "bad-signature": f"Bearer {_broken_signature(token)}",
                "garbage-token": "Bearer not-a-token",
                "no-token": None,
                "generated": GENERATED,
            }
            ok = True
            print(f"{'credential':<14} {'result':<7} {'operations':>10} {'cases':>6}  statuses")
            chosen = args.only.split(",") if args.only else list(variants)
            for name in chosen:
                header = variants[name]
                passed, summary = _run(name, schema_url, header, args=args, report=out / f"{name}.ndjson", env=env)
                ok &= passed
                print(f"{name:<14} {'passed' if passed else 'FAILED':<7} {summary['operations']:>10} "
                      f"{summary['cases']:>6}  {summary['statuses']}")
                if not passed:
                    print(f"  see {out / (name + '.log')}")
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
