"""The manual helpers open categorised spans and record their metrics."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from otel_setup import track
from tests.support import metric_points


@pytest.mark.parametrize(
    ("operation", "category", "name"),
    [
        (track.authentication(method="password"), "authentication", "auth.authenticate password"),
        (track.authorization("orders", "read"), "authorization", "auth.authorize read orders"),
        (track.database("select", table="orders"), "database", "select orders"),
        (track.external("stripe", "create_payment"), "external_api", "stripe create_payment"),
    ],
)
def test_helpers_open_a_categorised_span(global_spans, operation, category, name) -> None:
    with operation:
        pass
    (span,) = global_spans.get_finished_spans()
    assert (span.name, span.attributes["otelpipe.category"]) == (name, category)


def test_an_operation_is_the_current_span_and_records_what_escapes_it(global_spans) -> None:
    outside = trace.get_current_span()
    with pytest.raises(ValueError), track.external("stripe", "create_payment") as op:
        assert trace.get_current_span() is op.span
        raise ValueError("card declined")
    assert trace.get_current_span() is outside

    (span,) = global_spans.get_finished_spans()
    assert (span.status.status_code, span.status.description) == (
        StatusCode.ERROR,
        "ValueError: card declined",
    )
    assert [(e.name, e.attributes["exception.type"]) for e in span.events] == [
        ("exception", "ValueError")
    ]


def test_cache_hits_and_misses_are_counted_by_tier(global_spans, global_metrics) -> None:
    before = {
        tuple(sorted(p.attributes.items())): p.value
        for p in metric_points(global_metrics, "otelpipe.cache.requests")
    }
    for hit in (True, False, True):
        with track.cache("l1", name="items") as op:
            op.hit = hit
    spans = global_spans.get_finished_spans()
    assert [s.attributes["cache.hit"] for s in spans] == [True, False, True]
    after = {
        tuple(sorted(p.attributes.items())): p.value
        for p in metric_points(global_metrics, "otelpipe.cache.requests")
    }
    hits = (("cache.result", "hit"), ("cache.tier", "L1"))
    misses = (("cache.result", "miss"), ("cache.tier", "L1"))
    assert after[hits] - before.get(hits, 0) == 2
    assert after[misses] - before.get(misses, 0) == 1


def test_unknown_cache_tier_is_refused() -> None:
    with pytest.raises(ValueError, match="L4"):
        track.cache("L4")


def test_job_decorator_records_duration_and_status_sync_and_async(
    global_spans, global_metrics
) -> None:
    @track.job("sync_job")
    def ok() -> int:
        return 1

    @track.job("async_job")
    async def failing() -> None:
        raise RuntimeError("boom")

    assert ok() == 1
    with pytest.raises(RuntimeError):
        asyncio.run(failing())
    statuses = {
        s.attributes["otelpipe.job.name"]: (
            s.attributes["otelpipe.job.status"],
            s.status.status_code.name,
        )
        for s in global_spans.get_finished_spans()
    }
    assert statuses == {"sync_job": ("ok", "UNSET"), "async_job": ("error", "ERROR")}
    recorded = {
        (p.attributes["otelpipe.job.name"], p.attributes["otelpipe.job.status"])
        for p in metric_points(global_metrics, "otelpipe.job.duration")
    }
    assert {("sync_job", "ok"), ("async_job", "error")} <= recorded


def test_pool_connections_go_up_and_down(global_metrics) -> None:
    def active() -> float:
        return sum(
            p.value
            for p in metric_points(global_metrics, "otelpipe.pool.connections.active")
            if p.attributes["otelpipe.pool.name"] == "primary"
        )

    with track.connection("primary"), track.connection("primary"):
        assert active() == 2
    assert active() == 0


def test_queue_size_and_wait(global_metrics) -> None:
    track.queue_size("emails", 12)
    track.queue_wait("emails", 0.25)
    (size,) = [
        p
        for p in metric_points(global_metrics, "otelpipe.queue.size")
        if p.attributes["otelpipe.queue.name"] == "emails"
    ]
    assert size.value == 12
    assert any(p.sum >= 0.25 for p in metric_points(global_metrics, "otelpipe.queue.wait_time"))
