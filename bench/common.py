"""What the benchmarks share: the bench project's configuration, its variants, tokens, timing, gunicorn and wrk.

Every benchmark measures the Django project of this directory (``bench.settings``, ``bench.urls``),
configured by the JSON file that ``BENCH_CONFIG`` names: in the benchmark's own process after
:func:`setup_django`, and under gunicorn through :class:`Gunicorn`.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import functools
import gc
import itertools
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_bearer_guard.testing import LocalIssuer

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
CONFIG_ENV = "BENCH_CONFIG"
AUDIENCE = "https://api.bench"
ALGORITHMS = ("RS256", "ES256", "EdDSA")
MIB = 1024 * 1024
WRK = shutil.which("wrk") or "/usr/bin/wrk"


# -- the bench project's configuration ---------------------------------------------------------
def make_issuer(*, start: bool = True) -> LocalIssuer:
    """A LocalIssuer with one key per algorithm, its keys fresh for the whole run; serving unless ``start`` is false."""
    from django_bearer_guard.testing import LocalIssuer

    idp = LocalIssuer(algorithms=ALGORITHMS, audience=AUDIENCE)
    idp.cache_control = "max-age=3600"
    return idp.start() if start else idp


def guard_settings(idp: LocalIssuer, **overrides: Any) -> dict[str, Any]:
    """``BEARER_GUARD`` trusting ``idp``, whose JWKS is fetched over HTTP from 127.0.0.1."""
    return {"ISSUERS": [idp.issuer_settings()], "ALLOW_HTTP_LOOPBACK": True, **overrides}


def project_config(idp: LocalIssuer, guard: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The bench project's configuration: the issuer, its public keys (for the baselines) and ``BEARER_GUARD``."""
    from cryptography.hazmat.primitives import serialization

    keys = {}
    for alg in ALGORITHMS:
        key = idp.signing_key(alg)
        pem = key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        keys[alg] = {"jwk": key.public_jwk(), "pem": pem.decode()}
    return {"issuer": idp.issuer, "audience": idp.audience, "keys": keys,
            "guard": guard if guard is not None else guard_settings(idp), **extra}


def write_config(config: Mapping[str, Any], directory: Path | None = None) -> Path:
    """``config`` in a JSON file (removed at exit when no ``directory`` is given)."""
    if directory is None:
        handle, name = tempfile.mkstemp(prefix="bench-config-", suffix=".json")
        os.close(handle)
        path = Path(name)
        atexit.register(path.unlink, missing_ok=True)
    else:
        path = directory / f"config-{os.getpid()}-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(config))
    return path


@functools.cache
def load_config() -> dict[str, Any]:
    """The configuration named by ``BENCH_CONFIG`` (read by bench.settings and bench.views)."""
    loaded: dict[str, Any] = json.loads(Path(os.environ[CONFIG_ENV]).read_text())
    return loaded


def setup_django(config: Mapping[str, Any]) -> None:
    """Configure this process as the bench project and set Django up."""
    import django

    os.environ[CONFIG_ENV] = str(write_config(config))
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    django.setup()


def setting_accepted(name: str, value: object) -> bool:
    """Whether the system checks take ``BEARER_GUARD[name] = value`` (not while the library lacks the setting)."""
    from django.conf import settings
    from django.core import checks
    from django.test.utils import override_settings

    with override_settings(BEARER_GUARD={**settings.BEARER_GUARD, name: value}):
        refusals = [m for m in checks.run_checks(tags=[checks.Tags.security]) if m.is_serious() and name in m.msg]
    return not refusals


def token_cache_size() -> int:
    """The default ``TOKEN_CACHE_SIZE`` of the library (4096 if it has no such setting yet)."""
    from django_bearer_guard.conf import DEFAULTS

    return int(DEFAULTS.get("TOKEN_CACHE_SIZE", 4096))


