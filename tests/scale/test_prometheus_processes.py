"""Prometheus metrics under gunicorn: ``metrics_view`` sums the counts of every worker process.

One gunicorn server with three synchronous worker processes (the application preloaded, then
forked) serves ``tests.contrib.prometheus_urls`` in prometheus_client's multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, a fresh directory), with a file-based cache as the shared cache:
nothing beyond a temporary directory, so it runs in the ordinary suite. Every answer names its
worker (``X-Worker-Pid``); the metrics, answered by one worker, must count what every worker saw.
"""

from __future__ import annotations

import http.client
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families

from django_bearer_guard.testing import LocalIssuer
from tests.support.binding import api_processes, send
from tests.support.keys import pooled_key
from tests.support.live import Address

WORKERS = 3
REFUSED_EACH = 2
"""Expired tokens sent for every accepted one in a batch of three."""


@pytest.fixture
def idp() -> Iterator[LocalIssuer]:
    issuer = LocalIssuer(keys=[pooled_key("RS256")]).start()
    yield issuer
    issuer.stop()


def scrape(address: Address) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics/`` of one worker: every sample by name and labels."""
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        conn.request("GET", "/metrics/", headers={"Connection": "close"})
        response = conn.getresponse()
        text = response.read().decode()
        assert response.status == 200, text[:300]
    finally:
        conn.close()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_the_tokens_of_every_worker(idp: LocalIssuer, tmp_path: Path) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    caches: dict[str, Any] = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                    "LOCATION": str(tmp_path / "cache")}
    }
    guard = {"ALLOW_HTTP_LOOPBACK": True, "ISSUERS": [idp.issuer_settings()]}
    env = {"DJANGO_SETTINGS_MODULE": "tests.contrib.prometheus_process_settings",
           "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    with api_processes(1, guard, caches, tmp_path, workers=WORKERS, env=env) as [server]:

        def call(index: int) -> tuple[int, str]:
            token = idp.mint() if index % 3 == 0 else idp.mint(iat=1_000_000_000, lifetime=-3600)
            answer = send(server, "/whoami/", {"Authorization": f"Bearer {token}"}, host="localhost")
            return answer.status, answer.headers["X-Worker-Pid"]

        served: Counter[tuple[int, str]] = Counter()
        with ThreadPoolExecutor(4) as pool:
            # Batches until at least two workers accepted tokens (they take turns at accepting).
            for batch in range(10):
                served.update(pool.map(call, range(batch * 30, batch * 30 + 30)))
                if len({pid for status, pid in served if status == 200}) >= 2:
                    break
        samples = scrape(server)

    accepted = {pid: n for (status, pid), n in served.items() if status == 200}
    refused = sum(n for (status, _), n in served.items() if status == 401)
    assert {status for status, _ in served} == {200, 401}
    assert len(accepted) >= 2, served
    issuer = (("issuer", idp.issuer),)
    # Summed over the workers: more than any one of them accepted.
    assert samples[("bearer_guard_tokens_accepted_total", issuer)] == sum(accepted.values())
    assert max(accepted.values()) < sum(accepted.values())
    assert refused == REFUSED_EACH * sum(accepted.values())
    reason = (("issuer", idp.issuer), ("reason", "ExpiredToken"))
    assert samples[("bearer_guard_tokens_refused_total", reason)] == refused
    # One fetch at least; the workers share the keys through the cache, so not one per request.
    fetched = samples[("bearer_guard_key_fetches_total", (("issuer", idp.issuer), ("outcome", "fetched")))]
    assert 1 <= fetched <= WORKERS
    assert fetched == idp.fetches()
    # The age of the keys the shared cache holds, whichever worker answered.
    assert 0 <= samples[("bearer_guard_keys_age_seconds", issuer)] < 60
    assert samples[("bearer_guard_issuer_status", (*issuer, ("status", "healthy")))] == 1
