"""Benchmark: the bench project's DRF views in process, through Django's test client and a bare WSGI call.

    python bench/bench_inprocess.py [--quick] [--rounds 7] [--calls 200] [--wall] [--json FILE]
    python bench/bench_inprocess.py --profile guard-RS256-distinct   # cProfile of one variant

Every variant of bench.common.variants() (no authentication, a no-op authenticator, this
library with the same token, with distinct tokens and with its token cache off, simplejwt's
stateless authentication, a ``jwt.decode`` wrapper; RS256, ES256 and EdDSA), interleaved in
round-robin rounds, through ``django.test.Client`` and through ``WSGIHandler`` called with a
prepared environ. Prints requests per CPU second of this process (medians; ``--wall`` for wall
time) and the ratio to the view without authentication.
``--profile KEY`` instead runs one variant (a key as in the JSON results) through WSGI under
cProfile and prints where its time goes.
"""

from __future__ import annotations

import io
import statistics
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    GuardGroups,
    Tokens,
    Variant,
    arguments,
    environment,
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
    variants,
)

MODES = ("test client", "WSGI")


def through_client(variant: Variant, tokens: Iterator[str]) -> Callable[[], object]:
    from django.test import Client

    client = Client()

    def call() -> None:
        response = client.get(variant.path, headers={"Authorization": f"Bearer {next(tokens)}"})
        if response.status_code != 200:
            raise RuntimeError(f"{variant.key}: {response.status_code} {response.content[:300]!r}")

    return call


def through_wsgi(variant: Variant, tokens: Iterator[str]) -> Callable[[], object]:
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    base = {
        "REQUEST_METHOD": "GET", "PATH_INFO": variant.path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        statuses.append(status)
        return lambda data: None

    def call() -> None:
        environ = {**base, "wsgi.input": io.BytesIO(), "HTTP_AUTHORIZATION": f"Bearer {next(tokens)}"}
        response = handler(environ, start_response)
        body = b"".join(response)
        response.close()  # request_finished is sent, as by a WSGI server
        status = statuses.pop()
        if not status.startswith("200"):
            raise RuntimeError(f"{variant.key}: {status} {body[:300]!r}")

    return call


def profile(variant: Variant, tokens: Tokens, calls: int) -> None:
    """Where the time of ``calls`` WSGI requests of ``variant`` goes, by own time."""
    import cProfile
    import pstats

    call = through_wsgi(variant, tokens.stream(variant))
    GuardGroups({variant.key: {"TOKEN_CACHE_SIZE": 0}} if variant.cache_off else {})(variant.key, call)
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [call() for _ in range(calls)])
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], timed=True, rounds=(7, 3), calls=(200, 60))
    parser.add_argument("--profile", metavar="KEY", help="profile this variant instead (e.g. guard-RS256-distinct)")
    args = parse(parser)
    idp = make_issuer()
    project = project_config(idp)

    setup_django(project)
    cache_off = setting_accepted("TOKEN_CACHE_SIZE", 0)
    chosen = variants(cache_off=cache_off)
    if args.profile:
        count = 20 * args.calls
        profile(next(v for v in chosen if v.key == args.profile), Tokens(idp, count + 2), count)
        return
    # Distinct tokens come from one pool per algorithm, shared by both modes: none is sent twice.
    needed = len(MODES) * (args.rounds + 1) * args.calls + 2 * len(MODES)
    tokens = Tokens(idp, max(token_cache_size() + 1, needed))
    calls: dict[str, Callable[[], object]] = {}
    overrides: dict[str, dict[str, Any]] = {}
    for variant in chosen:
        for mode, make in zip(MODES, (through_client, through_wsgi), strict=True):
            name = f"{mode}|{variant.key}"
            calls[name] = make(variant, tokens.stream(variant))
            if variant.cache_off:
                overrides[name] = {"TOKEN_CACHE_SIZE": 0}
    samples = rounds_of(calls, args.rounds, args.calls, before=GuardGroups(overrides), timer=timer(args))
    idp.stop()

    results: dict[str, Any] = {"environment": environment(), "rounds": args.rounds, "calls": args.calls,
                               "cache_off_supported": cache_off, "labels": {v.key: v.label for v in chosen},
                               "ratio": {}, "samples_us": {}, "clock": "wall" if args.wall else "cpu"}
    print(f"\nin process: medians of {args.rounds} interleaved rounds of {args.calls} requests, "
          f"{environment()['cores']} cores; requests per {'second' if args.wall else 'CPU second'}; ratios to no "
          "authentication within each round, then their median")
    for mode in MODES:
        us = {v.key: samples[f"{mode}|{v.key}"] for v in chosen}
        results[mode] = {key: 1e6 / statistics.median(values) for key, values in us.items()}
        results["ratio"][mode] = {key: paired_ratio(us, key, "noauth", times=True) for key in us}
        results["samples_us"][mode] = us
        print(f"\n{mode}")
        for variant in chosen:
            print(f"  {variant.label:42s} {results[mode][variant.key]:8.0f} req/s   "
                  f"/no auth = {results['ratio'][mode][variant.key]:5.2f}x")
    if not cache_off:
        print("\nTOKEN_CACHE_SIZE is refused by the system checks: the cache-off variants are n/a")
    save(args.json, results)


if __name__ == "__main__":
    main()
