"""HTTP load from a separate process: ``wrk`` for throughput, the project's load tool
for latency at a fixed rate.

The load generator must not share the interpreter (or the GIL) of the service
it measures. For throughput it is wrk, a C program (``scripts/setup.sh``
installs it); at a fixed rate well below saturation the project's own load
tool, in the measuring process, is quick enough, and it counts latency from
each request's scheduled start.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from apps.load import LoadPlan, parse_endpoint, percentile, run_load

__all__ = ["LoadResult", "OpenLoad", "Route", "open_loop", "run_wrk"]

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class Route:
    """What to request: ``path``, or — with a wrk Lua ``script`` — whatever the script
    builds (``path`` then only describes it)."""

    path: str
    script: Path | None = None


@dataclass(frozen=True)
class LoadResult:
    requests_per_s: float
    requests: int
    #: Non-2xx/3xx responses and socket errors together.
    errors: int
    p50_ms: float
    p99_ms: float


def _number(pattern: str, output: str, default: float = 0.0) -> float:
    match = re.search(pattern, output)
    return float(match.group(1)) if match else default


def _latency_ms(percentile: str, output: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    return round(float(match.group(1)) * _UNITS[match.group(2)], 3) if match else 0.0


def parse_wrk(output: str) -> LoadResult:
    """The figures of one ``wrk --latency`` run.

    Raises:
        RuntimeError: the output holds no ``Requests/sec`` line (wrk failed).
    """
    if "Requests/sec:" not in output:
        raise RuntimeError(f"wrk produced no result:\n{output}")
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return LoadResult(
        requests_per_s=_number(r"Requests/sec:\s+([\d.]+)", output),
        requests=int(_number(r"(\d+) requests in", output)),
        errors=int(_number(r"Non-2xx or 3xx responses: (\d+)", output))
        + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0),
        p50_ms=_latency_ms("50", output),
        p99_ms=_latency_ms("99", output),
    )


def run_wrk(base_url: str, route: Route, seconds: float, connections: int) -> LoadResult:
    """Load ``route`` of ``base_url`` for ``seconds`` over ``connections`` keep-alive connections.

    One wrk thread: on a 2-core machine the service needs the other core.

    Raises:
        RuntimeError: wrk is not installed (``scripts/setup.sh`` installs it) or failed.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed; run scripts/setup.sh (Debian package wrk)")
    argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    if route.script is not None:
        argv += ["-s", str(route.script)]
    url = base_url + ("/" if route.script is not None else route.path)
    completed = subprocess.run([*argv, url], capture_output=True, text=True, timeout=seconds + 60)
    return parse_wrk(completed.stdout + completed.stderr)


@dataclass(frozen=True)
class OpenLoad:
    """What an open-loop run measured: each request's status and latency."""

    statuses: list[int]
    latencies_s: list[float]
    #: How far the load tool itself fell behind its schedule.
    max_start_lag_s: float

    @property
    def answered(self) -> int:
        """Requests answered 200."""
        return sum(1 for status in self.statuses if status == 200)

    def percentile_ms(self, p: float) -> float:
        return percentile(sorted(self.latencies_s), p) * 1000


def open_loop(url: str, rate: float, seconds: float, path: str = "/items/{id}") -> OpenLoad:
    """``rate`` requests/s for ``seconds`` through the load tool. Latency counts from each
    request's scheduled start, so a stall cannot hide by slowing the load down."""
    plan = LoadPlan(
        base_url=url,
        endpoints=(parse_endpoint(path),),
        duration_s=seconds,
        rate=rate,
        concurrency=32,
        timeout_s=10,
    )
    result = asyncio.run(run_load(plan))
    (samples,) = result.samples.values()
    statuses = [s for s, n in samples.statuses.items() for _ in range(n)]
    return OpenLoad(statuses, samples.latencies, result.max_start_lag_s)
