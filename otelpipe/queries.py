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
    tags: dict[str, str] | None = None,
    limit: int = 100,
    since: float | None = None,
    timeout_s: float = 10.0,
) -> list[dict[str, Any]]:
    """Traces of ``service`` from Jaeger's ``/api/traces``, optionally of one ``operation``
    and with spans or processes carrying ``tags``.

    ``since`` (a Unix time in seconds) bounds the search to traces that started
    after it; without it Jaeger searches its default two days, which on a store
    holding much more than one run can take longer than ``timeout_s``.

    Raises:
        httpx.HTTPError: Jaeger is unreachable, answered an error, or took longer than
            ``timeout_s``.
    """
    params: dict[str, str | int] = {"service": service, "limit": limit}
    if since is not None:
        params["start"] = int(since * 1e6)  # microseconds
    if operation:
        params["operation"] = operation
    if tags:
        params["tags"] = json.dumps(tags)
    response = httpx.get(f"{base_url}/api/traces", params=params, timeout=timeout_s)
    response.raise_for_status()
    return response.json().get("data") or []


def prometheus_query(
    base_url: str, promql: str, *, timeout_s: float = 10.0
) -> list[dict[str, Any]]:
    """Instant-query result vector of ``promql``.

    Raises:
        RuntimeError: Prometheus rejected the query (the message has its error).
        httpx.HTTPError: Prometheus is unreachable or took longer than ``timeout_s``.
    """
    response = httpx.get(f"{base_url}/api/v1/query", params={"query": promql}, timeout=timeout_s)
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus rejected {promql!r}: {body.get('error')}")
    return body["data"]["result"]


def iter_log_records(logs_dir: Path) -> Iterator[dict[str, Any]]:
    """Every OTLP log record in the collector's JSON-lines files (rotated ones included).

    Each yielded dict is the OTLP/JSON ``logRecord`` with its resource's string
    attributes added under ``"resource"`` and the service name under ``"service.name"``.
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
                    resource = {
                        a["key"]: a["value"].get("stringValue")
                        for a in resource_logs.get("resource", {}).get("attributes", [])
                    }
                    for scope_logs in resource_logs.get("scopeLogs", []):
                        for record in scope_logs.get("logRecords", []):
                            yield {
                                **record,
                                "resource": resource,
                                "service.name": resource.get("service.name"),
                            }
