"""Tail sampling: off by default (every trace reaches Jaeger); below 100% it keeps
every error and every slow trace and that percentage of the rest."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import StatusCode

from otelpipe import stack
from otelpipe.queries import jaeger_traces
from otelpipe.stack.ephemeral import ephemeral_stack
from tests.support import eventually

pytestmark = pytest.mark.e2e

ORDINARY = [f"ordinary {n}" for n in range(5)]
KEPT_ALWAYS = {"failed", "slow"}
#: Longer than the decision wait plus the collector's batch timeout.
SETTLE_S = 4.0


def _send_traces(settings: stack.StackSettings) -> tuple[str, float]:
    """Five ordinary traces, one failed, one slower than 1 s; their service and start."""
    service = f"sampling-{uuid.uuid4().hex[:8]}"
    since = time.time() - 5
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = OTLPSpanExporter(endpoint=settings.url("otlp_grpc"), insecure=True)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.e2e.sampling")
    for name in ORDINARY:
        tracer.start_span(name).end()
    with tracer.start_as_current_span("failed", record_exception=False) as span:
        span.set_status(StatusCode.ERROR, "boom")
    now = time.time_ns()
    tracer.start_span("slow", start_time=now - 1_500_000_000).end(end_time=now)
    assert provider.force_flush(10_000)
    provider.shutdown()
    return service, since


def _operations(settings: stack.StackSettings, service: str, since: float) -> set[str]:
    traces = jaeger_traces(settings.url("jaeger_query"), service, since=since)
    return {span["operationName"] for trace in traces for span in trace["spans"]}


def test_without_sampling_every_trace_reaches_jaeger(stack_settings: stack.StackSettings) -> None:
    assert not stack_settings.tail_sampling
    service, since = _send_traces(stack_settings)
    eventually(
        lambda: _operations(stack_settings, service, since) == {*ORDINARY, *KEPT_ALWAYS},
        what="all seven traces in Jaeger",
    )


def test_at_zero_percent_only_failed_and_slow_traces_reach_jaeger(tmp_path: Path) -> None:
    env = {"OTELPIPE_TRACE_SAMPLE_PERCENT": "0", "OTELPIPE_TAIL_SAMPLING_DECISION_WAIT": "1s"}
    with ephemeral_stack(tmp_path / "home", extra_env=env) as settings:
        assert settings.tail_sampling
        service, since = _send_traces(settings)
        eventually(
            lambda: _operations(settings, service, since) >= KEPT_ALWAYS,
            what="the failed and the slow trace in Jaeger",
        )
        # The ordinary traces were decided on in the same tick; give them time to show up.
        time.sleep(SETTLE_S)
        assert _operations(settings, service, since) == KEPT_ALWAYS
