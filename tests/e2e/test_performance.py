"""The demo gateway under load: grades in the performance API, the same numbers in Prometheus,
and slow queries in the slow-query log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from otelpipe import stack
from otelpipe.demo import GATEWAY_APP, ServiceProcess, start_service
from otelpipe.queries import prometheus_query
from processors.grading import grade_points
from tests.support import eventually, free_port

pytestmark = pytest.mark.e2e
API = "/api/v1/performance"


@pytest.fixture(scope="module")
def loaded(stack_settings: stack.StackSettings) -> Iterator[tuple[ServiceProcess, Path]]:
    slow_log = stack_settings.logs_dir / f"slow-{uuid.uuid4().hex[:8]}.jsonl"
    service = start_service(
        stack_settings, app=GATEWAY_APP, port=free_port(),
        service=f"perf-e2e-{uuid.uuid4().hex[:8]}",
        extra_env={"OTELPIPE_SLOW_QUERY_THRESHOLD": "0.2", "OTELPIPE_SLOW_QUERY_CRITICAL": "1",
                   "OTELPIPE_SLOW_QUERY_LOG": str(slow_log)},
    )  # fmt: skip
    with ThreadPoolExecutor(4) as pool, httpx.Client(base_url=service.url, timeout=10) as client:
        statuses = list(pool.map(lambda i: client.get(f"/items/{i % 40 + 101}").status_code,
                                 range(400)))  # fmt: skip
        assert set(statuses) == {200}
        for delay in (300, 400):
            client.get("/reports/slow", params={"delay_ms": delay}).raise_for_status()
    yield service, slow_log
    service.stop()


def _api(service: ServiceProcess, path: str, **params: Any) -> dict[str, Any]:
    return (
        httpx.get(f"{service.url}{API}{path}", params=params, timeout=10).raise_for_status().json()
    )


def test_api_grades_every_category_the_gateway_exercises(loaded) -> None:  # type: ignore[no-untyped-def]
    service, _ = loaded
    body = _api(service, "/metrics", window="5m")
    graded = body["metrics_by_category"]
    assert set(graded) >= {"authentication", "cache_l1", "cache_l2", "database", "http_public"}
    assert graded["authentication"]["count"] == 400
    assert graded["authentication"]["grade"] == "A"  # 2 ms against a 30 ms grade-A bound
    # 40 distinct items (none of those the price job preloads), 400 requests:
    # L1 misses only the first time round.
    assert graded["cache_l1"]["hit_rate"] == pytest.approx(90.0, abs=1.0)
    assert graded["cache_l1"]["grade"] == "F"
    assert body["overall_grade"] in "ABCDF"


def test_prometheus_holds_the_same_grades(  # type: ignore[no-untyped-def]
    stack_settings: stack.StackSettings, loaded
) -> None:
    service, _ = loaded
    api = {
        c: r["grade"]
        for c, r in _api(service, "/metrics", window="5m")["metrics_by_category"].items()
    }

    def grades_in_prometheus() -> dict[str, float] | None:
        vector = prometheus_query(
            stack_settings.url("prometheus"), f'otelpipe_prd_grade{{service_name="{service.name}"}}'
        )
        found = {s["metric"]["category"]: float(s["value"][1]) for s in vector}
        expected = {c: float(grade_points(g)) for c, g in api.items()}
        return found if found == expected else None

    eventually(grades_in_prometheus, what=f"Prometheus grades equal to the API's {api}")

    # The gateway's price job adds spans every few seconds, so the score moves; Prometheus
    # holds the last export's. Both are read again until they agree.
    def health_in_prometheus() -> tuple[float, float] | None:
        health = _api(service, "/health", window="5m")["health_score"]["score"]
        vector = prometheus_query(
            stack_settings.url("prometheus"),
            f'otelpipe_health_score{{service_name="{service.name}"}}',
        )
        found = float(vector[0]["value"][1]) if vector else None
        return (found, health) if found == pytest.approx(health, abs=0.5) else None

    eventually(health_in_prometheus, what="the health score in Prometheus equal to the API's")


def test_slow_queries_are_logged_sanitised_and_counted(  # type: ignore[no-untyped-def]
    stack_settings: stack.StackSettings, loaded
) -> None:
    service, slow_log = loaded

    def logged() -> list[dict[str, Any]] | None:
        # The processors' worker writes a span up to half a second after it ends.
        found = [json.loads(line) for line in slow_log.read_text().splitlines()]
        return found if len(found) >= 2 else None

    lines = eventually(logged, timeout_s=10, what=f"the two slow queries in {slow_log}")
    assert [(line["threshold_type"], line["db_system"]) for line in lines] == [
        ("slow", "sqlite"),
        ("slow", "sqlite"),
    ]
    assert all(line["statement"] == "SELECT sleep_ms(?), count(*) FROM items" for line in lines)
    assert {line["service"] for line in lines} == {service.name}
    query = f'otelpipe_db_slow_queries_total{{service_name="{service.name}", severity="slow"}}'

    def two_counted() -> bool:
        vector = prometheus_query(stack_settings.url("prometheus"), query)
        return bool(vector) and float(vector[0]["value"][1]) == 2

    eventually(two_counted, what="2 slow queries counted in Prometheus")
    summary = _api(service, "/report")["slow_queries"]
    assert summary["count"] == 2 and summary["by_severity"] == {"slow": 2}
