"""The dashboard's routes: the page, its script, style and chart library, and its data.

Mounted under the performance API by ``setup_telemetry`` and served on its own
by ``otelpipe dashboard``. The page links everything relatively
(``dashboard/static/...``, ``dashboard/data``), so it works under any prefix.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from processors.dashboard.document import Dashboard
from processors.dashboard.queries import WINDOWS

__all__ = ["dashboard_router"]

_STATIC = resources.files("processors.dashboard") / "static"
#: Every file the page loads, and its media type; nothing else is served.
_ASSETS = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "vendor/uPlot.iife.min.js": "text/javascript",
    "vendor/uPlot.min.css": "text/css",
}
DashboardWindow = Annotated[
    Literal["1h", "24h", "7d", "30d"], Query(description="Time span shown: 1h, 24h, 7d or 30d.")
]


def dashboard_router(dashboard: Dashboard) -> APIRouter:
    """``GET /dashboard`` (the page), ``/dashboard/static/{file}`` and ``/dashboard/data``."""
    router = APIRouter(tags=["dashboard"])
    page = (_STATIC / "index.html").read_text()

    @router.get("/dashboard", response_class=HTMLResponse, summary="Performance dashboard page")
    def dashboard_page() -> str:
        return page

    @router.get("/dashboard/static/{name:path}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in _ASSETS:
            raise HTTPException(404, f"no dashboard asset {name!r}")
        return Response((_STATIC / name).read_bytes(), media_type=_ASSETS[name])

    @router.get("/dashboard/data", summary="Everything the dashboard page shows, as JSON")
    def dashboard_data(
        window: DashboardWindow = "1h",
        service: Annotated[
            str | None, Query(max_length=200, description="Standalone only: the service shown.")
        ] = None,
    ) -> dict[str, Any]:
        return dashboard.document(WINDOWS[window], service)

    return router
