"""A request to an instrumented service lands in Jaeger, Prometheus and log storage."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import redis

from otelpipe import stack
from otelpipe.demo import GATEWAY_APP, ServiceProcess, start_service
from otelpipe.queries import iter_log_records, jaeger_traces, prometheus_query
from tests.support import eventually, free_port

pytestmark = pytest.mark.e2e

OPERATION = "GET /items/{item_id}"


@pytest.fixture(scope="module")
def served(stack_settings: stack.StackSettings, gateway: ServiceProcess) -> list[dict[str, Any]]:
    """Requests that go to the database (7, 8), the L1 cache (7 again) and Redis (9, pre-set)."""
    cache = redis.Redis(port=stack_settings.ports["redis"])
    cache.delete("item:7", "item:8")  # other tests share this Redis
    cache.set("item:9", "item-9", ex=60)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        bodies = [client.get(f"/items/{item}").raise_for_status().json() for item in (7, 7, 8, 9)]
    assert [b["source"] for b in bodies] == ["db", "l1", "db", "l2"]
    return bodies


def _trace_with_redis_child(settings: stack.StackSettings, service: str) -> dict[str, Any] | None:
    for trace in jaeger_traces(settings.url("jaeger_query"), service, operation=OPERATION):
        spans = trace["spans"]
        servers = [s for s in spans if s["operationName"] == OPERATION]
        redis = [
            s
            for s in spans
            if any(t["key"] == "db.system" and t["value"] == "redis" for t in s["tags"])
        ]
        if servers and redis:
            return {"trace": trace, "server": servers[0], "redis": redis}
    return None


def test_trace_in_jaeger_has_server_span_and_redis_child(
    stack_settings: stack.StackSettings, gateway: ServiceProcess, served: list
) -> None:
    found = eventually(
        lambda: _trace_with_redis_child(stack_settings, gateway.name),
        what=f"a {OPERATION} trace with a Redis span in Jaeger",
    )
    server = found["server"]
    tags = {t["key"]: t["value"] for t in server["tags"]}
    assert tags["http.route"] == "/items/{item_id}"
    assert tags["span.kind"] == "server"
    for redis_span in found["redis"]:
        parents = [r["spanID"] for r in redis_span["references"] if r["refType"] == "CHILD_OF"]
        assert parents == [server["spanID"]], "the Redis span is a child of the server span"
    assert found["trace"]["processes"][server["processID"]]["serviceName"] == gateway.name


def _total(vector: list[dict[str, Any]]) -> float:
    return sum(float(sample["value"][1]) for sample in vector)


def test_request_histogram_and_spanmetrics_in_prometheus(
    stack_settings: stack.StackSettings, gateway: ServiceProcess, served: list
) -> None:
    url = stack_settings.url("prometheus")
    selector = f'service_name="{gateway.name}", http_route="/items/{{item_id}}"'
    counted = eventually(
        lambda: (
            _total(
                prometheus_query(url, f"http_server_request_duration_seconds_count{{{selector}}}")
            )
            >= len(served)
        ),
        what=f"{len(served)} requests in the request-duration histogram in Prometheus",
    )
    assert counted
    buckets = prometheus_query(url, f"http_server_request_duration_seconds_bucket{{{selector}}}")
    assert {s["metric"]["le"] for s in buckets} >= {"0.005", "+Inf"}

    server_calls = f'traces_span_metrics_calls_total{{{selector}, span_kind="SPAN_KIND_SERVER"}}'
    calls = eventually(
        lambda: _total(prometheus_query(url, server_calls)) >= len(served),
        what=f"{len(served)} spanmetrics calls for the server span in Prometheus",
    )
    assert calls
    assert prometheus_query(
        url, f'traces_span_metrics_duration_milliseconds_bucket{{service_name="{gateway.name}"}}'
    )


def test_log_records_in_log_storage_carry_the_trace_id(
    stack_settings: stack.StackSettings, gateway: ServiceProcess, served: list
) -> None:
    found = eventually(
        lambda: _trace_with_redis_child(stack_settings, gateway.name),
        what="a trace to match logs against",
    )
    trace_id = found["trace"]["traceID"]

    def matching_records() -> list[dict[str, Any]]:
        return [
            r
            for r in iter_log_records(stack_settings.telemetry_logs_dir)
            if r["service.name"] == gateway.name and r.get("traceId") == trace_id
        ]

    records = eventually(
        matching_records, what=f"log records with trace id {trace_id} in log storage"
    )
    assert records[0]["body"]["stringValue"] == "item served"
    assert records[0]["spanId"] == found["server"]["spanID"]


def test_service_stdout_is_json_lines_with_trace_ids(gateway: ServiceProcess, served: list) -> None:
    import json

    lines = [json.loads(line) for line in gateway.log.read_text().splitlines() if line.strip()]
    served_lines = [line for line in lines if line.get("event") == "item served"]
    assert len(served_lines) >= len(served)
    for line in served_lines:
        assert len(line["trace_id"]) == 32 and len(line["span_id"]) == 16
        assert line["service"] == gateway.name and line["level"] == "info"


def test_redis_cache_hits_and_misses_reach_prometheus(
    stack_settings: stack.StackSettings, gateway: ServiceProcess, served: list
) -> None:
    url = stack_settings.url("prometheus")

    def counts() -> dict[str, float]:
        vector = prometheus_query(
            url, f'otelpipe_cache_requests_total{{service_name="{gateway.name}", cache_tier="L2"}}'
        )
        return {s["metric"]["cache_result"]: float(s["value"][1]) for s in vector}

    found = eventually(
        lambda: (c := counts()).get("hit", 0) >= 1 and c.get("miss", 0) >= 2 and c,
        what="1 hit and 2 misses counted",
    )
    assert (found["hit"], found["miss"]) == (1, 2)  # 9 hit; 7 and 8 missed (7 again was L1)


@pytest.mark.parametrize(
    "metric",
    [
        "process_memory_usage_bytes",  # process metrics
        "process_cpu_utilization_ratio",
        "system_memory_usage_bytes",  # host metrics
        "process_open_file_descriptor_count",
        "http_server_active_requests",  # active requests (up-down counter)
        "otel_sdk_processor_span_processed_total",  # the SDK's own health metrics
    ],
)
def test_system_process_and_sdk_metrics_reach_prometheus(
    stack_settings: stack.StackSettings, gateway: ServiceProcess, served: list, metric: str
) -> None:
    eventually(
        lambda: prometheus_query(
            stack_settings.url("prometheus"), f'{metric}{{service_name="{gateway.name}"}}'
        ),
        what=f"{metric} for the gateway in Prometheus",
    )


def test_a_service_exporting_over_otlp_http_lands_in_jaeger(
    stack_settings: stack.StackSettings, payments: ServiceProcess
) -> None:
    """The HTTP span exporter (our encoder, the SDK's transport) as the collector takes it."""
    service = start_service(
        stack_settings, app=GATEWAY_APP, port=free_port(),
        service=f"http-e2e-{uuid.uuid4().hex[:8]}",
        extra_env={"PAYMENTS_URL": payments.url,
                   "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                   "OTEL_EXPORTER_OTLP_ENDPOINT": stack_settings.url("otlp_http")},
    )  # fmt: skip
    try:
        with httpx.Client(base_url=service.url, timeout=10) as client:
            client.get("/items/8").raise_for_status()
        found = eventually(
            lambda: _trace_with_redis_child(stack_settings, service.name),
            what=f"a {OPERATION} trace of {service.name}, sent over OTLP/HTTP, in Jaeger",
        )
    finally:
        service.stop()
    tags = {t["key"]: t["value"] for t in found["server"]["tags"]}
    assert tags["http.route"] == "/items/{item_id}"
    assert tags["http.response.status_code"] == 200
