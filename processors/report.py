"""Turn grading state into the JSON documents of the performance API.

Pure functions of a :class:`~processors.grading.GradingState` and "now", so
they are tested without a server, and run under the grading lock through
:meth:`GradingProcessor.read`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from processors.grading import CategoryReport, GradingState, RouteReport, overall_grade

__all__ = [
    "alerts_document",
    "cache_effectiveness",
    "compliance_document",
    "health_document",
    "metrics_document",
    "recommendations",
    "report_document",
    "routes_document",
]

#: Routes whose cache hit rate is at least this count as well cached (reference 000).
HIGH_HIT_RATE = 70.0
_PRIORITY = {"high": 0, "medium": 1, "low": 2}
_ADVICE = {
    "authentication": "cache verified tokens or sessions; check the identity provider's latency",
    "authorization": "cache permission decisions per user and resource",
    "database": "read the slow-query log; add indexes or cache the hottest reads",
    "external_api": "set timeouts, add a circuit breaker, cache idempotent responses",
    "cache": "warm the cache at start-up, raise TTLs or give the tier more memory",
    "http": "profile the slowest routes in Jaeger and fix their slowest child spans",
}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _category_dict(report: CategoryReport) -> dict[str, Any]:
    return _rounded(asdict(report))


def metrics_document(state: GradingState, now: float, window: str) -> dict[str, Any]:
    reports = state.categories(window, now)
    return {
        "timestamp": now,
        "window": window,
        "overall_grade": overall_grade(reports),
        "prd_compliance": {r.category: r.compliance for r in reports},
        "metrics_by_category": {r.category: _category_dict(r) for r in reports},
        "active_alerts_count": len(state.alerts.active),
    }


def _status(state: GradingState, grade: str | None) -> str:
    severities = {a.severity for a in state.alerts.active.values()}
    if grade is None and not severities:
        return "unknown"
    if "critical" in severities or grade == "F":
        return "unhealthy"
    if severities or grade == "D":
        return "degraded"
    return "healthy"


def health_document(state: GradingState, now: float, window: str) -> dict[str, Any]:
    health = state.health(window, now)
    return {
        "timestamp": now,
        "window": window,
        "overall_status": _status(state, health.grade and health.grade.rstrip("+")),
        "health_score": _rounded(asdict(health)),
        "component_health": {
            r.category: {"grade": r.grade, "target_compliance": r.compliance}
            for r in state.categories(window, now)
        },
        "active_alerts": [a.as_dict() for a in state.alerts.active.values()],
    }


def compliance_document(state: GradingState, now: float, window: str) -> dict[str, Any]:
    reports = state.categories(window, now)
    met = sum(r.grade in "ABC" for r in reports)
    close = sum(r.grade == "D" for r in reports)
    failing = len(reports) - met - close
    average = sum(r.compliance for r in reports) / len(reports) if reports else None
    status = "unknown" if not reports else "poor" if failing else "fair" if close else "good"
    return {
        "timestamp": now,
        "window": window,
        "overall_compliance_status": status,
        "overall_grade": overall_grade(reports),
        "average_compliance_percentage": None if average is None else round(average, 2),
        "target_compliance": {r.category: _category_dict(r) for r in reports},
        "compliance_summary": {
            "targets_met": met,
            "targets_close": close,
            "targets_failing": failing,
        },
    }


def routes_document(state: GradingState, now: float, limit: int) -> dict[str, Any]:
    return {
        "timestamp": now,
        "window": "1h",
        "routes": [_rounded(asdict(r)) for r in state.routes(now, limit)],
    }


def cache_effectiveness(
    routes: list[RouteReport], overall_hit_rate: float | None
) -> dict[str, Any]:
    """Routes grouped by cache hit rate: high (>= 70 %), low, and none (no look-ups or 0 %)."""
    groups: dict[str, list[dict[str, Any]]] = {"high": [], "low": [], "none": []}
    for route in routes:
        rate = route.cache_hit_rate
        group = "none" if not rate else "high" if rate >= HIGH_HIT_RATE else "low"
        groups[group].append(
            {"route": route.route, "hit_rate": _rounded(rate), "requests": route.requests}
        )
    return {"overall_hit_rate": _rounded(overall_hit_rate), **groups}


def recommendations(
    reports: list[CategoryReport], routes: list[RouteReport], slow_queries: dict[str, Any] | None
) -> list[dict[str, str]]:
    """What to fix first: one entry per problem, high priority first."""
    found = []
    for r in reports:
        family = (
            "cache"
            if r.kind == "hit_rate"
            else "http"
            if r.category.startswith("http")
            else r.category
        )
        if r.grade in ("D", "F"):
            priority = "high"
        elif r.grade == "C":
            priority = "medium"
        else:
            continue
        measured = (
            f"hit rate {r.value:.1f}% (target {r.target:g}%)"
            if r.kind == "hit_rate"
            else f"p95 {r.value:.0f} ms (target {r.target:g} ms)"
        )
        found.append(
            {
                "priority": priority,
                "category": r.category,
                "issue": f"{r.category} graded {r.grade}: {measured}",
                "action": _ADVICE.get(family, _ADVICE["http"]),
            }
        )
    for route in routes:
        if route.severity == "critical":
            found.append(
                {
                    "priority": "high",
                    "category": "route",
                    "issue": f"{route.route}: p95 {route.p95_ms:.0f} ms",
                    "action": _ADVICE["http"],
                }
            )
    critical = (slow_queries or {}).get("by_severity", {}).get("critical", 0)
    if critical:
        found.append(
            {
                "priority": "high",
                "category": "database",
                "issue": f"{critical} critical slow queries",
                "action": _ADVICE["database"],
            }
        )
    return sorted(found, key=lambda item: _PRIORITY[item["priority"]])


def _trend(short: CategoryReport | None, long: CategoryReport | None) -> str:
    if short is None or long is None or not long.value:
        return "unknown"
    ratio = short.value / long.value
    if short.kind == "hit_rate":
        ratio = 1 / ratio if short.value else 2.0
    return "degrading" if ratio > 1.2 else "improving" if ratio < 0.8 else "stable"


def alerts_document(state: GradingState, now: float, limit: int) -> dict[str, Any]:
    return {
        "timestamp": now,
        "active": [a.as_dict() for a in state.alerts.active.values()],
        "history": [a.as_dict() for a in list(state.alerts.history)[-limit:][::-1]],
    }


def report_document(
    state: GradingState, now: float, window: str, limit: int, slow_queries: dict[str, Any] | None
) -> dict[str, Any]:
    """Executive summary, compliance, trends, routes, cache, recommendations and alerts."""
    reports = state.categories(window, now)
    short = {r.category: r for r in state.categories("5m", now)}
    long = {r.category: r for r in state.categories("1h", now)}
    routes = state.routes(now, limit)
    health = state.health(window, now)
    http = state.window_stats("_http", window, now)
    cache = state.window_stats("_cache", window, now)
    return {
        "timestamp": now,
        "window": window,
        "executive_summary": {
            "overall_grade": overall_grade(reports),
            "health_score": health.score,
            "health_grade": health.grade,
            "status": _status(state, health.grade and health.grade.rstrip("+")),
            "requests": http.count,
            "error_rate": round(http.error_rate, 3),
            "p95_ms": _rounded(http.percentile(0.95)),
            "active_alerts": len(state.alerts.active),
        },
        "prd_compliance": {r.category: _category_dict(r) for r in reports},
        "trends": {
            name: {
                "p95_or_hit_rate_5m": _rounded(short[name].value) if name in short else None,
                "p95_or_hit_rate_1h": _rounded(long[name].value) if name in long else None,
                "direction": _trend(short.get(name), long.get(name)),
            }
            for name in sorted(set(short) | set(long))
        },
        "slowest_routes": [_rounded(asdict(r)) for r in routes],
        "cache_effectiveness": cache_effectiveness(routes, cache.hit_rate),
        "slow_queries": slow_queries,
        "recommendations": recommendations(reports, routes, slow_queries),
        "alerts": alerts_document(state, now, limit),
    }
