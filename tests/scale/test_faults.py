"""Faults at deployment scale: four gunicorn workers sharing one Redis, under a bounded load.

Each test starts gunicorn serving ``tests.urls`` with four threaded worker processes (the
application preloaded, then forked), all sharing one Redis: one the test starts itself
(``tests.support.redis_server``), or the suite's for the ``TrustedIssuer`` test, whose stamp the
test process writes. ``tests.support.load`` sends a fixed number of requests within a wall-clock
limit over keep-alive connections that the workers take turns accepting; each answer names its
worker (``X-Worker-Pid``), so every check "at every worker" is made per process. The faults are
real: the issuer rotates its key, goes down, is flooded with unknown ``kid`` values; Redis is
killed and restarted, or frozen with SIGSTOP; a ``TrustedIssuer`` row is disabled. JWKS fetches
are counted at the issuer, the library's log lines per worker pid in the servers' log.

Windows and bounds come from the settings given to the servers (short TTLs, cool-downs and
stale windows, so that the module runs in about a minute and a half on two busy cores) and the
library's documented constants, with margins for such a machine. Every failure message carries the measured
numbers: requests, statuses, latency percentiles, fetches.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import re
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from django_bearer_guard import _shared
from django_bearer_guard.conf import DEFAULTS
from django_bearer_guard.issuers.database import CHECK_INTERVAL
from django_bearer_guard.jwks.refresh import FAILURE_BACKOFF, SHARED_CHECK_INTERVAL
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import LocalIssuer, generate_key
from tests.support.binding import api_processes, send
from tests.support.live import Address
from tests.support.load import Load, Report
from tests.support.redis_server import RedisServer, redis_server
from tests.support.services import services_required

pytestmark = pytest.mark.skipif(
    not services_required(),
    reason="deployment-scale fault tests need PostgreSQL, Redis and redis-server: run them with BG_SERVICES=1"
           " (tox -e services)",
)

WORKERS = 4
THREADS = 2
COOLDOWN = 1.0
"""JWKS_REFETCH_COOLDOWN of the tests that count unknown-kid fetches."""
SETTLE_SECONDS = 20.0
# Added to a bound derived from the settings, for a loaded two-core machine (a scheduling delay).
MARGIN = 0.5
LATENCY_MARGIN = 1.5

_LINE = re.compile(r"(?P<pid>\d+) (?P<at>\d+\.\d+) (?P<level>[A-Z]+) django_bearer_guard (?P<message>.*)")
_SHARED_CACHE = "bearer_guard: shared cache"


@dataclass(frozen=True)
class CacheEvent:
    """A worker's line about the shared cache: ``"down"`` (unusable) or ``"up"`` (answers again)."""

    pid: int
    at: float
    kind: str


@dataclass(frozen=True)
class Deployment:
    """The server's address, its master's and workers' pids, and its log."""

    address: Address
    master: int
    pids: frozenset[int]
    log: Path

    def offset(self) -> int:
        """The log's current length: where lines written from now on start."""
        return self.log.stat().st_size

    def cache_events(self, start: int = 0, end: int | None = None) -> list[CacheEvent]:
        """The workers' shared-cache lines between two offsets of the log."""
        events = []
        for raw in self.log.read_bytes()[start:end].decode(errors="replace").splitlines():
            line = _LINE.fullmatch(raw)
            if line is None or not line["message"].startswith(_SHARED_CACHE):
                continue
            message = line["message"]
            kind = "down" if "unusable" in message else "up" if "answers again" in message else "other"
            events.append(CacheEvent(int(line["pid"]), float(line["at"]), kind))
        return events

    def per_worker(self, kind: str, start: int = 0, end: int | None = None) -> Counter[int]:
        """How many ``kind`` lines each worker pid wrote between two offsets."""
        return Counter(e.pid for e in self.cache_events(start, end) if e.kind == kind)

    def caches_answer(self) -> bool:
        """True when no worker's last line about the shared cache says it is unusable."""
        last = {e.pid: e.kind for e in self.cache_events()}
        return all(kind != "down" for kind in last.values())


