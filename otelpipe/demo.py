"""The main job: stack up, the demo service, a burst of load, then where to look.

The stack stays up afterwards so the data can be explored; ``otelpipe stack
down`` stops it. The demo service itself is stopped (gracefully, so its
telemetry is flushed) before the summary is read back from the backends.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from otelpipe import stack
from otelpipe.queries import iter_log_records, jaeger_traces, prometheus_query
from otelpipe.stack.components import http_ok
from otelpipe.stack.progress import Progress

__all__ = ["DemoSummary", "ServiceProcess", "run_demo", "start_service"]

GATEWAY_APP = "apps.gateway.app:app"
GATEWAY_SERVICE = "gateway"


@dataclass
class ServiceProcess:
    """A demo service running under uvicorn."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM (uvicorn's graceful shutdown flushes telemetry), SIGKILL after ``timeout_s``."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def service_env(settings: stack.StackSettings, service: str) -> dict[str, str]:
    """Environment pointing a demo service at the local stack."""
    return {
        "OTEL_SERVICE_NAME": service,
        "OTEL_EXPORTER_OTLP_ENDPOINT": settings.url("otlp_grpc"),
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_METRIC_EXPORT_INTERVAL": "2000",
        "REDIS_URL": f"redis://{settings.host}:{settings.ports['redis']}/0",
        "OTELPIPE_PROMETHEUS_URL": settings.url("prometheus"),
    }


def _bind_options(server: str, host: str, port: int) -> list[str]:
    if server == "gunicorn":
        return ["--bind", f"{host}:{port}"]
    return ["--host", host, "--port", str(port), "--no-access-log"]


def start_service(
    settings: stack.StackSettings,
    *,
    app: str,
    service: str,
    port: int,
    extra_env: Mapping[str, str] | None = None,
    workers: int = 1,
    server: Sequence[str] = ("uvicorn",),
    ready_timeout_s: float = 30.0,
) -> ServiceProcess:
    """Run ``app`` on ``port``, its JSON logs in ``<home>/logs/<service>.log``.

    ``server`` is the module to run and its own options: uvicorn by default,
    or e.g. ``("gunicorn", "-k", "uvicorn_worker.UvicornWorker", "--preload")``.

    Raises:
        stack.StackError: the port is taken, or the service did not answer ``/health`` in time.
    """
    url = f"http://{settings.host}:{port}"
    if http_ok(f"{url}/health", timeout=0.5):
        raise stack.StackError(f"port {port} already serves something; set OTELPIPE_DEMO_PORT")
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log = settings.logs_dir / f"{service}.log"
    env = {**os.environ, **service_env(settings, service), **(extra_env or {})}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                *server,
                app,
                *_bind_options(server[0], settings.host, port),
                "--workers",
                str(workers),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    running = ServiceProcess(service, url, process, log)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise stack.StackError(f"{service} exited with code {process.returncode}; see {log}")
        if http_ok(f"{url}/health", timeout=0.5):
            return running
        time.sleep(0.2)
    running.stop()
    raise stack.StackError(
        f"{service} did not answer {url}/health within {ready_timeout_s:.0f}s; see {log}"
    )


def drive_load(base_url: str, duration_s: float, progress: Progress) -> tuple[int, int]:
    """Item look-ups (ids 1-200: L1, Redis and database all serve some), checkouts and
    a few failing requests for ``duration_s``, and one deliberately slow report, so
    the slow-query log has an entry.

    Returns (requests sent, non-2xx responses). The full load tool is ``otelpipe load``.
    """
    sent = failed = 0
    deadline = time.monotonic() + duration_s
    next_report = time.monotonic() + 5
    with httpx.Client(base_url=base_url, timeout=10) as client:
        client.get("/reports/slow", params={"delay_ms": 1200})
        while time.monotonic() < deadline:
            item = random.randint(1, 200)
            # One request in ten is a checkout (external API, queue), one in fifty fails.
            if sent % 10 == 9:
                response = client.post(f"/checkout/{item}")
            elif sent % 50 == 49:
                response = client.get("/error")
            else:
                response = client.get(f"/items/{item}")
            sent += 1
            failed += response.status_code >= 400
            if time.monotonic() >= next_report:
                left = max(0.0, deadline - time.monotonic())
                progress(f"load: {sent} requests, {failed} failed, {left:.0f}s left")
                next_report += 5
    return sent, failed


@dataclass
class DemoSummary:
    requests_sent: int
    requests_failed: int
    traces_in_jaeger: int
    requests_in_prometheus: float
    log_records_in_storage: int
    jaeger_url: str
    prometheus_url: str
    log_storage: str
    service_log: str
    #: From the gateway's /api/v1/performance/report (window 5m) just before it stopped.
    performance: dict[str, Any]
    slow_query_log: str
    run_id: str


