"""The main job, ``otelpipe demo``, on a short run: its summary agrees with the backends."""

from __future__ import annotations

import pytest

from otelpipe import stack
from otelpipe.demo import DemoSummary, run_demo
from otelpipe.queries import jaeger_traces, prometheus_query

pytestmark = pytest.mark.e2e
GRADE_POINTS = {"A": 4, "B": 3, "C": 2, "D": 1, "F": 0}
#: The load tool's endpoint names and the route templates the gateway reports.
ROUTES = {
    "GET /items/{id}": "/items/{item_id}",
    "POST /checkout/{id}?fail_rate=0.02": "/checkout/{item_id}",
    "GET /error": "/error",
}


@pytest.fixture(scope="module")
def summary(stack_settings: stack.StackSettings) -> DemoSummary:
    return run_demo(stack_settings, duration_s=5, progress=lambda _: None)


def _by_route(settings: stack.StackSettings, metric: str, run_id: str) -> dict[str, float]:
    result = prometheus_query(
        settings.url("prometheus"),
        f'sum by (http_route) (max_over_time({metric}{{service_name="gateway", '
        f'otelpipe_run_id="{run_id}"}}[1h]))',
    )
    return {r["metric"]["http_route"]: float(r["value"][1]) for r in result}


def test_every_request_the_load_sent_is_counted_per_route_in_prometheus(
    stack_settings: stack.StackSettings, summary: DemoSummary
) -> None:
    sent = {ROUTES[e["endpoint"]]: e["requests"] for e in summary.load["endpoints"]}
    counted = _by_route(
        stack_settings, "http_server_request_duration_seconds_count", summary.run_id
    )
    assert {route: counted.get(route) for route in sent} == sent
    assert counted["/reports/slow"] == 1
    assert summary.requests_in_prometheus == sum(sent.values()) + 1


def test_each_checkout_is_one_trace_across_gateway_and_payments(
    stack_settings: stack.StackSettings, summary: DemoSummary
) -> None:
    (checkouts,) = [e for e in summary.load["endpoints"] if e["endpoint"].startswith("POST")]
    assert summary.distributed_traces == checkouts["requests"] > 0
    payments = jaeger_traces(
        stack_settings.url("jaeger_query"),
        "payments",
        operation="POST /payments",
        tags={"otelpipe.run_id": summary.run_id},
        limit=10 * checkouts["requests"],
    )
    assert len(payments) == checkouts["requests"]
    for trace in payments:
        services = {p["serviceName"] for p in trace["processes"].values()}
        assert services == {"gateway", "payments"}
        operations = {s["operationName"] for s in trace["spans"]}
        assert {"POST /checkout/{item_id}", "POST /payments", "cardprovider charge"} <= operations
    assert summary.traces_in_jaeger >= summary.requests_in_prometheus


def test_grades_in_the_summary_are_the_grades_in_prometheus(
    stack_settings: stack.StackSettings, summary: DemoSummary
) -> None:
    for service in ("gateway", "payments"):
        grades = summary.performance[service]["prd_compliance"]
        result = prometheus_query(
            stack_settings.url("prometheus"),
            f'last_over_time(otelpipe_prd_grade{{service_name="{service}", '
            f'otelpipe_run_id="{summary.run_id}"}}[5m])',
        )
        in_prometheus = {r["metric"]["category"]: float(r["value"][1]) for r in result}
        assert in_prometheus == {name: GRADE_POINTS[g["grade"]] for name, g in grades.items()}


def test_the_summary_points_at_the_slow_query_log_and_the_load_report(
    summary: DemoSummary,
) -> None:
    slow = summary.performance["gateway"]["slow_queries"]
    assert slow["count"] >= 1 and slow["log_file"] == summary.slow_query_logs["gateway"]
    with open(summary.slow_query_logs["gateway"]) as log:
        assert "sleep_ms" in log.read()
    assert summary.load_report.endswith(f"load-{summary.run_id}.json")