def gunicorn_pids(address: Address, count: int) -> tuple[int, frozenset[int]]:
    """The pids of the gunicorn master serving ``address`` (a child of this process) and of its ``count`` workers."""
    bind = f"{address[0]}:{address[1]}".encode()
    deadline = time.monotonic() + 10
    while True:
        parents: dict[int, int] = {}
        masters = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                arguments = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue  # a process that just ended
            # /proc/<pid>/stat: "pid (name) state ppid …"; the name may hold spaces and parentheses.
            parents[int(entry.name)] = ppid = int(stat.rpartition(")")[2].split()[1])
            if ppid == os.getpid() and bind in arguments:
                masters.append(int(entry.name))
        workers = frozenset(pid for pid, ppid in parents.items() if ppid in masters)
        if len(masters) == 1 and len(workers) == count:
            return masters[0], workers
        assert time.monotonic() < deadline, (bind, masters, workers)
        time.sleep(0.05)


def _stop_quickly(deployment: Deployment) -> None:
    # A preloaded worker takes seconds to tear its copy of the application down; the test is over,
    # so once the master stops (and spawns no more) the workers are killed. api_processes waits.
    os.kill(deployment.master, signal.SIGTERM)
    time.sleep(0.2)
    for pid in deployment.pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tokens_of(idp: LocalIssuer, count: int, **claims: Any) -> list[str]:
    """``count`` distinct valid tokens of ``idp`` (clients reuse theirs: each is sent many times)."""
    return [idp.mint(lifetime=900, **claims) for _ in range(count)]