# -- variants ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One way to authenticate the same DRF view: its URL, its token, whether the token cache is off.

    ``kind`` is ``noauth``, ``noop``, ``guard`` (this library), ``simplejwt`` or ``pyjwt``
    (``jwt.decode``). Every request carries an ``Authorization`` header, ignored by ``noauth``
    and ``noop``; ``distinct`` sends a token not seen before on each request.
    """

    kind: str
    alg: str = "RS256"
    distinct: bool = False
    cache_off: bool = False

    @property
    def key(self) -> str:
        if self.kind in ("noauth", "noop"):
            return self.kind
        suffix = "-distinct" if self.distinct else "-nocache" if self.cache_off else ""
        return f"{self.kind}-{self.alg}{suffix}"

    @property
    def label(self) -> str:
        if self.kind == "noauth":
            return "no authentication"
        if self.kind == "noop":
            return "no-op authenticator"
        name = {"guard": "bearer_guard", "simplejwt": "simplejwt stateless", "pyjwt": "jwt.decode wrapper"}[self.kind]
        if self.kind != "guard":
            return f"{name} {self.alg}"
        return f"{name} {self.alg}, " + ("distinct tokens" if self.distinct else
                                        "cache off" if self.cache_off else "same token")

    @property
    def path(self) -> str:
        return f"/{self.kind}/" if self.kind in ("noauth", "noop") else f"/{self.kind}/{self.alg}/"


def variants(*, cache_off: bool = True) -> list[Variant]:
    """Every variant; those with the token cache off last (they run with other settings)."""
    found = [Variant("noauth"), Variant("noop")]
    for alg in ALGORITHMS:
        found += [Variant("guard", alg), Variant("guard", alg, distinct=True),
                  Variant("simplejwt", alg), Variant("pyjwt", alg)]
    if cache_off:
        found += [Variant("guard", alg, cache_off=True) for alg in ALGORITHMS]
    return found


class Tokens:
    """One token per algorithm to repeat, and per algorithm a pool of distinct tokens, each handed out once."""

    def __init__(self, idp: LocalIssuer, distinct: int, *, lifetime: int = 7200) -> None:
        def mint(alg: str) -> str:
            # token_type and a jti for simplejwt; sub is its user id claim (bench.settings).
            return idp.mint(alg=alg, scope="read files:read", token_type="access", lifetime=lifetime)

        self.same = {alg: mint(alg) for alg in ALGORITHMS}
        self.pools = {alg: [mint(alg) for _ in range(distinct)] for alg in ALGORITHMS}
        self._unused = {alg: iter(pool) for alg, pool in self.pools.items()}

    def stream(self, variant: Variant) -> Iterator[str]:
        """The tokens of ``variant``'s requests; distinct ones run out (StopIteration) rather than repeat."""
        if variant.distinct:
            return self._unused[variant.alg]
        return itertools.repeat(self.same[variant.alg])


# -- timing ---------------------------------------------------------------------------------------
def per_call_us(fn: Callable[[], object], calls: int, timer: Callable[[], int] = time.perf_counter_ns) -> float:
    start = timer()
    for _ in range(calls):
        fn()
    return (timer() - start) / calls / 1000


Before = Callable[[str, Callable[[], object]], None]


def interleave(
    variants: Mapping[str, Callable[[], object]], rounds: int, calls: int, *, before: Before | None = None,
    timer: Callable[[], int] = time.perf_counter_ns,
) -> dict[str, float]:
    """Median µs per call of each variant over the rounds of :func:`rounds_of`."""
    samples = rounds_of(variants, rounds, calls, before=before, timer=timer)
    return {name: statistics.median(values) for name, values in samples.items()}


def rounds_of(
    variants: Mapping[str, Callable[[], object]], rounds: int, calls: int, *, before: Before | None = None,
    timer: Callable[[], int] = time.perf_counter_ns,
) -> dict[str, list[float]]:
    """µs per call of each variant in each of ``rounds`` round-robin rounds of ``calls`` calls.

    ``before(name, fn)`` runs ahead of each batch (see :class:`GuardGroups`); it is not timed.
    ``timer`` counts nanoseconds: wall time, or ``time.process_time_ns`` for CPU time.
    """
    samples: dict[str, list[float]] = {name: [] for name in variants}
    # The benchmark's own objects (pre-minted tokens, requests) out of the collector's way.
    gc.collect()
    gc.freeze()
    for name, fn in variants.items():
        if before is not None:
            before(name, fn)
        fn()  # warm up: keys fetched and parsed, caches filled
    for _ in range(rounds):
        for name, fn in variants.items():
            if before is not None:
                before(name, fn)
            samples[name].append(per_call_us(fn, calls, timer))
    return samples


def paired_ratio(samples: Mapping[str, Sequence[float]], key: str, base: str, *, times: bool = False) -> float:
    """The median over rounds of ``key``/``base`` within each round; ``times``: base/key, so faster is higher.

    A ratio taken inside a round, then the median of the rounds, holds better on a shared
    machine than the ratio of two medians: a busy moment slows both sides of the same round.
    """
    pairs = [(b / k if times else k / b) for k, b in zip(samples[key], samples[base], strict=True)]
    return statistics.median(pairs)


class GuardGroups:
    """``BEARER_GUARD`` per variant: the project's, or the project's with a variant's overrides.

    Switching re-reads the settings, which drops every cache of the library, so after a switch
    one call of the variant is made before it is timed. Variants of one group should follow each
    other, so that a round switches as few times as possible.
    """

    def __init__(self, overrides: Mapping[str, Mapping[str, Any]]) -> None:
        self.overrides = overrides
        self._active: Any = None
        self._current: Mapping[str, Any] | None = None

    def __call__(self, name: str, fn: Callable[[], object]) -> None:
        from django.conf import settings
        from django.test.utils import override_settings

        wanted = self.overrides.get(name)
        if wanted == self._current:
            return
        if self._active is not None:
            self._active.disable()
            self._active = None
        if wanted is not None:
            self._active = override_settings(BEARER_GUARD={**settings.BEARER_GUARD, **wanted})
            self._active.enable()
        self._current = wanted
        fn()

    def reset(self) -> None:
        """Back to the project's own ``BEARER_GUARD`` (for what is measured after the rounds)."""
        if self._active is not None:
            self._active.disable()
            self._active = None
        self._current = None


