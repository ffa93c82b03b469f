"""Benchmark: ProtectedFileView against a bare Django FileResponse view under gunicorn (2 sync workers).

    python bench/bench_files.py [--quick] [--rounds 5] [--small 200] [--json FILE]

The bench project (bench.urls) serves a 256 MiB file through the view and through the bare
view, from a FileSystemStorage (the file has a ``fileno``: gunicorn sends it with sendfile) and
from a storage whose files have none (tests.files.storages.StreamingFileStorage: the view
streams it in blocks, FileResponse in its default 4 KiB). The downloads, and 1 KiB requests,
run in interleaved rounds; a client on 127.0.0.1 reads each whole body. Prints medians and
ratios. Then, on a fresh server, the workers' peak RSS (VmHWM) after a few small requests and
after 1 GiB more has gone through the view. Tokens come from a LocalIssuer in this process.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    MIB,
    Gunicorn,
    arguments,
    environment,
    http_get,
    make_issuer,
    paired_ratio,
    parse,
    project_config,
    save,
)

SIZE = 256 * MIB
LARGE = {
    "view, sendfile": "/files/big.bin",
    "bare, sendfile": "/bare/big.bin",
    "view, no fileno": "/stream/big.bin",
    "bare, no fileno": "/bare-stream/big.bin",
}
SMALL = {
    "view, 1 KiB": "/files/small.bin",
    "view without authentication, 1 KiB": "/open/small.bin",
    "bare, 1 KiB": "/bare/small.bin",
}


def timed(server: Gunicorn, target: str, headers: dict[str, str], expected: int) -> float:
    started = time.perf_counter()
    status, size = http_get(server.address, target, headers)
    elapsed = time.perf_counter() - started
    if status != 200 or size != expected:
        raise RuntimeError(f"{target}: HTTP {status}, {size} bytes, expected {expected}")
    return elapsed


def peak_growth(project: dict[str, Any], directory: Path, headers: dict[str, str]) -> dict[str, Any]:
    """Peak RSS of each worker of a fresh server, warmed by small requests, before and after 1 GiB through the view."""
    server = Gunicorn(project, directory)
    try:
        for _ in range(20):
            for target in ("/files/small.bin", "/stream/small.bin"):
                timed(server, target, headers, 1024)
        before = server.peak_rss_kib()
        for _ in range(2):
            for target in ("/files/big.bin", "/stream/big.bin"):
                timed(server, target, headers, SIZE)
        after = server.peak_rss_kib()
    finally:
        server.stop()
    growth = {pid: (after[pid] - before[pid]) / 1024 for pid in before}
    return {"before_mib": {str(pid): kib / 1024 for pid, kib in before.items()},
            "growth_mib": {str(pid): mib for pid, mib in growth.items()}, "max_growth_mib": max(growth.values())}


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], rounds=(5, 2), small=(200, 20))
    args = parse(parser)
    idp = make_issuer()
    token = idp.mint(alg="RS256", scope="files:read", lifetime=3600)
    headers = {"Authorization": f"Bearer {token}"}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        public = directory / "files" / "public"
        public.mkdir(parents=True)
        with open(public / "big.bin", "wb") as big:
            for _ in range(SIZE // MIB):
                big.write(os.urandom(MIB))
        (public / "small.bin").write_bytes(os.urandom(1024))
        project = project_config(idp, files=str(directory / "files"))
        server = Gunicorn(project, directory)
        try:
            for target in [*LARGE.values(), *SMALL.values()]:  # warm up both workers and the page cache
                for _ in range(2):
                    timed(server, target, headers, SIZE if target.endswith("big.bin") else 1024)
            seconds: dict[str, list[float]] = {name: [] for name in [*LARGE, *SMALL]}
            for _ in range(args.rounds):
                for name, target in LARGE.items():
                    seconds[name].append(timed(server, target, headers, SIZE))
                for _ in range(args.small):
                    for name, target in SMALL.items():
                        seconds[name].append(timed(server, target, headers, 1024))
        finally:
            server.stop()
        memory = peak_growth(project, directory, headers)
    idp.stop()

    median = {name: statistics.median(values) for name, values in seconds.items()}
    throughput = {name: SIZE / MIB / median[name] for name in LARGE}
    # Throughput of the view over the bare view's, within each round (the times' inverse ratio).
    ratios = {kind: paired_ratio(seconds, f"view, {kind}", f"bare, {kind}", times=True)
              for kind in ("sendfile", "no fileno")}
    print(f"\nfile view under gunicorn (2 sync workers), 256 MiB downloads, medians of {args.rounds} "
          f"interleaved rounds, {environment()['cores']} cores")
    for name, value in throughput.items():
        print(f"  {name:36s} {value:8.0f} MiB/s")
    for name in SMALL:
        print(f"  {name:36s} {median[name] * 1e6:8.0f} µs/request")
    for name, value in ratios.items():
        print(f"  view/bare, {name:25s} {value:8.2f}x")
    print(f"  1 KiB: the view adds {(median['view, 1 KiB'] - median['bare, 1 KiB']) * 1e6:.0f} µs/request, "
          f"{(median['view without authentication, 1 KiB'] - median['bare, 1 KiB']) * 1e6:.0f} µs without "
          "token validation")
    print("  worker peak RSS growth over 1 GiB through the view: "
          + ", ".join(f"{mib:.1f} MiB" for mib in memory["growth_mib"].values()))
    save(args.json, {"environment": environment(), "rounds": args.rounds, "throughput_mib_s": throughput,
                     "small_us": {name: median[name] * 1e6 for name in SMALL}, "ratios": ratios, "memory": memory,
                     "samples_s": {name: seconds[name] for name in LARGE}})


if __name__ == "__main__":
    main()