def _summarise(
    settings: stack.StackSettings,
    sent: int,
    failed: int,
    gateway: ServiceProcess,
    performance: dict[str, Any],
    run_id: str,
) -> DemoSummary:
    run = {"otelpipe.run_id": run_id}
    traces = jaeger_traces(
        settings.url("jaeger_query"), GATEWAY_SERVICE, tags=run, limit=sent + 100
    )
    counted = prometheus_query(
        settings.url("prometheus"),
        "sum(max_over_time(http_server_request_duration_seconds_count"
        f'{{service_name="{GATEWAY_SERVICE}", otelpipe_run_id="{run_id}"}}[1h]))',
    )
    logs = sum(
        1
        for r in iter_log_records(settings.telemetry_logs_dir)
        if r["resource"].get("otelpipe.run_id") == run_id
    )
    return DemoSummary(
        requests_sent=sent,
        requests_failed=failed,
        traces_in_jaeger=len(traces),
        requests_in_prometheus=float(counted[0]["value"][1]) if counted else 0.0,
        log_records_in_storage=logs,
        jaeger_url=f"{settings.url('jaeger_query')}/search?service={GATEWAY_SERVICE}",
        prometheus_url=f"{settings.url('prometheus')}/graph",
        log_storage=str(settings.telemetry_logs_dir),
        service_log=str(gateway.log),
        performance=performance,
        slow_query_log=str(slow_query_log(settings)),
        run_id=run_id,
    )


def slow_query_log(settings: stack.StackSettings) -> Path:
    return settings.logs_dir / f"{GATEWAY_SERVICE}-slow-queries.jsonl"


def _grade_lines(performance: dict[str, Any]) -> str:
    summary = performance.get("executive_summary", {})
    lines = [
        f"  Grades      overall {summary.get('overall_grade') or '-'}, health score "
        f"{summary.get('health_score') or '-'} ({summary.get('health_grade') or '-'}), "
        f"status {summary.get('status', '-')}"
    ]
    for name, report in performance.get("prd_compliance", {}).items():
        measured = (
            f"hit rate {report['hit_rate']:.1f}%"
            if report["kind"] == "hit_rate"
            else f"p95 {report['p95_ms']:.1f} ms"
        )
        lines.append(
            f"              {name:<20} {report['grade']}  {measured:<18} "
            f"compliance {report['compliance']:.1f}%"
        )
    for route in performance.get("slowest_routes", [])[:3]:
        lines.append(
            f"  Slow route  {route['route']:<24} p95 {route['p95_ms']:.1f} ms ({route['severity']})"
        )
    slow = performance.get("slow_queries") or {}
    lines.append(f"  Slow SQL    {slow.get('count', 0)} logged  {slow.get('log_file', '-')}")
    return "\n".join(lines)


def run_demo(
    settings: stack.StackSettings, *, duration_s: float, progress: Progress, as_json: bool = False
) -> int:
    """Run the main job and print the summary. Returns the process exit code."""
    stack.up(settings, progress)
    port = int(os.environ.get("OTELPIPE_DEMO_PORT", "8000"))
    run_id = uuid.uuid4().hex[:12]
    progress(f"starting the demo gateway on port {port}")
    gateway = start_service(
        settings,
        app=GATEWAY_APP,
        service=GATEWAY_SERVICE,
        port=port,
        extra_env={
            "OTELPIPE_SLOW_QUERY_LOG": str(slow_query_log(settings)),
            # Tags everything this run produces, so the summary counts this run only.
            "OTEL_RESOURCE_ATTRIBUTES": f"otelpipe.run_id={run_id}",
        },
    )
    try:
        progress(f"driving load for {duration_s:.0f}s")
        sent, failed = drive_load(gateway.url, duration_s, progress)
        performance = httpx.get(
            f"{gateway.url}/api/v1/performance/report", params={"window": "5m"}, timeout=10
        ).json()
    finally:
        gateway.stop()
    progress("waiting for the pipeline to deliver (tail-sampling decision wait, metric flush)")
    time.sleep(8)
    summary = _summarise(settings, sent, failed, gateway, performance, run_id)
    if as_json:
        print(json.dumps(asdict(summary), indent=2))
    else:
        print(f"""
otel-perf-pipeline demo, run {summary.run_id}: {summary.requests_sent} requests, \
{summary.requests_failed} failed

  Traces      {summary.traces_in_jaeger} in Jaeger        {summary.jaeger_url}
              (Jaeger's HTTP API; the natively built binary has no UI pages)
  Metrics     {summary.requests_in_prometheus:.0f} requests counted in Prometheus  {summary.prometheus_url}
              e.g. rate(http_server_request_duration_seconds_count[1m])
  Logs        {summary.log_records_in_storage} records in log storage  {summary.log_storage}/otel-logs.jsonl
              service stdout (JSON lines): {summary.service_log}
{_grade_lines(summary.performance)}

The stack keeps running; stop it with: otelpipe stack down""")
    return 0 if summary.traces_in_jaeger and summary.requests_in_prometheus else 1
