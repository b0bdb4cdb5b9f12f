"""Grades, compliance, windows, routes and alerts on span streams with known answers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


_OPERATION = st.fixed_dictionaries(
    {
        "duration": st.sampled_from([1.0, 20.0, 60.0, 600.0]),
        "server": st.booleans(),
        "error": st.booleans(),
        "trace": st.integers(1, 4),
        "attributes": st.fixed_dictionaries(
            {},
            optional={
                "otelpipe.category": st.sampled_from(["cache", "http", "database", "odd", 7]),
                "cache.tier": st.sampled_from(["L1", "l3", 2]),
                "cache.hit": st.sampled_from([True, False, 1]),
                "http.route": st.sampled_from(["/items/{id}", "/api/payments", ("/x",)]),
                "db.system.name": st.just("postgresql"),
            },
        ),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_OPERATION, max_size=40))
def test_every_operation_counts_once_in_each_of_its_groups(operations: list[dict]) -> None:
    """Operations of one shape are counted together and spread over their groups on
    read: each group must see each operation on its own terms, as counted here one by one."""
    state = GradingState(load_targets())
    expected: dict[str, list[int]] = {}  # category: [count, errors, compliant, lookups, hits]
    http, routes, route_lookups = [0, 0], {}, {}
    trace_lookups: dict[int, list[int]] = {}
    for op in operations:
        attributes, server, error = op["attributes"], op["server"], op["error"]
        get = attributes.get
        hit = get("cache.hit") if isinstance(get("cache.hit"), bool) else None
        route = get("http.route") if isinstance(get("http.route"), str) else None
        database = "db.system.name" in attributes
        state.record(
            span(
                op["duration"],
                end_s=NOW,
                trace_id=op["trace"],
                error=error,
                kind=SpanKind.SERVER if server else SpanKind.INTERNAL,
                **{key.replace(".", "__"): value for key, value in attributes.items()},
            )
        )
        category = state.classify(
            server, get("otelpipe.category"), get("cache.tier"), route, database
        )
        if category is not None:
            target = state.targets.categories[category]
            compliant = op["duration"] < target.target if target.lower_is_better else bool(hit)
            counts = expected.setdefault(category, [0, 0, 0, 0, 0])
            for i, n in enumerate([1, error, compliant, hit is not None, bool(hit)]):
                counts[i] += n
        if hit is not None:
            seen = trace_lookups.setdefault(op["trace"], [0, 0])
            seen[0], seen[1] = seen[0] + 1, seen[1] + hit
        if server and route is not None:
            http[0], http[1] = http[0] + 1, http[1] + error
            routes[route] = routes.get(route, 0) + 1
            lookups, hits = trace_lookups.pop(op["trace"], (0, 0))
            before = route_lookups.get(route, (0, 0))
            route_lookups[route] = (before[0] + lookups, before[1] + hits)

    graded = {  # a cache category without a look-up has no hit rate to grade
        name: counts
        for name, counts in expected.items()
        if state.targets.categories[name].lower_is_better or counts[3]
    }
    for name, (count, errors, compliant, lookups, hits) in graded.items():
        report = _report(state, name)
        assert report.count == count
        assert report.error_rate == pytest.approx(100 * errors / count, abs=0.001)
        assert report.hit_rate == (pytest.approx(100 * hits / lookups) if lookups else None)
        if state.targets.categories[name].lower_is_better:
            assert report.compliance == pytest.approx(100 * compliant / count, abs=0.01)
    assert {r.category for r in state.categories("1m", NOW)} == set(graded)
    http_stats = state.window_stats("_http", "1m", NOW)
    assert (http_stats.count, http_stats.errors, http_stats.lookups) == (*http, 0)
    assert http_stats.compliant == http[0] - http[1]  # a request complies unless it failed
    cache = state.window_stats("_cache", "1m", NOW)
    assert (cache.lookups, cache.hits, cache.compliant) == (cache.count, cache.hits, cache.hits)
    assert cache.count == sum(
        1 for op in operations if type(op["attributes"].get("cache.hit")) is bool
    )
    reports = {r.route: r for r in state.routes(NOW, limit=10)}
    assert {route: r.requests for route, r in reports.items()} == routes
    for route, (lookups, hits) in route_lookups.items():
        hit_rate = reports[route].cache_hit_rate
        assert hit_rate == (pytest.approx(100 * hits / lookups) if lookups else None)


def test_an_attribute_value_that_cannot_be_hashed_is_graded_all_the_same(
    state: GradingState,
) -> None:
    # A hand-made span may hold a list where the SDK would hold a tuple.
    state.record(span(10.0, end_s=NOW, otelpipe__category="database", cache__tier=["L1"]))
    state.record(span(30.0, end_s=NOW, otelpipe__category="database"))
    database = _report(state, "database")
    assert (database.count, database.compliance) == (2, 50.0)
