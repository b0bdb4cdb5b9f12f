"""``otelpipe dashboard``: the performance dashboard page on its own, against Prometheus.

For services that do not serve the page themselves, or several at once: the
page offers every service Prometheus has requests of, and shows grades and
alerts from Prometheus (the ``otelpipe_prd_*`` gauges and its alerting
rules) instead of a grading state it does not have.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from processors.api import OWN_ROUTES
from processors.dashboard import Dashboard, Prometheus, dashboard_router

__all__ = ["dashboard_app", "serve"]


def dashboard_app(prometheus_url: str) -> FastAPI:
    """The page at ``/dashboard`` (``/`` leads there), its data from ``prometheus_url``."""
    app = FastAPI(title="otel-perf-pipeline dashboard", docs_url=None, redoc_url=None)
    app.include_router(dashboard_router(Dashboard(Prometheus(prometheus_url), OWN_ROUTES)))

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> RedirectResponse:
        query = request.url.query
        return RedirectResponse(f"/dashboard?{query}" if query else "/dashboard")

    return app


def serve(prometheus_url: str, *, host: str, port: int) -> None:
    """Serve :func:`dashboard_app` with uvicorn until interrupted."""
    import uvicorn  # the demo extra: only this command needs a server

    print(f"dashboard: http://{host}:{port}/dashboard  (Prometheus {prometheus_url})", flush=True)
    uvicorn.run(dashboard_app(prometheus_url), host=host, port=port, log_level="warning")
