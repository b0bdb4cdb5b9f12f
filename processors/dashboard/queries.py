"""The PromQL behind each part of the dashboard, and the windows it can show.

Totals and quantiles over a window come from the raw request histogram
(``increase(...[window])``): a 24-hour p95 cannot be rebuilt from 5-minute
ones. The trend reads the recording rules (``service:...:p95_5m`` and
``service:...:mean_5m``, averaged over each point's step), which keeps a
30-day chart cheap however many requests it spans.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["WINDOWS", "Queries", "Window"]

_HTTP = "http_server_request_duration_seconds"


@dataclass(frozen=True)
class Window:
    """A span of time the page can show.

    Attributes:
        name: as in the URL and PromQL (``1h``, ``24h``, ``7d``, ``30d``).
        seconds: its length.
        step_s: one trend point per this many seconds (hourly or finer).
        grading: the grading window (performance API) nearest to it.
    """

    name: str
    seconds: int
    step_s: int
    grading: str


WINDOWS = {
    w.name: w
    for w in (
        Window("1h", 3600, 60, "1h"),
        Window("24h", 86_400, 900, "1d"),
        Window("7d", 7 * 86_400, 3600, "1d"),
        Window("30d", 30 * 86_400, 3600, "1d"),
    )
}


def _window_increase(selector: str, window: str) -> str:
    """Per series, how much a counter grew in ``window``, counting series born in it from zero.

    ``increase()`` alone measures from a series' first sample, so a service (or
    route) that started inside the window would lose everything it counted
    before its first export: a one-off slow request would vanish. A series that
    had no value a window ago was born in it, and its last value is all it grew.
    """
    return (
        f"(last_over_time({selector}[{window}]) unless {selector} offset {window})"
        f" or increase({selector}[{window}])"
    )


def _label(value: str) -> str:
    # A JSON string is a valid PromQL string literal: quotes and backslashes escaped.
    return json.dumps(value)


@dataclass(frozen=True)
class Queries:
    """PromQL for one service over one window.

    Attributes:
        service: the ``service_name`` label, or None for every service.
        window: the span the totals cover.
        exclude_routes: regex of ``http_route`` values that are not application
            traffic (the performance API, the dashboard polling itself).
    """

    service: str | None
    window: Window
    exclude_routes: str

    def _selector(self, *extra: str) -> str:
        service = [] if self.service is None else [f"service_name={_label(self.service)}"]
        return "{" + ", ".join([*service, *extra]) + "}"

    def _requests(self, *extra: str) -> str:
        return self._selector(f"http_route!~{_label(self.exclude_routes)}", *extra)

    def _increase(self, series: str, by: str, *extra: str) -> str:
        selector = f"{_HTTP}_{series}{self._requests(*extra)}"
        return f"sum by ({by}) ({_window_increase(selector, self.window.name)})"

    def services(self) -> str:
        """Requests per service in the window, busiest first."""
        return f"sort_desc({self._increase('count', 'service_name')})"

    def route_requests(self) -> str:
        return self._increase("count", "http_route")

    def route_seconds(self) -> str:
        """Total seconds spent per route: divided by the requests, the mean."""
        return self._increase("sum", "http_route")

    def route_errors(self) -> str:
        return self._increase("count", "http_route", 'http_response_status_code=~"5.."')

    def route_quantile(self, q: float) -> str:
        return f"histogram_quantile({q}, {self._increase('bucket', 'http_route, le')})"

    def quantile(self, q: float) -> str:
        return f"histogram_quantile({q}, {self._increase('bucket', 'le')})"

    def cache_lookups(self) -> str:
        """Cache look-ups by tier and result (hit or miss)."""
        selector = f"otelpipe_cache_requests_total{self._selector()}"
        return f"sum by (cache_tier, cache_result) ({_window_increase(selector, self.window.name)})"

    def _recorded(self, rule: str) -> str:
        step = f"{self.window.step_s}s"
        return f"max(avg_over_time(service:{_HTTP}:{rule}{self._selector()}[{step}]))"

    def trend_mean(self) -> str:
        return self._recorded("mean_5m")

    def trend_p95(self) -> str:
        return self._recorded("p95_5m")

    def grades(self, gauge: str) -> str:
        """A per-category gauge of the grading processor (latest value)."""
        return f"max by (category) (otelpipe_prd_{gauge}{self._selector()})"
