"""The one JSON document the dashboard page draws: Prometheus' figures and the grading state.

Prometheus gives what spans time — totals, quantiles and the trend over the
chosen window. The grading processor, when the page is served by the service
itself, adds what only it knows: PRD grades, its alerts and per-route cache
hit rates. Served standalone, grades and alerts come from Prometheus instead
(the ``otelpipe_prd_*`` gauges and its own alerting rules). If Prometheus
cannot answer, the document says why and keeps whatever the grading state has.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from processors.dashboard.prometheus import Prometheus, PrometheusError
from processors.dashboard.queries import Queries, Window
from processors.grading import GradingProcessor, GradingState, grade_points
from processors.health import health_score, route_severity
from processors.report import cache_effectiveness

__all__ = ["Dashboard", "cache_rating"]

#: At most this many routes in the table (the grading state keeps 200 at most too).
MAX_ROUTES = 200
_RATINGS = ((90.0, "excellent"), (70.0, "good"), (50.0, "fair"))


def cache_rating(hit_rate: float | None) -> str | None:
    """excellent ≥ 90 %, good ≥ 70 % (reference 000's "high"), fair ≥ 50 %, else poor."""
    if hit_rate is None:
        return None
    return next((name for bound, name in _RATINGS if hit_rate >= bound), "poor")


def _number(raw: str | float) -> float | None:
    value = float(raw)
    return None if math.isnan(value) or math.isinf(value) else value


def _by(vector: list[dict[str, Any]], label: str) -> dict[str, float | None]:
    return {s["metric"].get(label, ""): _number(s["value"][1]) for s in vector}


def _scalar(vector: list[dict[str, Any]]) -> float | None:
    return _number(vector[0]["value"][1]) if vector else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _ratio(part: float | None, whole: float | None) -> float | None:
    return None if not whole else (part or 0.0) / whole


def _iso(unix: float | None) -> str | None:
    return None if unix is None else datetime.fromtimestamp(unix, UTC).isoformat()


@dataclass(frozen=True)
class _Grading:
    """What the grading state adds, read under its lock in one go."""

    categories: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    cache: dict[str, Any]
    route_cache: dict[str, float | None]


def _read_grading(
    state: GradingState, now: float, window: str, excluded: re.Pattern[str]
) -> _Grading:
    routes = [r for r in state.routes(now, MAX_ROUTES) if not excluded.fullmatch(r.route)]
    return _Grading(
        categories=[
            {
                "category": r.category,
                "kind": r.kind,
                "target": r.target,
                "grade": r.grade,
                "compliance": r.compliance,
                "value": round(r.value, 3),
            }
            for r in state.categories(window, now)
        ],
        alerts=[
            {
                "name": a.category,
                "severity": a.severity,
                "message": a.message,
                "since": _iso(a.raised_at),
            }
            for a in state.alerts.active.values()
        ],
        cache=cache_effectiveness(routes, None),
        route_cache={r.route: r.cache_hit_rate for r in routes},
    )


def _trend(
    series: dict[str, list[dict[str, Any]]], start: float, end: float, step: int
) -> dict[str, Any]:
    """Each series on one time grid, ``None`` where Prometheus has no point (a gap, not a zero)."""
    grid = list(range(int(start), int(end) + 1, step))
    trend: dict[str, Any] = {"step_s": step, "timestamps": grid}
    for name, matrix in series.items():
        points = {int(t): _number(v) for t, v in matrix[0]["values"]} if matrix else {}
        trend[name] = [_ms(points.get(t)) for t in grid]
    return trend


@dataclass(frozen=True)
class Dashboard:
    """Builds the page's document.

    Attributes:
        prometheus: where the time series are.
        exclude_routes: regex of ``http_route`` values left out of totals and the
            table: the performance API and the dashboard's own polling are not
            application traffic (the grading leaves them ungraded for the same reason).
        service: the service shown; None lets the page choose among those
            Prometheus knows (the standalone ``otelpipe dashboard``).
        grading: the service's grading processor, when served in-process.
    """

    prometheus: Prometheus
    exclude_routes: str
    service: str | None = None
    grading: GradingProcessor | None = None

    def document(self, window: Window, service: str | None = None) -> dict[str, Any]:
        """Everything the page shows for ``window`` (``service`` only when not fixed)."""
        now = time.time()
        grading = None
        if self.grading is not None:
            excluded = re.compile(self.exclude_routes)
            grading = self.grading.read(
                lambda state, at: _read_grading(state, at, window.grading, excluded)
            )
        doc: dict[str, Any] = {
            "timestamp": now,
            "window": window.name,
            "mode": "standalone" if self.grading is None else "service",
            "prometheus": {"url": self.prometheus.url, "ok": True, "error": None},
            "service": self.service or service,
            "services": [self.service] if self.service else [],
            "overview": None,
            "health": None,
            "trend": None,
            "routes": [],
            "cache": None,
            "grades": None,
            "alerts": None,
        }
        if grading is not None:
            doc["grades"] = {
                "source": f"performance API, window {window.grading}",
                "categories": grading.categories,
            }
            doc["alerts"] = {"source": "performance API", "active": grading.alerts}
        try:
            self._from_prometheus(doc, window, now, grading)
        except PrometheusError as exc:
            doc["prometheus"].update(ok=False, error=str(exc))
        return doc

    def _run(self, calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
        """Run the look-ups side by side: the page waits for the slowest, not their sum."""
        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = {name: pool.submit(call) for name, call in calls.items()}
            return {name: future.result() for name, future in futures.items()}

    def _from_prometheus(
        self, doc: dict[str, Any], window: Window, now: float, grading: _Grading | None
    ) -> None:
        prom = self.prometheus
        if self.service is None:
            busiest = _by(
                prom.instant(Queries(None, window, self.exclude_routes).services(), now),
                "service_name",
            )
            doc["services"] = list(busiest)
            if doc["service"] is None and busiest:
                doc["service"] = next(iter(busiest))
        if doc["service"] is None:
            return
        q = Queries(doc["service"], window, self.exclude_routes)
        # Points on whole steps (hours on the hour); the last one covers the step
        # under way, so what happened a moment ago is on the chart.
        end = math.ceil(now / window.step_s) * window.step_s
        start = end - window.seconds
        calls: dict[str, Callable[[], Any]] = {
            "requests": lambda: prom.instant(q.route_requests(), now),
            "seconds": lambda: prom.instant(q.route_seconds(), now),
            "errors": lambda: prom.instant(q.route_errors(), now),
            "p50": lambda: prom.instant(q.route_quantile(0.5), now),
            "p95": lambda: prom.instant(q.route_quantile(0.95), now),
            "p99": lambda: prom.instant(q.route_quantile(0.99), now),
            "overall_p95": lambda: prom.instant(q.quantile(0.95), now),
            "cache": lambda: prom.instant(q.cache_lookups(), now),
            "avg_ms": lambda: prom.range(q.trend_mean(), start, end, window.step_s),
            "p95_ms": lambda: prom.range(q.trend_p95(), start, end, window.step_s),
        }
        if grading is None:
            calls["grade"] = lambda: prom.instant(q.grades("grade"), now)
            calls["compliance"] = lambda: prom.instant(q.grades("compliance_percent"), now)
            calls["alerts"] = prom.alerts
        found = self._run(calls)
        doc["trend"] = _trend(
            {k: found[k] for k in ("avg_ms", "p95_ms")}, start, end, window.step_s
        )
        doc["routes"] = _routes(found, grading)
        self._overview(doc, found, grading)
        if grading is None:
            doc["grades"] = _grades_from_gauges(found["grade"], found["compliance"])
            doc["alerts"] = _alerts_from_prometheus(found["alerts"], doc["service"])

    @staticmethod
    def _overview(doc: dict[str, Any], found: dict[str, Any], grading: _Grading | None) -> None:
        requests = _by(found["requests"], "http_route")
        total = sum(v or 0.0 for v in requests.values())
        seconds = sum(v or 0.0 for v in _by(found["seconds"], "http_route").values())
        errors = sum(v or 0.0 for v in _by(found["errors"], "http_route").values())
        tiers: dict[str, dict[str, float]] = {}
        for sample in found["cache"]:
            labels = sample["metric"]
            tier = tiers.setdefault(labels.get("cache_tier", "?"), {"hit": 0.0, "all": 0.0})
            count = _number(sample["value"][1]) or 0.0
            tier["all"] += count
            tier["hit"] += count if labels.get("cache_result") == "hit" else 0.0
        hit_rate = _ratio(
            sum(t["hit"] for t in tiers.values()), sum(t["all"] for t in tiers.values())
        )
        hit_pct = None if hit_rate is None else round(hit_rate * 100, 2)
        error_pct = None if not total else 100 * errors / total
        p95 = _ms(_scalar(found["overall_p95"]))
        slowest = doc["routes"][0] if doc["routes"] else None
        doc["overview"] = {
            "requests": round(total),
            "avg_ms": _ms(_ratio(seconds, total)),
            "p95_ms": p95,
            "error_rate": None if error_pct is None else round(error_pct, 3),
            "cache_hit_rate": hit_pct,
            "cache_rating": cache_rating(hit_pct),
            "slowest_route": None
            if slowest is None
            else {k: slowest[k] for k in ("route", "p95_ms", "severity")},
        }
        doc["health"] = asdict(health_score(p95, hit_pct, error_pct if total else None))
        groups = grading.cache if grading is not None else {"high": [], "low": [], "none": []}
        doc["cache"] = {
            **groups,
            "overall_hit_rate": hit_pct,
            "tiers": {
                name: round(100 * t["hit"] / t["all"], 2)
                for name, t in sorted(tiers.items())
                if t["all"]
            },
            "per_route": grading is not None,
        }


def _routes(found: dict[str, Any], grading: _Grading | None) -> list[dict[str, Any]]:
    """One row per route with requests in the window, slowest p95 first."""
    requests = _by(found["requests"], "http_route")
    seconds = _by(found["seconds"], "http_route")
    errors = _by(found["errors"], "http_route")
    quantiles = {q: _by(found[q], "http_route") for q in ("p50", "p95", "p99")}
    rows = []
    for route, count in requests.items():
        if not count:
            continue
        p95 = _ms(quantiles["p95"].get(route))
        rows.append(
            {
                "route": route,
                "requests": round(count),
                "error_rate": round(100 * (errors.get(route) or 0.0) / count, 3),
                "avg_ms": _ms(_ratio(seconds.get(route), count)),
                "p50_ms": _ms(quantiles["p50"].get(route)),
                "p95_ms": p95,
                "p99_ms": _ms(quantiles["p99"].get(route)),
                "cache_hit_rate": None if grading is None else grading.route_cache.get(route),
                "severity": None if p95 is None else route_severity(p95),
            }
        )
    rows.sort(key=lambda row: row["p95_ms"] or 0.0, reverse=True)
    return rows[:MAX_ROUTES]


def _letter(points: float) -> str:
    return next((g for g in "ABCD" if grade_points(g) <= points + 0.5), "F")


def _grades_from_gauges(
    grades: list[dict[str, Any]], compliance: list[dict[str, Any]]
) -> dict[str, Any]:
    percent = _by(compliance, "category")
    return {
        "source": "Prometheus otelpipe_prd_* gauges, window 5m",
        "categories": [
            {"category": name, "grade": _letter(points), "compliance": percent.get(name)}
            for name, points in sorted(_by(grades, "category").items())
            if points is not None
        ],
    }


def _alerts_from_prometheus(alerts: list[dict[str, Any]], service: str) -> dict[str, Any]:
    return {
        "source": "Prometheus alerting rules",
        "active": [
            {
                "name": a["labels"].get("alertname"),
                "severity": a["labels"].get("severity"),
                "message": a.get("annotations", {}).get("summary", ""),
                "since": a.get("activeAt"),
            }
            for a in alerts
            if a.get("state") == "firing" and a["labels"].get("service_name") in (None, service)
        ],
    }
