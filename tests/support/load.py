"""A bounded load generator for live API servers on 127.0.0.1.

:class:`Load` sends at most ``total`` GET requests, and none after ``seconds``, to a server over
keep-alive HTTP/1.1 connections: ``connections`` threads, each with a connection of its own that
it replaces after ``per_connection`` requests (so that the worker processes of one server, which
take turns accepting connections, each get a share), optionally paced at ``rate`` requests per
second in all. ``plan(i)`` says what request ``i`` carries: a tag the test picks (``"old key"``…)
and its headers. Each request's tag, send time, latency, status and worker (the answer's
``X-Worker-Pid``, see ``tests.support.process_settings``) are recorded in a :class:`Sample`; one
that got no answer has status 0 and the error. :class:`Report` filters and counts them.

The client is a few lines over a socket rather than ``http.client``, whose header parsing would
cost more CPU than some of the requests it measures on a small machine.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from tests.support.live import Address

__all__ = ["Load", "Plan", "Report", "Sample"]

Plan = Callable[[int], tuple[str, Mapping[str, str]]]


class _Closed(ConnectionError):
    """The server closed the connection before a whole answer arrived."""


# A keep-alive connection the server closed while idle fails like this on its next request.
_STALE_CONNECTION = (_Closed, ConnectionResetError, BrokenPipeError)


@dataclass(frozen=True)
class Sample:
    """One request: its tag, when it was sent (``time.monotonic()``), how long the answer took
    (seconds), its status (0: no answer, ``error`` says why) and the pid of the worker (0: unknown)."""

    tag: str
    sent: float
    latency: float
    status: int
    worker: int
    error: str = ""


class Report:
    """Samples of a load, with counts, latency percentiles and a summary for failure messages."""

    def __init__(self, samples: Iterable[Sample], elapsed: float) -> None:
        self.samples = tuple(samples)
        self.elapsed = elapsed

    def __len__(self) -> int:
        return len(self.samples)

    def select(
        self,
        *,
        tag: str | None = None,
        worker: int | None = None,
        after: float | None = None,
        before: float | None = None,
    ) -> Report:
        """The samples with ``tag``, answered by ``worker``, sent at or after ``after`` and before ``before``."""
        return Report(
            (s for s in self.samples
             if (tag is None or s.tag == tag) and (worker is None or s.worker == worker)
             and (after is None or s.sent >= after) and (before is None or s.sent < before)),
            self.elapsed,
        )

    def statuses(self) -> Counter[int]:
        """How many samples got each status."""
        return Counter(s.status for s in self.samples)

    def workers(self, status: int | None = None) -> set[int]:
        """The workers that answered at least one sample (with ``status``, if given)."""
        return {s.worker for s in self.samples if status is None or s.status == status}

    def server_errors(self) -> list[Sample]:
        """Samples answered with a 5xx or not answered at all."""
        return [s for s in self.samples if s.status >= 500 or s.status == 0]

    def percentile(self, fraction: float) -> float:
        """The latency (seconds) that ``fraction`` of the samples stay within; 0 without samples."""
        latencies = sorted(s.latency for s in self.samples)
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, max(0, math.ceil(fraction * len(latencies)) - 1))]

    def summary(self) -> str:
        """Requests, rate, statuses per tag and per worker, latency p50/p99/max, and errors."""
        rate = len(self.samples) / self.elapsed if self.elapsed > 0 else 0.0
        by_tag = {tag: dict(Counter(s.status for s in self.samples if s.tag == tag))
                  for tag in sorted({s.tag for s in self.samples})}
        by_worker = {worker: dict(Counter(s.status for s in self.samples if s.worker == worker))
                     for worker in sorted(self.workers())}
        errors = Counter(s.error for s in self.samples if s.error)
        return (
            f"{len(self.samples)} requests in {self.elapsed:.2f} s ({rate:.0f}/s); statuses by tag {by_tag};"
            f" by worker {by_worker}; latency p50 {self.percentile(0.5) * 1000:.1f} ms,"
            f" p99 {self.percentile(0.99) * 1000:.1f} ms, max {self.percentile(1.0) * 1000:.1f} ms"
            + (f"; errors {dict(errors.most_common(5))}" if errors else "")
        )


class Load:
    """Requests to ``address`` from ``plan``, bounded by ``total`` and by ``seconds`` of wall time.

    :meth:`run` sends them all and reports; or :meth:`start` sends them in the background while
    the test changes the world, then :meth:`join` waits for the end. Leaving the ``with`` block
    stops sending.
    """

    def __init__(
        self,
        address: Address,
        plan: Plan,
        *,
        total: int,
        seconds: float,
        connections: int = 8,
        per_connection: int = 10,
        rate: float | None = None,
        path: str = "/whoami/",
        timeout: float = 5.0,
    ) -> None:
        self.address = address
        self.plan = plan
        self.total = total
        self.seconds = seconds
        self.connections = connections
        self.per_connection = per_connection
        self.rate = rate
        self.path = path
        self.timeout = timeout
        self._samples: list[Sample] = []
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = 0.0
        self._ended: float | None = None

    def run(self) -> Report:
        """Send every request (or until the wall-clock limit) and report."""
        return self.start().join()

    def start(self) -> Load:
        """Start sending in background threads."""
        self._started = time.monotonic()
        self._threads = [threading.Thread(target=self._worker, name=f"load-{n}", daemon=True)
                         for n in range(self.connections)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Send no more requests (those under way finish)."""
        self._stop.set()

    def join(self) -> Report:
        """Wait until every request is sent or the time is up; the report."""
        limit = self._started + self.seconds + self.timeout + 5
        for thread in self._threads:
            thread.join(max(0.0, limit - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            raise RuntimeError("the load generator's threads did not end")
        self._ended = self._ended or time.monotonic()
        return self.report()

    def report(self) -> Report:
        """The samples so far."""
        end = self._ended if self._ended is not None else time.monotonic()
        return Report(list(self._samples), end - self._started)

    def until(self, condition: Callable[[Report], bool], timeout: float, poll: float = 0.05) -> bool:
        """Wait at most ``timeout`` seconds for ``condition(report so far)``; whether it came true."""
        deadline = time.monotonic() + timeout
        while not condition(self.report()):
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)
        return True

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.join()

    def _claim(self) -> int | None:
        with self._lock:
            index = self._next
            if index >= self.total:
                return None
            self._next += 1
        return index

    def _worker(self) -> None:
        deadline = self._started + self.seconds
        conn = _Connection(self.address, self.timeout)
        try:
            while not self._stop.is_set():
                index = self._claim()
                if index is None:
                    return
                if self.rate is not None:
                    # Paced: request i leaves at i / rate seconds after the start, not before.
                    self._stop.wait(max(0.0, self._started + index / self.rate - time.monotonic()))
                if self._stop.is_set() or time.monotonic() >= deadline:
                    return
                tag, headers = self.plan(index)
                head = "".join([f"GET {self.path} HTTP/1.1\r\nHost: {conn.host}\r\n",
                                *(f"{name}: {value}\r\n" for name, value in headers.items()), "\r\n"])
                if conn.sent >= self.per_connection:
                    conn.close()
                sent = time.monotonic()
                status, worker, error = conn.send(head.encode("latin-1"))
                self._samples.append(Sample(tag, sent, time.monotonic() - sent, status, worker, error))
        finally:
            conn.close()


class _Connection:
    """One keep-alive connection: a request out, the status and worker of its whole answer back."""

    def __init__(self, address: Address, timeout: float) -> None:
        self.address = address
        self.host = f"{address[0]}:{address[1]}"
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.sent = 0

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer, self.sent = None, b"", 0

    def send(self, request: bytes) -> tuple[int, int, str]:
        """The status and worker of the answer to ``request`` (status 0 and the error when none came)."""
        # A reused connection may have been closed by the server while idle: sent again once.
        retry = self.sock is not None
        while True:
            try:
                return *self._exchange(request), ""
            except OSError as exc:
                self.close()
                if not (retry and isinstance(exc, _STALE_CONNECTION)):
                    return 0, 0, "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
                retry = False

    def _exchange(self, request: bytes) -> tuple[int, int]:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sent += 1
        self.sock.sendall(request)
        lines = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip().lower()
        if "content-length" in fields:
            self._read_exactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding") == "chunked":
            while size := int(self._read_until(b"\r\n").split(b";")[0], 16):
                self._read_exactly(size + 2)
            self._read_until(b"\r\n")  # no trailers are sent to us
        else:
            fields["connection"] = "close"  # the body ends with the connection
        if fields.get("connection") == "close":
            self.close()
        return status, int(fields.get("x-worker-pid", "0"))

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _Closed("the server closed the connection")
        self.buffer += chunk

    def _read_until(self, marker: bytes) -> bytes:
        while (end := self.buffer.find(marker)) < 0:
            self._fill()
        data, self.buffer = self.buffer[:end], self.buffer[end + len(marker):]
        return data

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data
