"""PRD grading: a span processor that grades operations against targets, per window.

:class:`GradingProcessor` grades each span in ``on_end`` into
:class:`GradingState` — classification, sliding windows, quantile sketches,
per-route tables — in constant time, a few µs. That is work for a worker
thread, not the request thread: ``setup_telemetry`` runs it behind
:class:`~processors.off_thread.OffThreadSpanProcessor`, and so should anyone
composing a provider by hand. Alerts are re-evaluated about once a second,
and before every read. Memory is bounded: a fixed set of categories, at most
:data:`ROUTE_LIMIT` routes (further ones share ``/{other}``), fixed-size
windows and sketches, a bounded trace map and alert history.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from processors.alerts import AlertBook, AlertCallback, severity_for, thresholds
from processors.classify import CATEGORY_ATTRIBUTE, Classifier
from processors.health import HealthScore, health_score, route_severity
from processors.targets import GRADES, Category, Targets, load_targets
from processors.windows import WINDOWS, SlidingWindow, Stats, WindowSpec

__all__ = [
    "ROUTE_LIMIT",
    "CategoryReport",
    "Finished",
    "GradingProcessor",
    "GradingState",
    "RouteReport",
    "finished",
    "grade_points",
    "overall_grade",
]

_log = logging.getLogger(__name__)

#: Distinct HTTP routes with their own statistics; the rest share OTHER_ROUTE.
ROUTE_LIMIT = 200
OTHER_ROUTE = "/{other}"
#: Per-route statistics cover the last hour, sliding in 15-minute steps.
ROUTE_WINDOW = WindowSpec("1h", 900, 4)
#: Traces whose cache look-ups wait for their server span, for per-route hit rates.
_TRACE_MAP_LIMIT = 10_000
_HTTP, _CACHE, _ROUTE_PREFIX = "_http", "_cache", "_route:"
#: Every window's slot width is a multiple of this, so operations gathered per
#: 10-second step fold into exactly one slot of each window.
_STEP_SECONDS = 10
_POINTS = {"A": 4, "B": 3, "C": 2, "D": 1, "F": 0}


def grade_points(grade: str) -> int:
    """A=4 … F=0, the scale the overall grade and the Prometheus gauge use."""
    return _POINTS[grade]


def overall_grade(reports: list[CategoryReport]) -> str | None:
    """The letter nearest the mean grade points of ``reports`` (None without any)."""
    if not reports:
        return None
    mean = sum(grade_points(r.grade) for r in reports) / len(reports)
    return next(g for g, p in _POINTS.items() if mean >= p - 0.5)


def _grade(category: Category, stats: Stats) -> tuple[str, float] | None:
    """(letter, graded value) for ``stats``, or None without data."""
    if category.lower_is_better:
        value = stats.percentile(0.95)
        if value is None:
            return None
        letter = next(
            (g for g, bound in zip(GRADES, category.grades, strict=True) if value < bound), "F"
        )
    else:
        value = stats.hit_rate
        if value is None:
            return None
        letter = next(
            (g for g, bound in zip(GRADES, category.grades, strict=True) if value > bound), "F"
        )
    if category.error_rate is not None and stats.error_rate > category.error_rate:
        letter = max(letter, "D")  # letters sort A < … < F: the worse of the two
    return letter, value


@dataclass(frozen=True)
class CategoryReport:
    category: str
    kind: str
    target: float
    count: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    hit_rate: float | None
    compliance: float
    grade: str
    #: The graded value: p95 in ms for latency categories, hit rate in % for caches.
    value: float


@dataclass(frozen=True)
class RouteReport:
    route: str
    requests: int
    error_rate: float
    avg_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    cache_hit_rate: float | None
    severity: str


#: What grading needs of a finished span, in this order: (its attributes,
#: server span?, error?, start ns, end ns, trace id).
Finished = tuple[Mapping[str, Any], bool, bool, int, int, int]


_SERVER, _ERROR = SpanKind.SERVER, StatusCode.ERROR

#: What decides where an operation counts: its ``otelpipe.category``,
#: ``cache.tier``, cache hit (a bool, else None), route (a str, else None),
#: whether it is a server span and whether it names a database system.
_Shape = tuple[Any, Any, bool | None, str | None, bool, bool]
#: Shapes classified and remembered, at most; emptied when full.
_PLAN_LIMIT = 4096


def _as_recorded(stats: Stats) -> Stats:
    return stats


def _hits_comply(stats: Stats) -> Stats:
    """For the cache totals, a look-up complies when it hits."""
    return dataclasses.replace(stats, compliant=stats.hits)


def _requests(stats: Stats) -> Stats:
    """For the HTTP and route totals, a request complies when it did not fail, and cache
    look-ups are those of its trace (added apart), not its own."""
    return dataclasses.replace(stats, compliant=stats.count - stats.errors, lookups=0, hits=0)


@dataclass(frozen=True, eq=False)  # hashed by identity: a pending-stats key per span
class _Plan:
    """Where the operations of one shape count."""

    #: Each group, with how an operation of this shape counts there.
    groups: tuple[tuple[str, Callable[[Stats], Stats]], ...]
    #: The category's latency target in ms (None: complies when it hits).
    latency_target: float | None
    #: The route's group, for a server span with a route.
    route_group: str | None


def finished(span: ReadableSpan) -> Finished:
    """The :data:`Finished` tuple of ``span``.

    The SDK's own fields are read first: the public properties wrap the
    attributes in a mapping proxy over ``BoundedAttributes``, several times
    slower per look-up; a span may also hold a plain dict (``otel_setup``'s
    server spans do). The properties are the fallback, for spans built
    without attributes and for an SDK that renames its fields.
    """
    try:
        attributes = span._attributes
        return (
            getattr(attributes, "_dict", attributes) or {},  # type: ignore[return-value]
            span._kind is _SERVER,
            span._status._status_code is _ERROR,
            span._start_time,  # type: ignore[return-value]
            span._end_time,  # type: ignore[return-value]
            span._context[0],  # type: ignore[index]
        )
    except (AttributeError, TypeError):
        context = span.context
        return (
            span.attributes or {},
            span.kind is _SERVER,
            span.status.status_code is _ERROR,
            span.start_time or 0,
            span.end_time or 0,
            context.trace_id if context is not None else 0,
        )


class GradingState:
    """Everything graded so far. Not thread-safe: :class:`GradingProcessor` serialises access."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets
        self.classify = Classifier(targets)
        self.alerts = AlertBook()
        groups = [*targets.categories, _HTTP, _CACHE]
        self._windows = {g: {w: SlidingWindow(spec) for w, spec in WINDOWS.items()} for g in groups}
        self._windows[_ROUTE_PREFIX + OTHER_ROUTE] = {
            ROUTE_WINDOW.name: SlidingWindow(ROUTE_WINDOW)
        }
        #: Route templates with their own statistics, in order of first appearance.
        self._routes: list[str] = []
        self._plans: dict[_Shape, _Plan] = {}
        self._distinct_plans: dict[tuple[Any, float | None], _Plan] = {}
        #: Operations of the current steps, by shape, then by group (see fold).
        self._pending_shapes: dict[tuple[_Plan, int], Stats] = {}
        self._pending: dict[tuple[str, int], Stats] = {}
        self._trace_cache: OrderedDict[int, list[int]] = OrderedDict()

    # -- recording -------------------------------------------------------------
    def record(self, span: ReadableSpan) -> None:
        """Grade one finished span."""
        self.record_finished(finished(span))

    def record_finished(self, op: Finished) -> None:
        """Count one operation into the pending step stats (folded into windows on read).

        Where an operation counts (its category, the cache and HTTP totals, its
        route) depends only on its shape: its category, cache tier and hit,
        route, kind and database attributes. Each shape is classified once, and
        an operation is counted once, under its shape; :meth:`fold` spreads each
        shape's counts over its groups. The operation itself costs one
        :meth:`Stats.add`, not one per group.
        """
        attributes, server, error, start, end, trace_id = op
        get = attributes.get
        hit, route = get("cache.hit"), get("http.route")
        hit = hit if isinstance(hit, bool) else None
        shape = (
            get(CATEGORY_ATTRIBUTE),
            get("cache.tier"),
            hit,
            route if isinstance(route, str) else None,
            server,
            "db.system" in attributes or "db.system.name" in attributes,
        )
        try:
            plan = self._plans.get(shape) or self._plan(shape)
        except TypeError:  # an unhashable attribute value (a hand-made span): not memoised
            plan = self._new_plan(*shape)
        step = int(end / 1e9 // _STEP_SECONDS)
        if hit is not None:
            self._remember_lookup(trace_id, hit)
        if plan.route_group is not None:
            lookups, hits = self._trace_cache.pop(trace_id, (0, 0))
            if lookups:
                stats = self._pending_stats(plan.route_group, step)
                stats.lookups += lookups
                stats.hits += hits
        if not plan.groups:
            return
        duration_ms = (end - start) / 1e6
        latency_target = plan.latency_target
        compliant = bool(hit) if latency_target is None else duration_ms < latency_target
        pending = self._pending_shapes.get((plan, step))
        if pending is None:
            pending = self._pending_shapes[plan, step] = Stats()
        pending.add(duration_ms, error=error, compliant=compliant, hit=hit)

    def _plan(self, shape: _Shape) -> _Plan:
        if len(self._plans) >= _PLAN_LIMIT:
            self._plans.clear()
        plan = self._plans[shape] = self._new_plan(*shape)
        return plan

    def _new_plan(
        self,
        category: Any,
        tier: Any,
        hit: bool | None,
        route: str | None,
        server: bool,
        database: bool,
    ) -> _Plan:
        """Where operations of this shape count."""
        name = self.classify(server, category, tier, route, database)
        groups = []
        latency_target = None
        if name is not None:
            target = self.targets.categories[name]
            latency_target = target.target if target.lower_is_better else None
            groups.append((name, _as_recorded))
        if hit is not None:
            groups.append((_CACHE, _hits_comply))
        route_group = None
        if server and route is not None:
            route_group = self._route_group(route)
            groups += ((_HTTP, _requests), (route_group, _requests))
        # One plan for all shapes counted alike: however many shapes come and go
        # (routes past ROUTE_LIMIT, say), a step's pending stats stay as few as its groups.
        key = (tuple(groups), latency_target)
        plan = self._distinct_plans.get(key)
        if plan is None:
            plan = self._distinct_plans[key] = _Plan(*key, route_group)
        return plan

    def _pending_stats(self, group: str, step: int) -> Stats:
        stats = self._pending.get((group, step))
        if stats is None:
            stats = self._pending[(group, step)] = Stats()
        return stats

    def _route_group(self, route: str) -> str:
        group = _ROUTE_PREFIX + route
        if group not in self._windows:
            if len(self._routes) >= ROUTE_LIMIT:
                return _ROUTE_PREFIX + OTHER_ROUTE
            self._routes.append(route)
            self._windows[group] = {ROUTE_WINDOW.name: SlidingWindow(ROUTE_WINDOW)}
        return group

    def _remember_lookup(self, trace_id: int, hit: bool) -> None:
        counts = self._trace_cache.get(trace_id)
        if counts is None:
            if len(self._trace_cache) >= _TRACE_MAP_LIMIT:
                self._trace_cache.popitem(last=False)
            counts = self._trace_cache[trace_id] = [0, 0]
        counts[0] += 1
        counts[1] += hit

    def fold(self) -> None:
        """Merge the pending step stats into every window (once per step and group,
        however many operations the step holds)."""
        for (plan, step), stats in self._pending_shapes.items():
            for group, counted_as in plan.groups:
                self._pending_stats(group, step).merge(counted_as(stats))
        self._pending_shapes.clear()
        for (group, step), stats in self._pending.items():
            for window in self._windows[group].values():
                window.slot(step * _STEP_SECONDS).merge(stats)
        self._pending.clear()

    # -- reading ---------------------------------------------------------------
    def window_stats(self, group: str, window: str, now: float) -> Stats:
        self.fold()
        return self._windows[group][window].total(now)

    def categories(self, window: str, now: float) -> list[CategoryReport]:
        """A report for each category with data in ``window``."""
        reports = []
        for name, category in self.targets.categories.items():
            stats = self.window_stats(name, window, now)
            graded = _grade(category, stats)
            if graded is None:
                continue
            letter, value = graded
            if category.lower_is_better:
                compliance = 100.0 * stats.compliant / stats.count
            else:
                compliance = min(100.0, 100.0 * (stats.hit_rate or 0.0) / category.target)
            reports.append(
                CategoryReport(
                    category=name,
                    kind=category.kind,
                    target=category.target,
                    count=stats.count,
                    error_rate=round(stats.error_rate, 3),
                    p50_ms=stats.percentile(0.5),
                    p95_ms=stats.percentile(0.95),
                    p99_ms=stats.percentile(0.99),
                    hit_rate=stats.hit_rate,
                    compliance=round(compliance, 2),
                    grade=letter,
                    value=value,
                )
            )
        return reports

    def routes(self, now: float, limit: int) -> list[RouteReport]:
        """The slowest routes of the last hour by p95, slowest first."""
        reports = []
        for route in [*self._routes, OTHER_ROUTE]:
            stats = self.window_stats(_ROUTE_PREFIX + route, ROUTE_WINDOW.name, now)
            if not stats.count:
                continue
            p95 = stats.percentile(0.95) or 0.0
            reports.append(
                RouteReport(
                    route=route,
                    requests=stats.count,
                    error_rate=round(stats.error_rate, 3),
                    avg_ms=stats.latency_ms.sum / stats.count,
                    p50_ms=stats.percentile(0.5) or 0.0,
                    p95_ms=p95,
                    p99_ms=stats.percentile(0.99) or 0.0,
                    cache_hit_rate=stats.hit_rate,
                    severity=route_severity(p95),
                )
            )
        reports.sort(key=lambda r: r.p95_ms, reverse=True)
        return reports[:limit]

    def health(self, window: str, now: float) -> HealthScore:
        http = self.window_stats(_HTTP, window, now)
        cache = self.window_stats(_CACHE, window, now)
        return health_score(
            http.percentile(0.95), cache.hit_rate, http.error_rate if http.count else None
        )

    # -- alerts ----------------------------------------------------------------
    def evaluate_alerts(self, now: float) -> None:
        policy = self.targets.alerts
        for name, category in self.targets.categories.items():
            stats = self.window_stats(name, policy.window, now)
            active = self.alerts.active.get(name)
            if stats.count < policy.min_count:
                severity, value = None, 0.0
            else:
                value = (
                    (stats.percentile(0.95) or 0.0)
                    if category.lower_is_better
                    else 100.0 - (stats.hit_rate or 0.0)
                )
                severity = severity_for(
                    value, category, policy, active.severity if active else None
                )
            warning, critical = thresholds(category, policy)
            threshold = critical if severity == "critical" else warning
            what = "p95 latency" if category.lower_is_better else "cache miss rate"
            unit = "ms" if category.lower_is_better else "%"
            message = (
                f"{name}: {what} {value:.1f}{unit} over {policy.window} "
                f"(target {category.target:g}{'ms' if category.lower_is_better else '% hits'}, "
                f"{severity} at {threshold:.1f}{unit})"
            )
            self.alerts.update(name, severity, value, threshold, message, now)


class GradingProcessor(SpanProcessor):
    """Grades finished spans against PRD targets, a few µs per span in ``on_end``.

    Run it off the request thread, behind
    :class:`~processors.off_thread.OffThreadSpanProcessor`.

    Args:
        targets: the targets (default: the shipped ``targets.yaml``).
        interval_s: how often alerts are re-evaluated when nothing reads.
        clock: wall-clock seconds, for "now" in reads (injectable for tests).
    """

    def __init__(
        self,
        targets: Targets | None = None,
        *,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = GradingState(targets or load_targets())
        self._lock = threading.Lock()
        self._clock = clock
        self._interval_s = interval_s
        self._stop = threading.Event()
        #: Spans that could not be graded (logged with the next alert evaluation).
        self.skipped = 0
        self._skipped_logged = 0
        self._worker = threading.Thread(target=self._run, name="otelpipe-grading", daemon=True)
        self._worker.start()

    # -- SpanProcessor ---------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            try:
                self.state.record_finished(finished(span))
            except Exception:  # an odd span must not stop grading, nor reach the caller
                self.skipped += 1

    def shutdown(self) -> None:
        self._stop.set()
        self._worker.join(timeout=5)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    # -- alerts ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                with self._lock:
                    self.state.evaluate_alerts(self._clock())
            except Exception:  # keep the worker alive whatever an alert callback did
                _log.exception("grading alert evaluation failed")
            if self.skipped > self._skipped_logged:
                _log.warning("grading skipped %d spans it could not read", self.skipped)
                self._skipped_logged = self.skipped

    def subscribe(self, callback: AlertCallback) -> None:
        """Call ``callback(alert, "raised" | "resolved")`` where alerts are evaluated: on
        the grading worker, or in :meth:`read`."""
        self.state.alerts.subscribe(callback)

    def read(self, reader: Callable[[GradingState, float], Any]) -> Any:
        """Re-evaluate alerts, then run ``reader(state, now)``, under the lock."""
        with self._lock:
            now = self._clock()
            self.state.evaluate_alerts(now)
            return reader(self.state, now)
