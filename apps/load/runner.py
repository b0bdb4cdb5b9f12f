"""Send the plan's requests with httpx's async client and record every answer's timing."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from apps.load.plan import Endpoint, LoadPlan

__all__ = ["EndpointSamples", "LoadResult", "Tick", "run_load"]

#: Stands for "no answer" (refused, reset, timed out) among the status codes.
NO_ANSWER = 0


@dataclass
class EndpointSamples:
    """Everything measured for one endpoint, in seconds."""

    endpoint: Endpoint
    #: From the request's due time: its scheduled start in an open loop, its send otherwise.
    latencies: list[float] = field(default_factory=list)
    #: From the moment the request was actually sent.
    service_times: list[float] = field(default_factory=list)
    #: Per request: no answer or a 5xx (4xx is the caller's mistake, not an outage).
    failed: list[bool] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    #: Why requests got no answer, by exception type, e.g. ``{"ConnectError": 3}``.
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return sum(self.failed)

    def add(self, latency: float, service_time: float, status: int) -> bool:
        """Record one request; returns whether it failed."""
        failed = status == NO_ANSWER or status >= 500
        self.latencies.append(latency)
        self.service_times.append(service_time)
        self.failed.append(failed)
        self.statuses[status] += 1
        return failed


@dataclass
class LoadResult:
    plan: LoadPlan
    samples: dict[str, EndpointSamples]
    elapsed_s: float
    #: Wall-clock start, seconds since the epoch.
    started_at: float
    #: Open loop only: how late the latest-starting request left, against its schedule.
    max_start_lag_s: float = 0.0


@dataclass(frozen=True)
class Tick:
    """Where a running load stands, for a progress display."""

    done: int
    errors: int
    elapsed_s: float
    #: 0-1: requests done of ``--requests``, or time spent of ``--duration``, whichever is further.
    fraction: float
    #: Latencies (seconds) that arrived since the previous tick.
    recent: list[float]


async def run_load(
    plan: LoadPlan, on_tick: Callable[[Tick], None] | None = None, tick_s: float = 0.25
) -> LoadResult:
    """Run ``plan`` to its end; ``on_tick`` is called every ``tick_s`` seconds meanwhile."""
    rng = random.Random(plan.seed)
    samples = {e.name: EndpointSamples(e) for e in plan.endpoints}
    weights = list(itertools.accumulate(e.weight for e in plan.endpoints))
    sequence = itertools.count()
    recent: list[float] = []
    totals = {"done": 0, "errors": 0, "lag": 0.0}
    started_at = time.time()
    start = time.perf_counter()
    deadline = start + plan.duration_s if plan.duration_s is not None else float("inf")

    def next_due() -> float | None:
        """When the next request is due, or None once the plan is exhausted."""
        i = next(sequence)
        if plan.requests is not None and i >= plan.requests:
            return None
        due = start + i / plan.rate if plan.rate is not None else time.perf_counter()
        return due if due < deadline else None

    async def caller(client: httpx.AsyncClient) -> None:
        while (due := next_due()) is not None:
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            endpoint = rng.choices(plan.endpoints, cum_weights=weights)[0]
            sent = time.perf_counter()
            totals["lag"] = max(totals["lag"], sent - due)
            try:
                response = await client.request(endpoint.method, endpoint.render(rng, plan.ids))
                status = response.status_code
            except httpx.HTTPError as exc:
                status = NO_ANSWER
                samples[endpoint.name].failures[type(exc).__name__] += 1
            finished = time.perf_counter()
            totals["errors"] += samples[endpoint.name].add(finished - due, finished - sent, status)
            totals["done"] += 1
            recent.append(finished - due)

    def tick() -> None:
        if on_tick is None:
            return
        elapsed = time.perf_counter() - start
        fraction = max(
            totals["done"] / plan.requests if plan.requests else 0.0,
            elapsed / plan.duration_s if plan.duration_s else 0.0,
        )
        on_tick(Tick(totals["done"], totals["errors"], elapsed, min(fraction, 1.0), recent[:]))
        recent.clear()

    async def ticker() -> None:
        while True:
            await asyncio.sleep(tick_s)
            tick()

    limits = httpx.Limits(
        max_connections=plan.concurrency, max_keepalive_connections=plan.concurrency
    )
    async with httpx.AsyncClient(
        base_url=plan.base_url, timeout=plan.timeout_s, limits=limits
    ) as client:
        progress = asyncio.create_task(ticker())
        try:
            await asyncio.gather(*(caller(client) for _ in range(plan.concurrency)))
        finally:
            progress.cancel()
    tick()
    return LoadResult(
        plan=plan,
        samples=samples,
        elapsed_s=time.perf_counter() - start,
        started_at=started_at,
        max_start_lag_s=totals["lag"] if plan.open_loop else 0.0,
    )
