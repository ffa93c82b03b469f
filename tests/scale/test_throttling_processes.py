"""Throttle buckets shared by every worker process through the suite's Redis.

Two gunicorn servers with two worker processes each (the application preloaded, then forked)
serve ``tests.throttle_urls`` with ``tests.throttle_process_settings``: DRF's
``UserRateThrottle`` (keyed on ``TokenUser.pk``) and ``TokenRateThrottle`` at
``RATE`` requests a minute, and the per-scope rates of the reports view. Requests alternate
between the servers, one at a time; every answer names its worker (``X-Worker-Pid``). No
traceback may reach the servers' log.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from django_bearer_guard.testing import LocalIssuer
from tests.support.binding import Answer, api_processes, send
from tests.support.keys import pooled_key
from tests.support.live import Address
from tests.support.services import services_required

pytestmark = pytest.mark.skipif(
    not services_required(), reason="throttles shared across processes need Redis: run them with BG_SERVICES=1"
)

PATHS = ["/user/", "/token/"]
RATE = 5
"""Requests a minute of DRF's ``user`` and ``bearer_token`` rates in the servers' settings."""


class Deployment:
    """Two issuers and the addresses of the servers that trust both."""

    def __init__(self, first: LocalIssuer, second: LocalIssuer, servers: list[Address]) -> None:
        self.first, self.second, self.servers = first, second, servers
        self.sent = 0

    def get(self, path: str, idp: LocalIssuer, **claims: Any) -> Answer:
        """One request with a fresh token, to the next server in turn."""
        server = self.servers[self.sent % len(self.servers)]
        self.sent += 1
        return send(server, path, {"Authorization": f"Bearer {idp.mint(**claims)}"}, host="localhost")

    def statuses(self, path: str, idp: LocalIssuer, count: int, **claims: Any) -> list[int]:
        return [self.get(path, idp, **claims).status for _ in range(count)]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    first = LocalIssuer(keys=[pooled_key("RS256")]).start()
    second = LocalIssuer(keys=[pooled_key("RS256")]).start()
    guard = {"ALLOW_HTTP_LOOPBACK": True, "ISSUERS": [first.issuer_settings(), second.issuer_settings()]}
    env = {"DJANGO_SETTINGS_MODULE": "tests.throttle_process_settings", "BG_THROTTLE_RATE": str(RATE)}
    try:
        with api_processes(2, guard, dict(settings.CACHES), tmp_path_factory.mktemp("throttle"), workers=2,
                           env=env) as servers:
            yield Deployment(first, second, servers)
    finally:
        first.stop()
        second.stop()


def caller() -> str:
    return f"svc-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("path", PATHS)
def test_one_callers_exhausted_bucket_leaves_another_callers_alone(deployment: Deployment, path: str) -> None:
    alice, bob = caller(), caller()
    assert deployment.statuses(path, deployment.first, RATE + 2, sub=alice) == [200] * RATE + [429, 429]
    assert deployment.statuses(path, deployment.first, RATE, sub=bob) == [200] * RATE


@pytest.mark.parametrize("path", PATHS)
def test_the_bucket_is_shared_by_every_worker_process(deployment: Deployment, path: str) -> None:
    sub = caller()
    answers = [deployment.get(path, deployment.first, sub=sub) for _ in range(RATE + 1)]
    assert [answer.status for answer in answers] == [200] * RATE + [429]
    passed_at = {answer.headers["X-Worker-Pid"] for answer in answers if answer.status == 200}
    assert len(passed_at) >= 2, passed_at
    assert {answer.body["pk"] for answer in answers[:RATE]} == {answers[0].body["pk"]}
    assert answers[0].body["pk"].startswith("token:")
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60


@pytest.mark.parametrize("path", PATHS)
def test_the_same_subject_of_two_issuers_has_two_buckets(deployment: Deployment, path: str) -> None:
    sub = caller()
    assert deployment.statuses(path, deployment.first, RATE + 1, sub=sub) == [200] * RATE + [429]
    assert deployment.statuses(path, deployment.second, RATE + 1, sub=sub) == [200] * RATE + [429]


def test_rates_per_scope_hold_across_processes(deployment: Deployment) -> None:
    sub = caller()
    # reports:read is 2/min, the view's default 3/min, in buckets of their own.
    assert deployment.statuses("/reports/", deployment.first, 3, sub=sub, scope="reports:read") == [200, 200, 429]
    assert deployment.statuses("/reports/", deployment.first, 4, sub=sub) == [200, 200, 200, 429]
    assert deployment.statuses("/reports/", deployment.second, 2, sub=sub, scope="reports:read") == [200, 200]

