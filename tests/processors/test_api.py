"""The performance API answers with the grading state and validates its parameters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.trace import SpanKind

from processors.api import PREFIX, performance_app
from processors.grading import GradingProcessor
from processors.slow_queries import SlowQueryProcessor
from tests.processors.spans import span

NOW = 50_000.0


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    grading = GradingProcessor(interval_s=60, clock=lambda: NOW)
    slow = SlowQueryProcessor(tmp_path / "slow.jsonl", slow_s=0.1, critical_s=0.5)
    for _ in range(30):
        grading.on_end(span(120.0, end_s=NOW, otelpipe__category="authentication"))  # F, critical
        grading.on_end(span(10.0, end_s=NOW, otelpipe__category="database"))  # A
        grading.on_end(span(80.0, end_s=NOW, kind=SpanKind.SERVER, http__route="/items/{id}"))
    grading.on_end(span(1500.0, end_s=NOW, kind=SpanKind.SERVER, http__route="/reports"))
    slow.on_end(span(900.0, end_s=NOW, db__system="postgresql", db__statement="SELECT 1"))
    app = FastAPI()
    app.mount(PREFIX, performance_app(grading, slow))
    with TestClient(app) as test_client:
        yield test_client
    grading.shutdown()
    slow.shutdown()


def test_metrics(client: TestClient) -> None:
    body = client.get(f"{PREFIX}/metrics", params={"window": "1m"}).json()
    assert body["window"] == "1m"
    assert body["metrics_by_category"]["authentication"]["grade"] == "F"
    assert body["metrics_by_category"]["database"]["grade"] == "A"
    assert body["prd_compliance"]["database"] == 100.0
    assert body["active_alerts_count"] == 1


def test_health(client: TestClient) -> None:
    body = client.get(f"{PREFIX}/health").json()
    assert body["overall_status"] == "unhealthy"  # a critical alert is active
    assert body["component_health"]["database"] == {"grade": "A", "target_compliance": 100.0}
    assert 0 < body["health_score"]["score"] <= 100


def test_prd_compliance(client: TestClient) -> None:
    body = client.get(f"{PREFIX}/prd-compliance").json()
    assert body["compliance_summary"]["targets_failing"] >= 1
    assert body["overall_compliance_status"] == "poor"


def test_report_ranks_recommendations(client: TestClient) -> None:
    body = client.get(f"{PREFIX}/report", params={"limit": 5}).json()
    assert body["executive_summary"]["requests"] == 31
    assert body["slowest_routes"][0]["route"] == "/reports"
    assert body["slowest_routes"][0]["severity"] == "critical"
    priorities = [r["priority"] for r in body["recommendations"]]
    assert priorities == sorted(priorities, key=["high", "medium", "low"].index)
    issues = " ".join(r["issue"] for r in body["recommendations"])
    assert "authentication graded F" in issues and "/reports" in issues
    assert "critical slow queries" in issues
    assert body["slow_queries"]["count"] == 1


def test_alerts_and_routes(client: TestClient) -> None:
    alerts = client.get(f"{PREFIX}/alerts").json()
    assert [(a["category"], a["severity"], a["active"]) for a in alerts["active"]] == [
        ("authentication", "critical", True)
    ]
    routes = client.get(f"{PREFIX}/routes", params={"limit": 1}).json()["routes"]
    assert [r["route"] for r in routes] == ["/reports"]


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/metrics", {"window": "2h"}, "window"),
        ("/report", {"limit": 0}, "limit"),
        ("/alerts", {"limit": 1000}, "limit"),
        ("/routes", {"limit": "ten"}, "limit"),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(
    client: TestClient, path: str, params: dict, name: str
) -> None:
    response = client.get(f"{PREFIX}{path}", params=params)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", name]
