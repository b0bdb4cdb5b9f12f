"""The performance API: ``/api/v1/performance/{metrics,health,report,prd-compliance,alerts,routes}``.

Mount it in any FastAPI app (``setup_telemetry`` does, unless
``performance_api=False``)::

    app.include_router(performance_router(grading, slow_queries), prefix="/api/v1/performance")

Query parameters are validated by FastAPI: a bad ``window`` or ``limit``
answers 422 naming the parameter and the accepted values.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from processors import report
from processors.grading import GradingProcessor
from processors.slow_queries import SlowQueryProcessor

__all__ = ["PREFIX", "performance_router"]

PREFIX = "/api/v1/performance"
Window = Annotated[
    Literal["1m", "5m", "1h", "1d"], Query(description="Sliding window: 1m, 5m, 1h or 1d.")
]
Limit = Annotated[int, Query(ge=1, le=100, description="At most this many items (1-100).")]


def performance_router(
    grading: GradingProcessor, slow_queries: SlowQueryProcessor | None = None
) -> APIRouter:
    """A router serving the grading state of ``grading`` (and the slow-query summary)."""
    router = APIRouter(tags=["performance"])

    def slow_summary() -> dict[str, Any] | None:
        return slow_queries.summary() if slow_queries is not None else None

    @router.get("/metrics", summary="Grades, compliance and latency per category")
    def metrics(window: Window = "5m") -> dict[str, Any]:
        return {
            **grading.read(lambda s, now: report.metrics_document(s, now, window)),
            "dropped_spans": grading.dropped,
        }

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

    return router