def unknown_kid_tokens(idp: LocalIssuer, count: int) -> list[str]:
    """Tokens with ``idp``'s claims, each naming a ``kid`` of its own that ``idp`` never published.

    Forged, as a flood would be: one token of a stranger's key with a new header each; the
    signature is never checked, since no key is found for it.
    """
    _, payload, signature = idp.mint(key=generate_key("ES256"), lifetime=900).split(".")

    def header() -> str:
        data = json.dumps({"alg": "ES256", "kid": uuid.uuid4().hex, "typ": "JWT"}).encode()
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return [f"{header()}.{payload}.{signature}" for _ in range(count)]


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def settle(deployment: Deployment, headers: Mapping[str, str]) -> None:
    """Wait until every worker accepts ``headers`` (keys fetched, rows read) and has a shared cache
    that answers: a worker whose first call to Redis missed CACHE_TIMEOUT leaves it alone for a
    back-off, and the measurements start from the steady state.
    """
    load = Load(deployment.address, lambda _: ("settle", headers), total=100_000, seconds=SETTLE_SECONDS,
                connections=4, per_connection=2, rate=50)
    with load:
        settled = load.until(lambda r: r.workers(200) == deployment.pids and deployment.caches_answer(),
                             SETTLE_SECONDS)
    report = load.report()
    assert settled, f"the servers did not settle: {report.summary()}; {deployment.cache_events()}"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of this test's own."""
    with redis_server(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def idp(make_idp: Callable[..., LocalIssuer]) -> LocalIssuer:
    """An ES256 issuer: thousands of tokens are minted in milliseconds."""
    return make_idp(algorithms=("ES256",))


@pytest.fixture
def deploy(redis: RedisServer, tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """Start the server with ``BEARER_GUARD`` (loopback issuers allowed), sharing ``redis`` or ``caches``."""
    with contextlib.ExitStack() as stack:

        def start(guard: Mapping[str, Any], *, caches: Mapping[str, Any] | None = None,
                  env: Mapping[str, str] | None = None) -> Deployment:
            [address] = stack.enter_context(api_processes(
                1, {"ALLOW_HTTP_LOOPBACK": True, **guard}, caches or redis.caches(), tmp_path,
                workers=WORKERS, threads=THREADS, env=env,
            ))
            deployment = Deployment(address, *gunicorn_pids(address, WORKERS), tmp_path / "gunicorn.log")
            stack.callback(_stop_quickly, deployment)
            return deployment

        yield start


def test_a_key_rotation_under_load_refuses_no_valid_token_once_a_cooldown_passed(
    idp: LocalIssuer, deploy: Callable[..., Deployment]
) -> None:
    deployment = deploy({"ISSUERS": [idp.issuer_settings()], "JWKS_REFETCH_COOLDOWN": COOLDOWN})
    in_use = {"old key": tokens_of(idp, 200)}
    settle(deployment, bearer(in_use["old key"][0]))

    def plan(index: int) -> tuple[str, Mapping[str, str]]:
        # Once the new key signs, every other request carries one of its tokens.
        tag = "new key" if "new key" in in_use and index % 2 else "old key"
        batch = in_use[tag]
        return tag, bearer(batch[index % len(batch)])

    rate, planned = 400, 1.5 + COOLDOWN + 3.0
    fetched, started = idp.fetches(), time.monotonic()
    with Load(deployment.address, plan, total=int(rate * planned), seconds=planned + 20, rate=rate) as load:
        time.sleep(1.5)
        key = idp.rotate()
        published = time.monotonic()
        in_use["new key"] = [idp.mint(key=key, lifetime=900) for _ in range(200)]
        report = load.join()
    elapsed, fetches = time.monotonic() - started, idp.fetches() - fetched
    allowed = int(elapsed // COOLDOWN) + 1
    settled_new = report.select(tag="new key", after=published + COOLDOWN)
    numbers = (f"{report.summary()}; new key after one cool-down: {settled_new.statuses()};"
               f" JWKS fetches {fetches} in {elapsed:.1f} s (at most {allowed});"
               f" shared cache lines {deployment.cache_events()}")
    print(numbers)

    assert not report.server_errors(), numbers
    assert set(report.select(tag="old key").statuses()) == {200}, numbers
    # Within the first cool-down a worker may refuse the new kid while another fetches it.
    assert set(report.select(tag="new key").statuses()) <= {200, 401}, numbers
    assert set(settled_new.statuses()) == {200} and settled_new.workers(200) == deployment.pids, numbers
    assert len(settled_new) >= 200, numbers
    # One fetch per cool-down across all workers at most; at least one brought the new key.
    assert 1 <= fetches <= allowed, numbers


def test_an_issuer_down_under_load_serves_stale_keys_then_refuses_then_recovers(
    idp: LocalIssuer, deploy: Callable[..., Deployment]
) -> None:
    ttl, stale_window, timeout, hang = 1, 2, 0.5, 6.0
    idp.cache_control = f"max-age={ttl}"
    # No refresh ahead: a fetch then meets the hung issuer on a request's thread, where the
    # JWKS_TIMEOUT bound is tested (ahead of the expiry it would run in the background).
    deployment = deploy({"ISSUERS": [idp.issuer_settings()], "JWKS_MIN_TTL": ttl, "JWKS_STALE_WINDOW": stale_window,
                         "JWKS_TIMEOUT": timeout, "JWKS_REFRESH_AHEAD": 0})
    tokens = tokens_of(idp, 300)
    settle(deployment, bearer(tokens[0]))

    rate = 300
    # The keys of the last good fetch (at most a TTL before the issuer went down) serve for the
    # stale window at least, and no more than TTL + stale window after it went down.
    serving_for, refusing_from = stale_window - MARGIN, ttl + stale_window + MARGIN
    # A failed fetch is retried no sooner than FAILURE_BACKOFF later, by any worker; the others
    # take the keys from Redis when they next look (SHARED_CHECK_INTERVAL) or retry themselves.
    recovery = FAILURE_BACKOFF + timeout + SHARED_CHECK_INTERVAL + MARGIN
    load = Load(deployment.address, lambda i: ("valid", bearer(tokens[i % len(tokens)])),
                total=rate * 30, seconds=30, rate=rate, timeout=hang + 4)
    with load:
        time.sleep(2.0)
        fetched = idp.fetches()
        # Down as a black-holed issuer is: every fetch hangs far beyond JWKS_TIMEOUT.
        idp.delay, idp.mode = hang, "slow"
        down = time.monotonic()
        time.sleep(refusing_from + 1.5)
        attempts, outage = idp.fetches() - fetched, time.monotonic() - down
        idp.mode = "ok"
        up = time.monotonic()

        def recovered(report: Report) -> bool:
            # Every worker answered 200 again, the last one a second ago (its answers since are checked).
            firsts = [min((s.sent for s in report.select(worker=pid, after=up).samples if s.status == 200),
                          default=math.inf) for pid in deployment.pids]
            return time.monotonic() - max(firsts) >= 1.0

        load.until(recovered, recovery + 2)
        load.stop()
        report = load.join()

    # When each worker's first 200 after the issuer came back arrived: requests sent from then on
    # find the new keys in that worker (one sent just before may still have met the old ones).
    first_200 = {pid: min((s.sent + s.latency for s in report.select(worker=pid, after=up).samples
                           if s.status == 200), default=None) for pid in deployment.pids}
    recovered_after = {pid: None if at is None else round(at - up, 2) for pid, at in first_200.items()}
    stale = report.select(after=down, before=down + serving_for)
    # Until shortly before it came back: a request sent just before may meet the first good fetch.
    refused = report.select(after=down + refusing_from, before=up - MARGIN)
    allowed_attempts = WORKERS * (int(outage // FAILURE_BACKOFF) + 1)
    numbers = (f"{report.summary()}; stale phase {stale.statuses()}; past the stale window {refused.statuses()};"
               f" recovered after (s) {recovered_after}, bound {recovery:.1f}; fetch attempts while down"
               f" {attempts} in {outage:.1f} s (at most {allowed_attempts})")
    print(numbers)

    assert not report.server_errors(), numbers
    assert set(report.statuses()) <= {200, 401}, numbers
    assert set(report.select(before=down).statuses()) == {200}, numbers
    assert set(stale.statuses()) == {200} and stale.workers(200) == deployment.pids, numbers
    assert set(refused.statuses()) == {401} and refused.workers(401) == deployment.pids, numbers
    # A fetch never holds a request longer than JWKS_TIMEOUT, however long the issuer hangs.
    assert report.percentile(1.0) <= timeout + LATENCY_MARGIN, numbers
    # "A down issuer is asked at most every 5 seconds by each process" (docs/keys.rst).
    assert attempts <= allowed_attempts, numbers
    for pid, at in first_200.items():
        assert at is not None and at - up <= recovery, numbers
        # Recovered for good: the worker refuses no valid token afterwards.
        later = report.select(worker=pid, after=at)
        refused_later = [(round(s.sent - at, 3), round(s.latency, 3)) for s in later.samples if s.status != 200]
        assert not refused_later, f"{pid} refused after recovering (s after, latency): {refused_later}; {numbers}"


def test_ten_thousand_unknown_kids_fetch_the_keys_at_most_once_per_cooldown(
    idp: LocalIssuer, deploy: Callable[..., Deployment]
) -> None:
    deployment = deploy({"ISSUERS": [idp.issuer_settings()], "JWKS_REFETCH_COOLDOWN": COOLDOWN})
    settle(deployment, bearer(idp.mint()))
    forged = unknown_kid_tokens(idp, 10_000)
    answer = send(deployment.address, "/whoami/", bearer(forged[0]), host="localhost")
    assert (answer.status, answer.body["error"]) == (401, "invalid_token")

    fetched, started = idp.fetches(), time.monotonic()
    report = Load(deployment.address, lambda i: ("unknown kid", bearer(forged[i])), total=10_000, seconds=60,
                  per_connection=50).run()
    elapsed, fetches = time.monotonic() - started, idp.fetches() - fetched
    allowed = int(elapsed // COOLDOWN) + 1
    numbers = (f"{report.summary()}; JWKS fetches {fetches} in {elapsed:.1f} s (at most {allowed});"
               f" shared cache lines {deployment.cache_events()}")
    print(numbers)

    assert len(report) == 10_000, numbers
    assert report.statuses() == {401: 10_000} and report.workers(401) == deployment.pids, numbers
    # At least one refetch shows the kids reached the refetch rule; more than one per cool-down
    # across the workers would let random kids drive requests to the issuer.
    assert 1 <= fetches <= allowed, numbers


def test_redis_killed_then_frozen_under_load_costs_no_request_and_sharing_resumes(
    idp: LocalIssuer, deploy: Callable[..., Deployment], redis: RedisServer
) -> None:
    cache_timeout, backoff = float(DEFAULTS["CACHE_TIMEOUT"]), _shared.BACKOFF
    # Within one cool-down, a fetch by each worker would show that they did not share it.
    cooldown = 3.0
    # No socket timeouts in CACHES: the library bounds its own calls (CACHE_TIMEOUT).
    deployment = deploy({"ISSUERS": [idp.issuer_settings()], "JWKS_REFETCH_COOLDOWN": cooldown})
    in_use = [("key 1", tokens_of(idp, 200))]
    settle(deployment, bearer(in_use[0][1][0]))
    settled = deployment.offset()

    def plan(index: int) -> tuple[str, Mapping[str, str]]:
        tag, batch = in_use[index % len(in_use)]
        return tag, bearer(batch[index // len(in_use) % len(batch)])

    def every_worker(kind: str, start: int) -> Callable[[], bool]:
        return lambda: set(deployment.per_worker(kind, start)) == set(deployment.pids)

    rotations: list[tuple[str, float, float, int]] = []

    def rotate(tag: str) -> None:
        """A new key, sent at once to every worker: one of them fetches it, the others read it from Redis."""
        fetched, rotated = idp.fetches(), time.monotonic()
        key = idp.rotate()
        in_use.append((tag, [idp.mint(key=key, lifetime=900) for _ in range(100)]))
        load.until(lambda r: r.select(tag=tag).workers(200) == deployment.pids, 2 * cooldown)
        rotations.append((tag, rotated, time.monotonic(), idp.fetches() - fetched))

    # Redis down: wait until each worker noticed, then until each tried again, then bring it back.
    retried = backoff + SHARED_CHECK_INTERVAL + MARGIN
    noticed = SHARED_CHECK_INTERVAL + cache_timeout + 2
    back = backoff + SHARED_CHECK_INTERVAL + 2
    rate = 150
    marks: dict[str, float] = {}
    load = Load(deployment.address, plan, total=rate * 60, seconds=60, rate=rate, timeout=10)
    with load:
        time.sleep(1.0)
        killed = deployment.offset()
        redis.stop()
        marks["killed"] = time.time()
        wait_for(every_worker("down", killed), noticed)
        time.sleep(retried)
        restarted = deployment.offset()
        redis.start()
        marks["restarted"] = time.time()
        wait_for(every_worker("up", restarted), back)
        rotate("key 2")

        frozen = deployment.offset()
        redis.pause()
        marks["frozen"] = time.time()
        wait_for(every_worker("down", frozen), noticed)
        time.sleep(retried)
        resumed = deployment.offset()
        redis.resume()
        marks["resumed"] = time.time()
        wait_for(every_worker("up", resumed), back)
        rotate("key 3")

        def every_key_again(report: Report) -> bool:
            return all(report.select(tag=tag, after=checked).workers() == deployment.pids
                       for tag, _, checked, _ in rotations)

        load.until(every_key_again, 5.0)
        load.stop()
        report = load.join()

    events = deployment.cache_events(settled)
    answered_again = {name: {e.pid: round(e.at - marks[name], 2) for e in deployment.cache_events(start, end)
                             if e.kind == "up"}
                      for name, start, end in (("restarted", restarted, frozen), ("resumed", resumed, None))}
    numbers = (f"{report.summary()}; workers {deployment.pids}; shared cache lines"
               f" {[(e.pid, round(e.at - marks['killed'], 2), e.kind) for e in events]} (s after the kill);"
               f" answered again (s after Redis came back) {answered_again};"
               f" rotations (tag, fetches, s) {[(t, n, round(e - s, 2)) for t, s, e, n in rotations]}")
    print(numbers)

    assert not report.server_errors(), numbers
    assert set(report.select(tag="key 1").statuses()) == {200}, numbers
    for tag, _, checked, _ in rotations:
        # A new kid may be refused at a worker while another fetches it, never once all have it.
        assert set(report.select(tag=tag).statuses()) <= {200, 401}, numbers
        settled_tag = report.select(tag=tag, after=checked)
        assert set(settled_tag.statuses()) == {200} and settled_tag.workers() == deployment.pids, numbers
    # Whatever Redis does, no request waits for it much longer than CACHE_TIMEOUT (about a second).
    assert report.percentile(1.0) <= cache_timeout + 2 * MARGIN, numbers
    # One warning per outage and worker, one line when it answers again: never one per request.
    everyone_once = dict.fromkeys(deployment.pids, 1)
    assert deployment.per_worker("down", settled, killed) == {}, numbers
    for start, end in ((killed, frozen), (frozen, None)):
        assert deployment.per_worker("down", start, end) == everyone_once, numbers
        assert deployment.per_worker("up", start, end) == everyone_once, numbers
    # Sharing resumes within seconds: each worker's first look after its back-off finds Redis.
    for delays in answered_again.values():
        assert set(delays) == set(deployment.pids) and max(delays.values()) <= back, numbers
    # After each outage a new key is fetched once for all workers (once per cool-down), not once by each.
    assert [tag for tag, _, _, _ in rotations] == ["key 2", "key 3"], numbers
    for _, rotated, checked, fetches in rotations:
        assert 1 <= fetches <= int((checked - rotated) // cooldown) + 1 < WORKERS, numbers


@pytest.mark.django_db(transaction=True)
def test_a_database_issuer_disabled_under_load_is_refused_by_every_worker_within_the_check_interval(
    idp: LocalIssuer, deploy: Callable[..., Deployment]
) -> None:
    from django.db import connection

    row = TrustedIssuer.objects.create(name="Partner", **idp.issuer_settings())
    # The servers read the rows of this test's database, committed; the stamp of the rows goes
    # through the suite's Redis, which the test process writes when the row is saved.
    deployment = deploy({"ISSUERS": []}, caches=settings.CACHES, env={"BG_PG_NAME": connection.settings_dict["NAME"]})
    tokens = tokens_of(idp, 200)
    settle(deployment, bearer(tokens[0]))

    # "The other processes read the rows again within two seconds of the change" (docs/settings.rst).
    propagation = CHECK_INTERVAL + 2 * MARGIN
    rate, planned = 400, 1.5 + propagation + 2.0
    load = Load(deployment.address, lambda i: ("partner", bearer(tokens[i % len(tokens)])),
                total=int(rate * planned), seconds=planned + 20, rate=rate)
    with load:
        time.sleep(1.5)
        disabling = time.monotonic()
        row.enabled = False
        row.save(update_fields=["enabled"])  # the commit changes the stamp
        disabled = time.monotonic()
        report = load.join()

    last_200 = {pid: max((s.sent for s in report.select(worker=pid).samples if s.status == 200), default=disabled)
                for pid in deployment.pids}
    refused = report.select(after=disabled + propagation)
    numbers = (f"{report.summary()}; refused by each worker after (s)"
               f" { {pid: round(at - disabled, 2) for pid, at in last_200.items()} }, bound {propagation:.1f}")
    print(numbers)

    assert not report.server_errors(), numbers
    assert set(report.select(before=disabling).statuses()) == {200}, numbers
    assert set(report.statuses()) <= {200, 401}, numbers
    assert set(refused.statuses()) == {401} and refused.workers(401) == deployment.pids and len(refused) >= 200, numbers
