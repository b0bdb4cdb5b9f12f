"""The dashboard's page, assets and data document, against fake and absent Prometheus servers."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.trace import SpanKind

from otelpipe.stack.ephemeral import BlackHole
from processors.api import OWN_ROUTES, PREFIX, performance_app
from processors.dashboard import Dashboard, Prometheus, dashboard_router
from processors.dashboard.document import cache_rating
from processors.dashboard.queries import WINDOWS, Queries
from processors.grading import GradingProcessor
from tests.processors.spans import span
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
NOW = 50_000.0


def _sample(value: float, **labels: str) -> dict[str, Any]:
    return {"metric": labels, "value": [NOW, str(value)]}


class FakePrometheus(Prometheus):
    """Answers the dashboard's queries with fixed figures for two routes."""

    def instant(self, promql: str, at: float) -> list[dict[str, Any]]:
        if promql.startswith("sort_desc"):
            return [_sample(30, service_name="orders"), _sample(3, service_name="billing")]
        if "cache_requests" in promql:
            return [_sample(90, cache_tier="L1", cache_result="hit"),
                    _sample(10, cache_tier="L1", cache_result="miss")]  # fmt: skip
        if promql.startswith("histogram_quantile(0.95, sum by (le)"):
            return [_sample(0.9)]
        if promql.startswith("histogram_quantile"):
            q = float(re.match(r"histogram_quantile\(([\d.]+)", promql).group(1))  # type: ignore[union-attr]
            return [_sample(q, http_route="/slow"), _sample(q / 100, http_route="/fast"),
                    _sample(float("nan"), http_route="/idle")]  # fmt: skip
        if "_sum" in promql:
            return [_sample(12.0, http_route="/slow"), _sample(0.2, http_route="/fast")]
        if "5.." in promql:
            return [_sample(1, http_route="/slow")]
        if "_count" in promql:
            return [_sample(10, http_route="/slow"), _sample(20, http_route="/fast"),
                    _sample(0, http_route="/idle")]  # fmt: skip
        if "otelpipe_prd_grade" in promql:
            return [_sample(4, category="database"), _sample(1, category="cache_l1")]
        if "otelpipe_prd_compliance" in promql:
            return [_sample(99.5, category="database")]
        raise AssertionError(f"unexpected query {promql}")

    def range(self, promql: str, start: float, end: float, step_s: int) -> list[dict[str, Any]]:
        return [{"metric": {}, "values": [[start, "0.01"], [start + 2 * step_s, "NaN"]]}]

    def alerts(self) -> list[dict[str, Any]]:
        firing = {"state": "firing", "activeAt": "2026-01-01T00:00:00Z",
                  "annotations": {"summary": "orders: p95 too high"}}  # fmt: skip
        return [
            {**firing, "labels": {"alertname": "HighAPILatency", "severity": "warning",
                                  "service_name": "orders"}},
            {**firing, "labels": {"alertname": "HighAPILatency", "service_name": "billing"}},
            {**firing, "state": "pending", "labels": {"alertname": "Other"}},
        ]  # fmt: skip


def _client(dashboard: Dashboard) -> TestClient:
    app = FastAPI()
    app.include_router(dashboard_router(dashboard))
    return TestClient(app)


@pytest.fixture
def grading() -> Iterator[GradingProcessor]:
    processor = GradingProcessor(interval_s=60, clock=lambda: NOW)
    for _ in range(30):
        processor.on_end(span(120.0, end_s=NOW, otelpipe__category="authentication"))
        processor.on_end(span(900.0, end_s=NOW, kind=SpanKind.SERVER, http__route="/slow"))
    yield processor
    processor.shutdown()


def test_page_and_its_assets_are_served() -> None:
    client = _client(Dashboard(Prometheus("http://127.0.0.1:1"), OWN_ROUTES))
    page = client.get("/dashboard")
    assert page.headers["content-type"].startswith("text/html")
    for asset in re.findall(r'(?:src|href)="(dashboard/static/[^"]+)"', page.text):
        response = client.get(f"/{asset}")
        assert response.status_code == 200 and response.content, asset
    assert client.get("/dashboard/static/../web.py").status_code == 404
    assert client.get("/dashboard/static/index.html").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [({"window": "2h"}, "window"), ({"window": ""}, "window"), ({"service": "x" * 201}, "service")],
)
def test_bad_parameters_answer_422_naming_them(params: dict[str, str], field: str) -> None:
    client = _client(Dashboard(Prometheus("http://127.0.0.1:1"), OWN_ROUTES))
    response = client.get("/dashboard/data", params=params)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["query", field]]


def test_unreachable_prometheus_is_said_and_grading_still_shows(grading: GradingProcessor) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    app = FastAPI()
    app.mount(PREFIX, performance_app(grading, service_name="orders", prometheus_url=url))
    body = TestClient(app).get(f"{PREFIX}/dashboard/data").json()
    assert body["prometheus"]["ok"] is False
    assert body["prometheus"]["error"].startswith(f"Prometheus at {url} is unreachable")
    assert body["overview"] is None and body["routes"] == [] and body["trend"] is None
    assert {c["category"] for c in body["grades"]["categories"]} == {
        "authentication",
        "http_public",
    }
    assert body["alerts"]["active"][0]["name"] == "authentication"


