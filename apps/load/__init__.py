"""``otelpipe load``: an async HTTP load and performance-test tool with SLO verdicts.

    otelpipe load http://127.0.0.1:8000 --duration 30 --concurrency 20 \\
        --endpoint "GET /items/{id}@9" --endpoint "POST /checkout/{id}@1" --report load.json

Closed loop by default (``--concurrency`` callers, each sending as soon as its
previous answer arrived); with ``--rate`` an open loop whose latencies count
from each request's *scheduled* start, so a stalled server cannot hide its
stall by slowing the load down (coordinated omission).

Exit codes: 0 every graded endpoint met its SLO; 1 an SLO was violated;
2 bad options or targets file, or the target never answered.
"""

from apps.load.plan import Endpoint, LoadPlan, PlanError, parse_endpoint
from apps.load.report import build_report, percentile
from apps.load.runner import run_load

__all__ = [
    "Endpoint",
    "LoadPlan",
    "PlanError",
    "build_report",
    "parse_endpoint",
    "percentile",
    "run_load",
]
