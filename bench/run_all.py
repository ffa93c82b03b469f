"""Run every benchmark, one after the other, and print the targets and tables of the run.

    python bench/run_all.py [--quick] [--write-docs] [--only SECTION ...] [--save FILE | --load FILE]

Each benchmark runs in its own process (its own Django settings) and hands its numbers back as
JSON: bench_auth.py (authenticate()), bench_inprocess.py (test client, WSGI), bench_gunicorn.py
(gunicorn + wrk), bench_jwks.py (JWKS fetch CPU, refresh-ahead), bench_files.py (file view).
A full run takes about ten minutes, ``--quick`` about two. ``--write-docs`` rewrites the
results block of docs/performance.rst and docs/_static/performance.png. A benchmark that fails
is reported, the others still run, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import report
from bench.common import BENCH, ROOT

SECTIONS = {
    "authenticate": "bench_auth.py",
    "inprocess": "bench_inprocess.py",
    "gunicorn": "bench_gunicorn.py",
    "jwks": "bench_jwks.py",
    "files": "bench_files.py",
}


def run(section: str, directory: Path, quick: bool) -> dict[str, Any] | None:
    output = directory / f"{section}.json"
    command = [sys.executable, str(BENCH / SECTIONS[section]), "--json", str(output)]
    if quick:
        command.append("--quick")
        if section == "authenticate":
            command.append("--skip-binding")
    started = time.monotonic()
    print(f"\n=== {section}: {' '.join(command[1:])}", flush=True)
    finished = subprocess.run(command, check=False)
    print(f"=== {section}: {time.monotonic() - started:.0f} s", flush=True)
    if finished.returncode != 0:
        print(f"=== {section} FAILED (exit status {finished.returncode})", flush=True)
        return None
    loaded: dict[str, Any] = json.loads(output.read_text())
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run of every benchmark")
    parser.add_argument("--write-docs", action="store_true", help="rewrite the results in docs/performance.rst")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), help="run only these benchmarks")
    parser.add_argument("--save", type=Path, help="also write every benchmark's results to this JSON file")
    parser.add_argument("--load", type=Path, help="run nothing: report the results a --save wrote")
    args = parser.parse_args()
    started = time.monotonic()
    loaded = json.loads(args.load.read_text()) if args.load else {"quick": args.quick, "sections": {}}
    results: dict[str, Any] = loaded["sections"]
    quick: bool = loaded["quick"]
    with tempfile.TemporaryDirectory() as tmp:
        for section in [] if args.load else args.only or SECTIONS:
            outcome = run(section, Path(tmp), args.quick)
            if outcome is not None:
                results[section] = outcome
    if args.save:
        args.save.write_text(json.dumps({"quick": quick, "sections": results}, indent=1))
    environment = next((r["environment"] for r in results.values() if "environment" in r), None)
    if environment is None:
        sys.exit("no benchmark finished")
    print(f"\n{'quick' if quick else 'full'} run, {environment['date']}: Python {environment['python']}, "
          f"Django {environment['django']}, {environment['cores']} cores (shared), "
          f"{time.monotonic() - started:.0f} s\n")
    for table in report.tables(results):
        print(report.text(table), end="\n\n")
    if args.write_docs:
        problem = report.chart(results, environment)
        print(problem or f"wrote {report.CHART.relative_to(ROOT)}")
        report.write_docs(results, environment, quick=quick, image=report.CHART.exists())
        print(f"wrote the results block of {report.DOCS.relative_to(ROOT)}")
    if not args.load and len(results) < len(args.only or SECTIONS):
        sys.exit(1)


if __name__ == "__main__":
    main()