def test_a_prometheus_that_never_answers_times_out_with_a_message() -> None:
    with BlackHole() as hole:
        client = _client(Dashboard(Prometheus(hole.url, timeout_s=0.5), OWN_ROUTES))
        body = client.get("/dashboard/data", params={"window": "7d"}).json()
    assert body["prometheus"]["ok"] is False
    assert "unreachable" in body["prometheus"]["error"]
    assert "timed out" in body["prometheus"]["error"]


class _Rejects(BaseHTTPRequestHandler):
    """Answers like Prometheus does a PromQL syntax error."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"})
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def test_a_rejected_query_is_reported_with_prometheus_reason() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Rejects)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        body = Dashboard(Prometheus(url), OWN_ROUTES).document(WINDOWS["1h"])
    finally:
        server.shutdown()
    assert body["prometheus"] == {
        "url": url,
        "ok": False,
        "error": f"Prometheus at {url} rejected a query: parse error",
    }


def test_standalone_document_from_prometheus_only() -> None:
    body = Dashboard(FakePrometheus("http://prometheus"), OWN_ROUTES).document(WINDOWS["24h"])
    assert body["mode"] == "standalone"
    assert body["services"] == ["orders", "billing"] and body["service"] == "orders"
    assert [r["route"] for r in body["routes"]] == ["/slow", "/fast"]  # no requests: no row
    slow = body["routes"][0]
    assert slow == {"route": "/slow", "requests": 10, "error_rate": 10.0, "avg_ms": 1200.0,
                    "p50_ms": 500.0, "p95_ms": 950.0, "p99_ms": 990.0,
                    "cache_hit_rate": None, "severity": "slow"}  # fmt: skip
    overview = body["overview"]
    assert overview["requests"] == 30
    assert overview["avg_ms"] == pytest.approx(12200 / 30, abs=0.01)
    assert overview["p95_ms"] == 900.0 and overview["error_rate"] == pytest.approx(3.333)
    assert (overview["cache_hit_rate"], overview["cache_rating"]) == (90.0, "excellent")
    assert overview["slowest_route"] == {"route": "/slow", "p95_ms": 950.0, "severity": "slow"}
    assert body["health"]["grade"] and body["health"]["cache"] == 90.0
    assert body["cache"]["tiers"] == {"L1": 90.0} and body["cache"]["per_route"] is False
    trend = body["trend"]
    assert trend["step_s"] == 900 and len(trend["timestamps"]) == 97
    assert trend["avg_ms"][0] == 10.0 and trend["avg_ms"][1:3] == [None, None]
    assert body["grades"]["categories"] == [
        {"category": "cache_l1", "grade": "D", "compliance": None},
        {"category": "database", "grade": "A", "compliance": 99.5},
    ]
    assert [(a["name"], a["message"]) for a in body["alerts"]["active"]] == [
        ("HighAPILatency", "orders: p95 too high")
    ]


def test_in_service_document_adds_the_grading_state(grading: GradingProcessor) -> None:
    dashboard = Dashboard(FakePrometheus("http://prometheus"), OWN_ROUTES, "billing", grading)
    body = dashboard.document(WINDOWS["1h"], service="ignored")
    assert body["mode"] == "service" and body["service"] == "billing"
    assert body["services"] == ["billing"]
    assert body["grades"]["source"] == "performance API, window 1h"
    assert body["cache"]["per_route"] is True and body["cache"]["none"][0]["route"] == "/slow"
    assert body["alerts"]["active"][0]["severity"] == "critical"


def test_queries_quote_the_service_and_leave_out_the_performance_api() -> None:
    q = Queries('we"ird\\', WINDOWS["7d"], OWN_ROUTES)
    selector = (
        "http_server_request_duration_seconds_count"
        '{service_name="we\\"ird\\\\", http_route!~"/api/v1/performance/.*"}'
    )
    assert q.route_requests() == (
        f"sum by (http_route) ((last_over_time({selector}[7d]) unless {selector} offset 7d)"
        f" or increase({selector}[7d]))"
    )
    assert q.trend_p95().endswith("[3600s]))")


@pytest.mark.parametrize(
    ("rate", "rating"), [(None, None), (95, "excellent"), (70, "good"), (55, "fair"), (3, "poor")]
)
def test_cache_rating(rate: float | None, rating: str | None) -> None:
    assert cache_rating(rate) == rating


def test_vendored_chart_library_is_the_version_the_script_fetches() -> None:
    version = re.search(r"UPLOT_VERSION=(\S+)", (ROOT / "scripts/vendor-chart.sh").read_text())
    vendor = ROOT / "processors/dashboard/static/vendor"
    assert version and (vendor / "uPlot.iife.min.js").read_text().startswith(
        f"/*! https://github.com/leeoniya/uPlot (v{version.group(1)}) */"
    )
    assert "MIT License" in (vendor / "uPlot.LICENSE").read_text()
