"""Benchmark: the bench project under gunicorn (2 sync workers), loaded by wrk on 127.0.0.1.

    python bench/bench_gunicorn.py [--quick] [--rounds 6] [--seconds 2] [--json FILE]

One short wrk run (``-t2 -c8``) per variant of bench.common.variants() and round, the variants in
round-robin order. Distinct tokens come from a file of pre-minted tokens that bench/tokens.lua
cycles through; the file holds 2.5 times TOKEN_CACHE_SIZE, so that neither worker sees a token
again before it has left its cache. The variants with the token cache off are served by a
second gunicorn whose settings say ``TOKEN_CACHE_SIZE: 0``. Keys come from a LocalIssuer in
this process, fetched by each worker over HTTP. Prints requests/s (medians) and ratios, and the
same ratios from the workers' CPU time per request (/proc/<pid>/stat), which other work on the
machine disturbs far less.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    Gunicorn,
    Tokens,
    Variant,
    arguments,
    environment,
    guard_settings,
    http_get,
    make_issuer,
    paired_ratio,
    parse,
    project_config,
    save,
    setting_accepted,
    setup_django,
    token_cache_size,
    variants,
    wrk,
)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], rounds=(6, 1), seconds=(2, 1))
    args = parse(parser)
    idp = make_issuer()
    project = project_config(idp)
    setup_django(project)  # for the system checks: is TOKEN_CACHE_SIZE known?
    cache_off = setting_accepted("TOKEN_CACHE_SIZE", 0)
    chosen = variants(cache_off=cache_off)
    pool = int(token_cache_size() * 2.5) // 2 * 2  # even: each of the 2 wrk threads takes every other token
    tokens = Tokens(idp, pool)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        files = {}
        for alg, minted in tokens.pools.items():
            files[alg] = directory / f"tokens-{alg}.txt"
            files[alg].write_text("\n".join(minted) + "\n")
        servers = {False: Gunicorn(project, directory)}
        try:
            if cache_off:
                uncached = project_config(idp, guard=guard_settings(idp, TOKEN_CACHE_SIZE=0))
                servers[True] = Gunicorn(uncached, directory)
            samples, cpu = measure(chosen, servers, tokens, files, rounds=args.rounds, seconds=args.seconds)
        finally:
            for server in servers.values():
                server.stop()
    idp.stop()

    per_second = {key: statistics.median(values) for key, values in samples.items()}
    results: dict[str, Any] = {
        "environment": environment(), "rounds": args.rounds, "seconds": args.seconds,
        "cache_off_supported": cache_off, "per_second": per_second, "samples": samples,
        "labels": {v.key: v.label for v in chosen},
        "ratio": {base: {key: paired_ratio(samples, key, base) for key in samples} for base in ("noauth", "noop")},
        # The same ratios from the workers' CPU time per request: what the throughput ratio would be
        # with the cores to themselves, and several times steadier on a shared machine.
        "cpu_us": {key: statistics.median(values) for key, values in cpu.items()}, "cpu_samples": cpu,
        "cpu_ratio": {base: {key: paired_ratio(cpu, key, base, times=True) for key in cpu}
                      for base in ("noauth", "noop")},
    }
    print(f"\ngunicorn, 2 sync workers, wrk -t2 -c8 -d{args.seconds}s on 127.0.0.1, medians of {args.rounds} "
          f"interleaved rounds, {environment()['cores']} cores (shared with wrk); ratios within each round, "
          "then their median")
    print(f"  {'':42s} {'req/s':>8s}  {'/no auth':>8s} {'/no-op':>7s}   {'CPU µs/req':>10s}  {'/no auth':>8s} "
          f"{'/no-op':>7s}")
    for variant in chosen:
        key = variant.key
        print(f"  {variant.label:42s} {per_second[key]:8.0f}  {results['ratio']['noauth'][key]:7.2f}x "
              f"{results['ratio']['noop'][key]:6.2f}x   {results['cpu_us'][key]:10.0f}  "
              f"{results['cpu_ratio']['noauth'][key]:7.2f}x {results['cpu_ratio']['noop'][key]:6.2f}x")
    print("  (CPU ratios: the workers' CPU time per request of the baseline over the variant's)")
    if not cache_off:
        print("TOKEN_CACHE_SIZE is refused by the system checks: the cache-off variants are n/a")
    save(args.json, results)


def measure(chosen: list[Variant], servers: dict[bool, Gunicorn], tokens: Tokens, files: dict[str, Path], *,
            rounds: int, seconds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Requests/s of each wrk run and the workers' CPU µs per request, per variant, round-robin in each round."""
    for variant in chosen:
        server = servers[variant.cache_off]
        for _ in range(4 * server.workers):  # both workers: Django loaded, keys fetched
            header = {"Authorization": f"Bearer {tokens.same[variant.alg]}"}
            status, _ = http_get(server.address, variant.path, header)
            if status != 200:
                raise RuntimeError(f"{variant.key}: {status}")
    samples: dict[str, list[float]] = {variant.key: [] for variant in chosen}
    cpu: dict[str, list[float]] = {variant.key: [] for variant in chosen}
    start = dict.fromkeys(files, 0)
    for _ in range(rounds):
        for variant in chosen:
            server = servers[variant.cache_off]
            url = server.url(variant.path)
            used = server.cpu_seconds()
            if variant.distinct:
                run = wrk(url, seconds=seconds, tokens=files[variant.alg], start=start[variant.alg])
                # The next run starts after this run's tokens, which the workers may still hold.
                start[variant.alg] = (start[variant.alg] + run.requests + 16) % len(tokens.pools[variant.alg])
            else:
                run = wrk(url, seconds=seconds, header=f"Authorization: Bearer {tokens.same[variant.alg]}")
            samples[variant.key].append(run.per_second)
            cpu[variant.key].append((server.cpu_seconds() - used) / run.requests * 1e6)
    return samples, cpu


if __name__ == "__main__":
    main()
