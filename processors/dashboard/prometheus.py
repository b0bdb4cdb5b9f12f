"""A minimal client of Prometheus' HTTP API for the dashboard.

Standard library only, so a service that mounts the dashboard needs no HTTP
client of its own, and the dashboard's own look-ups are not traced as the
service's outgoing calls. Every failure — refused, timed out, a PromQL error —
becomes one :class:`PrometheusError` whose message the page can show as is.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

__all__ = ["Prometheus", "PrometheusError"]


class PrometheusError(Exception):
    """Prometheus did not answer, or rejected a query; the message says which and why."""


@dataclass(frozen=True)
class Prometheus:
    """Queries one Prometheus server.

    Attributes:
        url: base URL, e.g. ``http://127.0.0.1:9090``.
        timeout_s: per request; short, because a page waits on it.
    """

    url: str
    timeout_s: float = 5.0

    def _get(self, path: str, params: dict[str, str]) -> Any:
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(
                f"{self.url}{path}?{query}", timeout=self.timeout_s
            ) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            # Prometheus answers a bad query with 400/422 and a JSON error.
            try:
                reason = json.load(exc).get("error", exc.reason)
            except ValueError:
                reason = exc.reason
            raise PrometheusError(f"Prometheus at {self.url} rejected a query: {reason}") from None
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise PrometheusError(f"Prometheus at {self.url} is unreachable: {reason}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus at {self.url} failed: {body.get('error')}")
        return body["data"]

    def instant(self, promql: str, at: float) -> list[dict[str, Any]]:
        """The instant vector of ``promql`` evaluated at ``at`` (Unix seconds)."""
        return self._get("/api/v1/query", {"query": promql, "time": f"{at:.3f}"})["result"]

    def range(self, promql: str, start: float, end: float, step_s: int) -> list[dict[str, Any]]:
        """The range matrix of ``promql`` from ``start`` to ``end`` every ``step_s`` seconds."""
        params = {
            "query": promql,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": str(step_s),
        }
        return self._get("/api/v1/query_range", params)["result"]

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts pending or firing, with their labels and annotations."""
        return self._get("/api/v1/alerts", {})["alerts"]
