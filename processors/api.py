"""The performance API: ``/api/v1/performance/{metrics,health,report,prd-compliance,alerts,routes}``
and the dashboard page at ``/api/v1/performance/dashboard``.

Mount it in any FastAPI app (``setup_telemetry`` does, unless
``performance_api=False``)::

    app.mount(PREFIX, performance_app(grading, slow_queries))

A mount, not ``include_router``: routes are matched in order, and the API is
usually added before the service's own routes. Included, its nine routes
would be tried, one by one, before every request the service serves (about
30 µs each time); a mount costs one prefix match. Its OpenAPI page is its own,
``/api/v1/performance/docs``.

Query parameters are validated by FastAPI: a bad ``window`` or ``limit``
answers 422 naming the parameter and the accepted values.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query

from processors import report
from processors.dashboard import Dashboard, Prometheus, dashboard_router
from processors.grading import GradingProcessor
from processors.slow_queries import SlowQueryProcessor

__all__ = ["OWN_ROUTES", "PREFIX", "performance_app"]

PREFIX = "/api/v1/performance"
#: The ``http.route`` values of this API (and the dashboard polling it): not the
#: service's own traffic, so the dashboard leaves them out of its totals.
OWN_ROUTES = f"{PREFIX}/.*"
Window = Annotated[
    Literal["1m", "5m", "1h", "1d"], Query(description="Sliding window: 1m, 5m, 1h or 1d.")
]
Limit = Annotated[int, Query(ge=1, le=100, description="At most this many items (1-100).")]


def performance_app(
    grading: GradingProcessor,
    slow_queries: SlowQueryProcessor | None = None,
    *,
    service_name: str | None = None,
    prometheus_url: str = "http://127.0.0.1:9090",
) -> FastAPI:
    """An app serving the grading state of ``grading`` (and the slow-query summary),
    and the dashboard page, which adds ``service_name``'s series from ``prometheus_url``.
    """
    router = APIRouter(tags=["performance"])
    router.include_router(
        dashboard_router(Dashboard(Prometheus(prometheus_url), OWN_ROUTES, service_name, grading))
    )

    def slow_summary() -> dict[str, Any] | None:
        return slow_queries.summary() if slow_queries is not None else None

    @router.get("/metrics", summary="Grades, compliance and latency per category")
    def metrics(window: Window = "5m") -> dict[str, Any]:
        return grading.read(lambda s, now: report.metrics_document(s, now, window))

    @router.get("/health", summary="Health score (0-100) and component grades")
    def health(window: Window = "1h") -> dict[str, Any]:
        return grading.read(lambda s, now: report.health_document(s, now, window))

    @router.get("/report", summary="Executive summary, trends, routes, recommendations")
    def full_report(window: Window = "1h", limit: Limit = 10) -> dict[str, Any]:
        summary = slow_summary()
        return grading.read(lambda s, now: report.report_document(s, now, window, limit, summary))

    @router.get("/prd-compliance", summary="Compliance with each PRD target")
    def prd_compliance(window: Window = "5m") -> dict[str, Any]:
        return grading.read(lambda s, now: report.compliance_document(s, now, window))

    @router.get("/alerts", summary="Active alerts and alert history")
    def alerts(limit: Limit = 50) -> dict[str, Any]:
        return grading.read(lambda s, now: report.alerts_document(s, now, limit))

    @router.get("/routes", summary="Slowest routes of the last hour")
    def routes(limit: Limit = 10) -> dict[str, Any]:
        return grading.read(lambda s, now: report.routes_document(s, now, limit))

    api = FastAPI(title="Performance API", summary="Grades, alerts and the dashboard page.")
    api.include_router(router)
    return api
