"""Small helpers shared by unit and end-to-end tests."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from bench.proc import rss_mb
from otelpipe.stack.ephemeral import free_port

__all__ = [
    "RssPeaks",
    "counts_by_error_type",
    "eventually",
    "free_port",
    "http_posts",
    "service_log",
]

T = TypeVar("T")


def eventually(probe: Callable[[], T], *, timeout_s: float = 60.0, what: str) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: nothing after {timeout_s:.0f}s")
        time.sleep(1.0)


class RssPeaks(threading.Thread):
    """Samples the resident memory of some processes every ``every_s``; keeps each peak."""

    def __init__(self, pids: dict[str, int], every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pids = dict(pids)
        self.every_s = every_s
        self.peak_mb: dict[str, float] = dict.fromkeys(pids, 0.0)
        self.samples: dict[str, list[float]] = {name: [] for name in pids}
        self._stop_event = threading.Event()

    def sample(self) -> None:
        for name, pid in self.pids.items():
            try:
                mb = rss_mb(pid)
            except (OSError, RuntimeError):  # gone (or a zombie): nothing to add
                continue
            self.samples[name].append(mb)
            self.peak_mb[name] = max(self.peak_mb[name], mb)

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.every_s)

    def stop(self) -> dict[str, float]:
        self._stop_event.set()
        self.join(5)
        return self.peak_mb

    def __enter__(self) -> RssPeaks:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def service_log(path: Path) -> list[dict[str, Any]]:
    """The JSON lines a demo service wrote (``ServiceProcess.log``)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def metric_points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """Every data point of metric ``name`` that ``reader`` collects (none before any)."""
    data = reader.get_metrics_data()
    if data is None:  # nothing recorded yet in this process
        return []
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def counts_by_error_type(reader: InMemoryMetricReader, name: str) -> dict[str | None, int]:
    """The points of counter ``name`` in ``reader`` by ``error.type`` (``None``: no error)."""
    return {
        (point.attributes or {}).get("error.type"): point.value
        for point in metric_points(reader, name)
    }


class _Posts(http.server.BaseHTTPRequestHandler):
    """Keeps the path and body of each POST (``server.posts``) and answers 200."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def http_posts() -> Iterator[tuple[list[tuple[str, bytes]], str]]:
    """An HTTP server on a free local port that accepts every POST: yields the
    (path, body) of each POST so far and the server's base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Posts)
    server.posts = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.posts, f"http://127.0.0.1:{server.server_port}"  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
