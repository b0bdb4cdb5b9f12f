"""The main job: stack up, the demo services, a burst of load, then where to look.

The gateway (``apps.gateway``) calls the payments service (``apps.payments``)
on every checkout, so a checkout is one trace across two services. Load comes
from ``otelpipe load``'s engine. The stack stays up afterwards so the data can
be explored; ``otelpipe stack down`` stops it. The services are stopped
(gracefully, so their telemetry is flushed) before the summary is read back
from the backends.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from apps.load import LoadPlan, build_report, parse_endpoint, run_load
from apps.load.cli import GATEWAY_MIX
from apps.load.progress import ProgressBar
from otelpipe import stack
from otelpipe.queries import iter_log_records, jaeger_traces, prometheus_query
from otelpipe.stack.components import http_ok
from otelpipe.stack.progress import Progress
from otelpipe.stack.supervisor import port_in_use
from processors.api import PREFIX as PERFORMANCE_API
from processors.targets import load_targets

__all__ = [
    "DemoSummary",
    "ServiceProcess",
    "drive_load",
    "print_summary",
    "run_demo",
    "start_service",
]

T = TypeVar("T")

GATEWAY, GATEWAY_APP = "gateway", "apps.gateway.app:app"
PAYMENTS, PAYMENTS_APP = "payments", "apps.payments.app:app"
#: How long the summary waits for every request to show up in Prometheus and Jaeger.
DELIVERY_TIMEOUT_S = 30.0
#: One query to Jaeger or Prometheus; a slower backend is reported, not waited for.
QUERY_TIMEOUT_S = 20.0
#: How long the grades may take to settle once the load has ended.
SETTLE_TIMEOUT_S = 10.0


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


def _bind_options(server: str, host: str, port: int, access_log: bool) -> list[str]:
    if server == "gunicorn":
        return ["--bind", f"{host}:{port}", *(["--access-logfile", "-"] if access_log else [])]
    return [
        "--host",
        host,
        "--port",
        str(port),
        "--access-log" if access_log else "--no-access-log",
    ]


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
    port_env: str | None = None,
    access_log: bool = False,
) -> ServiceProcess:
    """Run ``app`` on ``port``, its JSON logs in ``<home>/logs/<service>.log``.

    ``server`` is the module to run and its own options: uvicorn by default,
    or e.g. ``("gunicorn", "-k", "uvicorn_worker.UvicornWorker", "--preload")``.
    The server's access log (a line per request, in the same JSON) is off
    unless ``access_log``.

    Raises:
        stack.StackError: the port is taken (the message names ``port_env``, the
            variable that moves it), or the service did not answer ``/health`` in time.
    """
    url = f"http://{settings.host}:{port}"
    if port_in_use(settings.host, port):
        hint = f"; choose another with {port_env}" if port_env else ""
        raise stack.StackError(
            f"{service}: port {port} on {settings.host} is already in use by another process{hint}"
        )
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
                *_bind_options(server[0], settings.host, port, access_log),
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


def drive_load(base_url: str, duration_s: float, *, show_progress: bool = True) -> dict[str, Any]:
    """One deliberately slow report (for the slow-query log), then the demo's traffic
    mix for ``duration_s`` through ``otelpipe load``'s engine; returns its JSON report
    (the slow report is not in it)."""
    httpx.get(f"{base_url}/reports/slow", params={"delay_ms": 1200}, timeout=10)
    plan = LoadPlan(
        base_url=base_url,
        endpoints=tuple(parse_endpoint(spec) for spec in GATEWAY_MIX),
        duration_s=duration_s,
        concurrency=4,
    )
    progress = ProgressBar() if show_progress else None
    try:
        result = asyncio.run(run_load(plan, progress))
    finally:
        if progress is not None:
            progress.close()
    return build_report(result, load_targets())


@dataclass
class DemoSummary:
    run_id: str
    #: ``otelpipe load``'s JSON report of the load (per endpoint: percentiles, SLO verdicts).
    load: dict[str, Any]
    load_report: str
    #: Every request the gateway counted in Prometheus for this run (the performance API aside).
    requests_in_prometheus: float
    traces_in_jaeger: int
    #: Checkout traces in Jaeger with spans of both the gateway and the payments service.
    distributed_traces: int
    log_records_in_storage: int
    jaeger_url: str
    prometheus_url: str
    log_storage: str
    service_logs: dict[str, str]
    #: Each service's /api/v1/performance/report (window 5m), read just before it stopped.
    performance: dict[str, dict[str, Any]]
    slow_query_logs: dict[str, str]
    #: Backends that did not answer the last query, and why ("Jaeger": "ReadTimeout: ...").
    unanswered: dict[str, str]


def _distributed(traces: list[dict[str, Any]]) -> int:
    return sum(
        1
        for trace in traces
        if {p["serviceName"] for p in trace["processes"].values()} >= {GATEWAY, PAYMENTS}
    )


def _requests_in_prometheus(settings: stack.StackSettings, run_id: str) -> float:
    counted = prometheus_query(
        settings.url("prometheus"),
        "sum(max_over_time(http_server_request_duration_seconds_count"
        f'{{service_name="{GATEWAY}", otelpipe_run_id="{run_id}", '
        f'http_route!~"{PERFORMANCE_API}.*"}}[1h]))',
        timeout_s=QUERY_TIMEOUT_S,
    )
    return float(counted[0]["value"][1]) if counted else 0.0


def _gateway_traces(
    settings: stack.StackSettings,
    run_id: str,
    since: float,
    limit: int,
    operation: str | None = None,
) -> list[dict[str, Any]]:
    return jaeger_traces(
        settings.url("jaeger_query"),
        GATEWAY,
        operation=operation,
        tags={"otelpipe.run_id": run_id},
        limit=limit,
        since=since,
        timeout_s=QUERY_TIMEOUT_S,
    )


def _answer(backend: str, query: Callable[[], T], unanswered: dict[str, str], none: T) -> T:
    """``query()``; if the backend fails it, ``none``, with the reason kept in ``unanswered``."""
    try:
        answer = query()
    except (httpx.HTTPError, RuntimeError) as exc:
        unanswered[backend] = f"{type(exc).__name__}: {exc}"
        return none
    unanswered.pop(backend, None)
    return answer


def _wait_delivered(
    settings: stack.StackSettings,
    run_id: str,
    since: float,
    sent: int,
    checkouts_sent: int,
    unanswered: dict[str, str],
) -> tuple[float, int, list[dict[str, Any]]]:
    """(requests in Prometheus, gateway traces in Jaeger, checkout traces) once the first
    two reach ``sent`` and every checkout is one trace across both services, or what
    they are after :data:`DELIVERY_TIMEOUT_S`.

    Checkouts are waited for on their own: the payments service's spans of a trace
    reach Jaeger in a write of their own, and may land after the gateway's.
    """
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        counted = _answer(
            "Prometheus", lambda: _requests_in_prometheus(settings, run_id), unanswered, 0.0
        )
        traces = _answer(
            "Jaeger",
            lambda: len(_gateway_traces(settings, run_id, since, limit=2 * sent)),
            unanswered,
            0,
        )
        late = time.monotonic() >= deadline
        if (counted >= sent and traces >= sent) or late:
            # Whole traces: asked for only once the counts are in.
            checkouts = _answer(
                "Jaeger",
                lambda: _gateway_traces(settings, run_id, since, sent, "POST /checkout/{item_id}"),
                unanswered,
                [],
            )
            if _distributed(checkouts) >= checkouts_sent or late:
                return counted, traces, checkouts
        time.sleep(1)


def _summarise(
    settings: stack.StackSettings,
    run_id: str,
    since: float,
    load: dict[str, Any],
    load_report: Path,
    services: dict[str, ServiceProcess],
    performance: dict[str, dict[str, Any]],
) -> DemoSummary:
    """Read back, once the pipeline has delivered, what the backends hold of this run."""
    sent = load["totals"]["requests"] + 1  # and the one slow report
    checkouts_sent = sum(
        e["requests"] for e in load["endpoints"] if e["endpoint"].startswith("POST /checkout")
    )
    unanswered: dict[str, str] = {}
    counted, traces, checkouts = _wait_delivered(
        settings, run_id, since, sent, checkouts_sent, unanswered
    )
    logs = sum(
        1
        for r in iter_log_records(settings.telemetry_logs_dir)
        if r["resource"].get("otelpipe.run_id") == run_id
    )
    return DemoSummary(
        run_id=run_id,
        load=load,
        load_report=str(load_report),
        requests_in_prometheus=counted,
        traces_in_jaeger=traces,
        distributed_traces=_distributed(checkouts),
        log_records_in_storage=logs,
        jaeger_url=f"{settings.url('jaeger_query')}/search?service={GATEWAY}",
        prometheus_url=f"{settings.url('prometheus')}/graph",
        log_storage=str(settings.telemetry_logs_dir),
        service_logs={name: str(s.log) for name, s in services.items()},
        performance=performance,
        slow_query_logs={name: str(slow_query_log(settings, name)) for name in services},
        unanswered=unanswered,
    )


def slow_query_log(settings: stack.StackSettings, service: str) -> Path:
    return settings.logs_dir / f"{service}-slow-queries.jsonl"


def _grade_lines(service: str, performance: dict[str, Any]) -> str:
    summary = performance.get("executive_summary", {})
    lines = [
        f"  {service:<10}  overall {summary.get('overall_grade') or '-'}, health score "
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
    for route in performance.get("slowest_routes", [])[:2]:
        lines.append(
            f"              slow route {route['route']:<24} p95 {route['p95_ms']:.1f} ms "
            f"({route['severity']})"
        )
    slow = performance.get("slow_queries") or {}
    lines.append(
        f"              slow SQL   {slow.get('count', 0)} logged  {slow.get('log_file', '-')}"
    )
    return "\n".join(lines)


def _load_lines(load: dict[str, Any]) -> str:
    lines = []
    for e in load["endpoints"]:
        lat, slo = e["latency_ms"], e["slo"]
        verdict = ("SLO met" if slo["met"] else "SLO missed") if slo["graded"] else "not graded"
        lines.append(
            f"  {e['endpoint'][:38]:<38} {e['requests']:>6} req  p50 {lat['p50'] or 0:7.1f}  "
            f"p95 {lat['p95'] or 0:7.1f}  p99 {lat['p99'] or 0:7.1f} ms  "
            f"{e['error_rate']:5.1f}% err  {verdict}"
        )
    return "\n".join(lines)


def _print_summary(summary: DemoSummary) -> None:
    totals = summary.load["totals"]
    grades = "\n".join(_grade_lines(name, report) for name, report in summary.performance.items())
    print(f"""