def ratio(value: float, base: float) -> float:
    return value / base if base else float("nan")


# -- servers --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gunicorn:
    """gunicorn with sync workers serving the bench project on 127.0.0.1; the workers' peak RSS."""

    def __init__(self, config: Mapping[str, Any], directory: Path, *, workers: int = 2) -> None:
        self.port = free_port()
        self.address = ("127.0.0.1", self.port)
        self.workers = workers
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings",
               CONFIG_ENV: str(write_config(config, directory)), "PYTHONPATH": str(ROOT)}
        env.pop("PYTHONDEVMODE", None)
        self.log = directory / f"gunicorn-{self.port}.log"
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
                   "--worker-class", "sync", "--log-level", "warning", "--timeout", "120",
                   "django.core.wsgi:get_wsgi_application()"]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
        self._wait()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                socket.create_connection(self.address, timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
                continue
            if len(self.worker_pids()) == self.workers:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gunicorn did not start: {self.log.read_text()[-2000:]}")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def cpu_seconds(self) -> float:
        """User and system CPU time the workers have used so far."""
        ticks = 0
        for pid in self.worker_pids():
            # /proc/<pid>/stat after the command name: state is field 3, utime 14, stime 15.
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def peak_rss_kib(self) -> dict[int, int]:
        """VmHWM (peak resident memory, KiB) of each worker."""
        peaks = {}
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1])
        return peaks

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def http_get(address: tuple[str, int], target: str, headers: Mapping[str, str] | None = None) -> tuple[int, int]:
    """GET ``target`` with ``Connection: close``; the status and the number of body bytes read."""
    lines = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    request = f"GET {target} HTTP/1.1\r\nHost: bench\r\n{lines}Connection: close\r\n\r\n".encode()
    buffer = bytearray(4 * MIB)
    total, head, header_end = 0, b"", -1
    with socket.create_connection(address) as sock:
        sock.sendall(request)
        while count := sock.recv_into(buffer):
            if header_end >= 0:
                total += count
                continue
            head += bytes(buffer[:count])
            header_end = head.find(b"\r\n\r\n")
            if header_end >= 0:
                total += len(head) - header_end - 4
    return int(head.split(b" ", 2)[1]), total


@dataclass(frozen=True)
class WrkRun:
    """What one wrk run reports."""

    per_second: float
    requests: int
    output: str


def wrk(url: str, *, seconds: float, threads: int = 2, connections: int = 8, header: str | None = None,
        tokens: Path | None = None, start: int = 0) -> WrkRun:
    """Load ``url`` with wrk; ``tokens`` sends each request with the next token of that file (bench/tokens.lua)."""
    command = [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s"]
    if header is not None:
        command += ["-H", header]
    if tokens is not None:
        command += ["-s", str(BENCH / "tokens.lua")]
    command.append(url)
    if tokens is not None:
        command += ["--", str(tokens), str(threads), str(start)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    count = re.search(r"(\d+) requests in", output)
    if bad or rate is None or count is None:
        raise RuntimeError(f"wrk {url}: {output}")
    return WrkRun(float(rate.group(1)), int(count.group(1)), output)


# -- arguments and results ------------------------------------------------------------------------
def arguments(description: str, *, timed: bool = False, **defaults: tuple[int, int]) -> argparse.ArgumentParser:
    """A parser with ``--quick``, ``--json`` and an option per ``name=(full default, quick default)``.

    ``timed`` adds ``--wall``, for benchmarks that time calls in this process: see :func:`timer`.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    if timed:
        parser.add_argument("--wall", action="store_true", help="time wall clock, not this process's CPU time")
    for name, (full, quick) in defaults.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None,
                            help=f"default {full} ({quick} with --quick)")
    parser.set_defaults(_modes=defaults)
    return parser


def parse(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    for name, (full, quick) in args._modes.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def timer(args: argparse.Namespace) -> Callable[[], int]:
    """The clock of in-process timings: this process's CPU time, unless ``--wall``.

    On a shared machine wall time also counts the moments the process waited for a core; CPU
    time does not, so it varies several times less from one batch to the next.
    """
    return time.perf_counter_ns if args.wall else time.process_time_ns


def environment() -> dict[str, str]:
    """Where and when: date (UTC), Python, Django and the number of cores."""
    import django

    return {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "python": platform.python_version(), "django": django.get_version(), "cores": str(os.cpu_count())}


def save(path: Path | None, results: Mapping[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(results, indent=1))
