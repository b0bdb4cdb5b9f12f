"""Grades, compliance, windows, routes and alerts on span streams with known answers."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanContext, SpanKind

from processors.grading import (
    OTHER_ROUTE,
    ROUTE_LIMIT,
    GradingProcessor,
    GradingState,
    finished,
    overall_grade,
)
from processors.targets import load_targets
from tests.processors.spans import span

NOW = 10_000.0


@pytest.fixture
def state() -> GradingState:
    return GradingState(load_targets())


def _feed(state: GradingState, durations, *, end_s: float = NOW, **attributes) -> None:  # type: ignore[no-untyped-def]
    for duration in durations:
        state.record(span(duration, end_s=end_s, **attributes))


def _report(state: GradingState, category: str, window: str = "1m", now: float = NOW):  # type: ignore[no-untyped-def]
    return next((r for r in state.categories(window, now) if r.category == category), None)


@pytest.mark.parametrize(
    ("p95_ms", "grade"),
    [
        (29.9, "A"),
        (30.0, "B"),
        (39.9, "B"),
        (40.0, "C"),
        (49.9, "C"),
        (50.0, "D"),
        (74.9, "D"),
        (75.0, "F"),
    ],
)
def test_authentication_grade_at_each_boundary(
    state: GradingState, p95_ms: float, grade: str
) -> None:
    _feed(state, [p95_ms] * 40, otelpipe__category="authentication")
    report = _report(state, "authentication")
    assert report is not None
    assert (report.grade, report.count) == (grade, 40)
    assert report.p95_ms == pytest.approx(p95_ms)


@pytest.mark.parametrize(
    ("hits", "grade"), [(99, "A"), (98, "B"), (97, "B"), (96, "C"), (95, "D"), (91, "D"), (90, "F")]
)
def test_l1_cache_grade_at_each_boundary(state: GradingState, hits: int, grade: str) -> None:
    _feed(state, [0.2] * hits, otelpipe__category="cache", cache__tier="L1", cache__hit=True)
    _feed(
        state, [0.2] * (100 - hits), otelpipe__category="cache", cache__tier="L1", cache__hit=False
    )
    report = _report(state, "cache_l1")
    assert (report.grade, report.hit_rate) == (grade, pytest.approx(hits))
    assert report.compliance == pytest.approx(min(100.0, 100 * hits / 95), abs=0.01)


def test_redis_spans_count_as_l2_and_sql_spans_as_database(state: GradingState) -> None:
    _feed(state, [1.0] * 3, otelpipe__category="cache", cache__tier="L2", cache__hit=True)
    _feed(state, [12.0, 18.0, 30.0, 40.0], kind=SpanKind.CLIENT, db__system="postgresql")
    assert _report(state, "cache_l2").hit_rate == 100
    database = _report(state, "database")
    assert (database.count, database.compliance) == (4, 50.0)  # 12 and 18 are under 25 ms


def test_http_routes_are_classified_by_the_route_rules(state: GradingState) -> None:
    server = {"kind": SpanKind.SERVER, "otelpipe__category": "http"}
    _feed(state, [100.0], http__route="/api/v1/payments/{id}", **server)
    _feed(state, [100.0], http__route="/items/{item_id}", **server)
    _feed(state, [100.0], http__route="/admin/users", **server)
    graded = {r.category: r.count for r in state.categories("1m", NOW)}
    assert graded == {"http_payment": 1, "http_public": 1, "http_admin": 1}


def test_error_rate_above_the_objective_caps_the_grade_at_d(state: GradingState) -> None:
    server = {"kind": SpanKind.SERVER, "http__route": "/api/payments"}
    _feed(state, [50.0] * 99, **server)
    _feed(state, [50.0], error=True, **server)  # 1 % errors, objective 0.1 %
    report = _report(state, "http_payment")
    assert (report.grade, report.error_rate) == ("D", 1.0)


def test_windows_slide(state: GradingState) -> None:
    _feed(state, [10.0] * 5, end_s=NOW, otelpipe__category="database")
    later = NOW + 120
    assert _report(state, "database", "1m", later) is None
    assert _report(state, "database", "5m", later).count == 5
    assert _report(state, "database", "5m", NOW + 400) is None
    assert _report(state, "database", "1h", NOW + 400).count == 5
    assert _report(state, "database", "1d", NOW + 80_000).count == 5
    assert _report(state, "database", "1d", NOW + 90_000) is None


def test_overall_grade_is_the_mean_of_category_grades(state: GradingState) -> None:
    _feed(state, [20.0] * 10, otelpipe__category="authentication")  # A (4)
    _feed(state, [70.0] * 10, otelpipe__category="authorization")  # C (2)
    _feed(state, [100.0] * 10, otelpipe__category="database")  # F (0)
    assert overall_grade(state.categories("1m", NOW)) == "C"  # mean 2.0


def test_slowest_routes_with_severity_and_cache_hit_rate(state: GradingState) -> None:
    for trace_id, (route, duration, hit) in enumerate(
        [
            ("/fast", 20.0, True),
            ("/slow", 700.0, False),
            ("/slow", 700.0, True),
            ("/crawl", 1500.0, None),
        ],
        start=100,
    ):
        if hit is not None:
            state.record(
                span(
                    1.0,
                    end_s=NOW,
                    trace_id=trace_id,
                    otelpipe__category="cache",
                    cache__tier="L2",
                    cache__hit=hit,
                )
            )
        state.record(
            span(duration, end_s=NOW, trace_id=trace_id, kind=SpanKind.SERVER, http__route=route)
        )
    routes = state.routes(NOW, limit=10)
    assert [(r.route, r.severity) for r in routes] == [
        ("/crawl", "critical"),
        ("/slow", "slow"),
        ("/fast", "good"),
    ]
    assert [r.cache_hit_rate for r in routes] == [None, 50.0, 100.0]


def test_route_table_is_bounded(state: GradingState) -> None:
    for i in range(ROUTE_LIMIT + 50):
        state.record(span(5.0, end_s=NOW, kind=SpanKind.SERVER, http__route=f"/r{i}"))
    routes = state.routes(NOW, limit=10_000)
    assert len(routes) == ROUTE_LIMIT + 1
    assert next(r for r in routes if r.route == OTHER_ROUTE).requests == 50


def test_health_score_combines_latency_cache_and_errors(state: GradingState) -> None:
    _feed(state, [300.0] * 99, kind=SpanKind.SERVER, http__route="/x")
    _feed(state, [300.0], kind=SpanKind.SERVER, http__route="/x", error=True)
    _feed(state, [1.0] * 8, otelpipe__category="cache", cache__tier="L1", cache__hit=True)
    _feed(state, [1.0] * 2, otelpipe__category="cache", cache__tier="L1", cache__hit=False)
    health = state.health("1m", NOW)
    assert (health.latency, health.cache, health.errors) == (85.0, 80.0, 99.0)
    assert health.score == pytest.approx(0.4 * 85 + 0.3 * 80 + 0.3 * 99, abs=0.05)
    assert health.grade == "B+"


def test_processor_grades_spans_from_a_real_tracer() -> None:
    processor = GradingProcessor(interval_s=60)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    for _ in range(3):
        with tracer.start_as_current_span(
            "login", attributes={"otelpipe.category": "authentication"}
        ):
            pass
    reports = processor.read(lambda state, now: state.categories("1m", now))
    assert [(r.category, r.count, r.grade) for r in reports] == [("authentication", 3, "A")]
    provider.shutdown()


def test_a_span_it_cannot_read_is_skipped_and_counted_not_raised() -> None:
    processor = GradingProcessor(interval_s=60, clock=lambda: NOW)
    processor.on_end(object())  # type: ignore[arg-type]
    processor.on_end(span(1.0, end_s=NOW, otelpipe__category="database"))
    assert processor.skipped == 1
    reports = processor.read(lambda state, now: state.categories("1m", now))
    assert [(r.category, r.count) for r in reports] == [("database", 1)]
    processor.shutdown()


@pytest.mark.parametrize("held", ["plain dict", "sdk span", "none"])
def test_finished_reads_the_attributes_a_span_holds_without_copying_them(held: str) -> None:
    attributes = {"http.route": "/items/{id}", "http.response.status_code": 200}
    if held == "sdk span":
        made = (
            TracerProvider().get_tracer("t").start_span("GET", kind=SpanKind.SERVER, start_time=1)
        )
        made.set_attributes(attributes)
        made.end(end_time=3)
        ended: Any = made
    else:
        ended = ReadableSpan(
            "GET",
            SpanContext(1, 2, False),
            attributes=attributes if held == "plain dict" else None,
            kind=SpanKind.SERVER,
            start_time=1,
            end_time=3,
        )
    read, server, error, start, end, _trace = finished(ended)
    if held == "none":
        assert read == {}
    else:
        assert read == attributes
        # The span's own dict, not a proxy over it: looked up several times per span.
        assert type(read) is dict
    assert (server, error, end - start) == (True, False, 2)