otel-perf-pipeline demo, run {summary.run_id}: {totals["requests"]} requests, \
{totals["errors"]} failed, {totals["throughput_rps"]:.0f} req/s

Load (otelpipe load; full report {summary.load_report})
{_load_lines(summary.load)}

Traces    {summary.traces_in_jaeger} gateway traces in Jaeger, {summary.distributed_traces} \
checkouts traced across gateway -> payments
          {summary.jaeger_url}  (Jaeger's HTTP API; the native build has no UI pages)
Metrics   {summary.requests_in_prometheus:.0f} requests counted in Prometheus  \
{summary.prometheus_url}
          e.g. rate(http_server_request_duration_seconds_count[1m])
Logs      {summary.log_records_in_storage} records in log storage  \
{summary.log_storage}/otel-logs.jsonl
          service stdout (JSON lines): {", ".join(summary.service_logs.values())}
Grades (/api/v1/performance/report, last 5 minutes)
{grades}
{_unanswered_lines(summary.unanswered)}
The stack keeps running; stop it with: otelpipe stack down""")


def _unanswered_lines(unanswered: dict[str, str]) -> str:
    """Why a figure above is 0 when a backend did not answer (nothing if all did)."""
    return "".join(
        f"\n{backend} did not answer the last query ({reason}); its figure above is 0."
        "\nSee `otelpipe stack status` and the stack's logs.\n"
        for backend, reason in unanswered.items()
    )


def _start_services(settings: stack.StackSettings, run_id: str) -> dict[str, ServiceProcess]:
    """Payments first: the gateway calls it."""
    services: dict[str, ServiceProcess] = {}
    extra = {
        # Tags everything this run produces, so the summary counts this run only.
        "OTEL_RESOURCE_ATTRIBUTES": f"otelpipe.run_id={run_id}",
        "PAYMENTS_URL": settings.url("payments"),
    }
    try:
        for name, app in ((PAYMENTS, PAYMENTS_APP), (GATEWAY, GATEWAY_APP)):
            services[name] = start_service(
                settings,
                app=app,
                service=name,
                port=settings.ports[name],
                port_env=f"OTELPIPE_{name.upper()}_PORT",
                extra_env={**extra, "OTELPIPE_SLOW_QUERY_LOG": str(slow_query_log(settings, name))},
            )
    except stack.StackError:
        for running in services.values():
            running.stop()
        raise
    return services


def _reports(services: Mapping[str, ServiceProcess]) -> dict[str, dict[str, Any]]:
    return {
        name: httpx.get(
            f"{s.url}{PERFORMANCE_API}/report", params={"window": "5m"}, timeout=10
        ).json()
        for name, s in services.items()
    }


def _settled_reports(services: Mapping[str, ServiceProcess]) -> dict[str, dict[str, Any]]:
    """Each service's performance report once its grades no longer change.

    The last spans of the load are graded on the services' worker threads just
    after their responses went out; a report read at once can miss them, and
    then disagree with the grades the services export when they stop. Read
    until two reads a second apart grade alike, for at most
    :data:`SETTLE_TIMEOUT_S`.
    """
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    reports = _reports(services)
    while time.monotonic() < deadline:
        time.sleep(1)
        again = _reports(services)
        if all(
            again[n].get("prd_compliance") == r.get("prd_compliance") for n, r in reports.items()
        ):
            return again
        reports = again
    return reports


def run_demo(
    settings: stack.StackSettings, *, duration_s: float, progress: Progress
) -> DemoSummary:
    """Run the main job: stack up, services, load, then read back what the backends hold."""
    stack.up(settings, progress)
    run_id, since = uuid.uuid4().hex[:12], time.time()
    progress(
        f"starting the demo services: gateway on {settings.url('gateway')}, "
        f"payments on {settings.url('payments')}"
    )
    services = _start_services(settings, run_id)
    try:
        progress(f"one slow report (for the slow-query log), then load for {duration_s:.0f}s")
        load = drive_load(settings.url("gateway"), duration_s)
        performance = _settled_reports(services)
    finally:
        for running in services.values():
            running.stop()
    load_report = settings.home / "reports" / f"load-{run_id}.json"
    load_report.parent.mkdir(parents=True, exist_ok=True)
    load_report.write_text(json.dumps(load, indent=2) + "\n")
    progress("waiting for the pipeline to deliver (collector batches, metric flush)")
    return _summarise(settings, run_id, since, load, load_report, services, performance)


def print_summary(summary: DemoSummary, *, as_json: bool = False) -> int:
    """Print ``summary`` (as JSON, or for people); the exit code says whether data arrived."""
    if as_json:
        print(json.dumps(asdict(summary), indent=2))
    else:
        _print_summary(summary)
    return 0 if summary.traces_in_jaeger and summary.requests_in_prometheus else 1
