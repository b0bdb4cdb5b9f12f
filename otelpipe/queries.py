"""Read what landed in the backends: Jaeger's query API, Prometheus' HTTP API, log storage.

Used by ``otelpipe demo`` to report what it produced, and by the end-to-end tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

__all__ = ["iter_log_records", "jaeger_traces", "prometheus_query"]


def jaeger_traces(
    base_url: str,
    service: str,
    *,
    operation: str | None = None,
    limit: int = 100,
    lookback: str = "1h",
) -> list[dict[str, Any]]:
    """Traces of ``service`` (optionally one ``operation``) from Jaeger's ``/api/traces``."""
    params: dict[str, str | int] = {"service": service, "limit": limit, "lookback": lookback}
    if operation:
        params["operation"] = operation
    response = httpx.get(f"{base_url}/api/traces", params=params, timeout=10)
    response.raise_for_status()
    return response.json().get("data") or []


def prometheus_query(base_url: str, promql: str) -> list[dict[str, Any]]:
    """Instant-query result vector of ``promql``; raises on a PromQL error."""
    response = httpx.get(f"{base_url}/api/v1/query", params={"query": promql}, timeout=10)
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus rejected {promql!r}: {body.get('error')}")
    return body["data"]["result"]


def iter_log_records(logs_dir: Path) -> Iterator[dict[str, Any]]:
    """Every OTLP log record in the collector's JSON-lines files (rotated ones included).

    Each yielded dict is the OTLP/JSON ``logRecord`` with the service name of
    its resource added under ``"service.name"``.
    """
    for path in sorted(logs_dir.glob("otel-logs*.jsonl")):
        with path.open(errors="replace") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    batch = json.loads(line)
                except ValueError:
                    continue  # a line still being written
                for resource_logs in batch.get("resourceLogs", []):
                    service = next(
                        (
                            a["value"].get("stringValue")
                            for a in resource_logs.get("resource", {}).get("attributes", [])
                            if a["key"] == "service.name"
                        ),
                        None,
                    )
                    for scope_logs in resource_logs.get("scopeLogs", []):
                        for record in scope_logs.get("logRecords", []):
                            yield {**record, "service.name": service}
