"""The performance dashboard page of reference 000, for users without Grafana.

One static page (``static/``: HTML, script, style, and the uPlot chart library
vendored so it works offline) and one JSON document it polls, built from
Prometheus queries and, when a service serves it, its grading state.
"""

from processors.dashboard.document import Dashboard
from processors.dashboard.prometheus import Prometheus, PrometheusError
from processors.dashboard.web import dashboard_router

__all__ = ["Dashboard", "Prometheus", "PrometheusError", "dashboard_router"]
