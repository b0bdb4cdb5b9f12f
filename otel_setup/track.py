"""Helpers for the operations auto-instrumentation cannot see.

Each helper is a context manager *and* a decorator (sync or async functions)
that opens one span carrying ``otelpipe.category``, which the processors use
to grade the operation, and records the matching metric where there is one.
Exceptions are recorded on the span, mark it as an error and propagate.

>>> from otel_setup import track
>>> with track.authentication(method="password"):
...     pass
>>> with track.cache("L1", name="items") as op:
...     op.hit = False
>>> @track.external("stripe", "create_payment")
... async def charge(order): ...
>>> @track.job("nightly_report")
... def report(): ...
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from otel_setup.config import CACHE_TIERS
from otel_setup.instruments import CATEGORY, instruments
from otel_setup.spans import CurrentSpan, F, decorate

__all__ = [
    "Operation",
    "authentication",
    "authorization",
    "cache",
    "connection",
    "database",
    "external",
    "job",
    "queue_size",
    "queue_wait",
]

_tracer = trace.get_tracer("otel_setup.track")


class Operation:
    """One tracked operation: a span (``.span``) and what to record when it ends.

    Re-usable: every ``with`` block or decorated call opens its own span.
    """

    __slots__ = (
        "_finish",
        "_kind",
        "_name",
        "_scope",
        "_start",
        "_started",
        "attributes",
        "hit",
        "span",
    )

    def __init__(
        self,
        name: str,
        attributes: Mapping[str, Any],
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        start: Callable[[Operation], None] | None = None,
        finish: Callable[[Operation, BaseException | None, float], None] | None = None,
    ) -> None:
        self._name = name
        self.attributes = dict(attributes)
        self._kind = kind
        self._start = start
        self._finish = finish
        self._scope: CurrentSpan | None = None
        self._started = 0.0
        self.span: Span = trace.INVALID_SPAN
        #: For cache operations: set to True/False inside the block.
        self.hit: bool | None = None

    def _fresh(self) -> Operation:
        return Operation(
            self._name, self.attributes, kind=self._kind, start=self._start, finish=self._finish
        )

    def __enter__(self) -> Operation:
        if self._start is not None:
            self._start(self)
        # start_span and CurrentSpan: what start_as_current_span does, without the
        # proxy tracer's generator layer per operation.
        self.span = _tracer.start_span(self._name, kind=self._kind, attributes=self.attributes)
        self._scope = CurrentSpan(self.span, end_on_exit=True)
        self._scope.__enter__()
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self._started
        if self._finish is not None:
            self._finish(self, exc, elapsed)
        self._scope.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        return decorate(self._fresh, func)


def authentication(method: str = "password", **attributes: Any) -> Operation:
    """Verifying who the caller is (graded against the authentication target)."""
    return Operation(
        f"auth.authenticate {method}",
        {CATEGORY: "authentication", "otelpipe.auth.method": method, **attributes},
    )


def authorization(resource: str, action: str, **attributes: Any) -> Operation:
    """Deciding whether the caller may ``action`` on ``resource``."""
    return Operation(
        f"auth.authorize {action} {resource}",
        {
            CATEGORY: "authorization",
            "otelpipe.authz.resource": resource,
            "otelpipe.authz.action": action,
            **attributes,
        },
    )


def _count_cache(op: Operation, _exc: BaseException | None, _elapsed: float) -> None:
    result = "hit" if op.hit else "miss"
    op.span.set_attribute("cache.hit", bool(op.hit))
    instruments().cache_requests.add(
        1, {"cache.tier": op.attributes["cache.tier"], "cache.result": result}
    )


def cache(tier: str, name: str = "default", **attributes: Any) -> Operation:
    """A cache look-up in tier ``L1``/``L2``/``L3``; set ``op.hit`` inside the block.

    Counted in ``otelpipe.cache.requests{cache.tier, cache.result}``; an
    operation that never set ``hit`` counts as a miss.
    """
    tier = tier.upper()
    if tier not in CACHE_TIERS:
        raise ValueError(f"cache tier {tier!r}: expected one of {', '.join(CACHE_TIERS)}")
    return Operation(
        f"cache.get {name}",
        {CATEGORY: "cache", "cache.tier": tier, "cache.name": name, **attributes},
        finish=_count_cache,
    )


def database(
    operation: str, table: str | None = None, system: str = "other_sql", **attributes: Any
) -> Operation:
    """A database operation the SQL instrumentation does not see (an ORM batch, a stored call)."""
    attrs = {
        CATEGORY: "database",
        "db.system.name": system,
        "db.operation.name": operation,
        **attributes,
    }
    if table:
        attrs["db.collection.name"] = table
    return Operation(f"{operation} {table}" if table else operation, attrs, kind=SpanKind.CLIENT)


def external(service: str, operation: str, **attributes: Any) -> Operation:
    """A call to a third-party API, e.g. ``external("stripe", "create_payment")``."""
    return Operation(
        f"{service} {operation}",
        {
            CATEGORY: "external_api",
            "peer.service": service,
            "otelpipe.external.operation": operation,
            **attributes,
        },
        kind=SpanKind.CLIENT,
    )


def _record_job(op: Operation, exc: BaseException | None, elapsed: float) -> None:
    status = "error" if exc is not None else "ok"
    op.span.set_attribute("otelpipe.job.status", status)
    instruments().job_duration.record(
        elapsed,
        {"otelpipe.job.name": op.attributes["otelpipe.job.name"], "otelpipe.job.status": status},
    )


def job(name: str, **attributes: Any) -> Operation:
    """A background job run: duration and status (ok/error) in ``otelpipe.job.duration``."""
    return Operation(
        f"job {name}",
        {CATEGORY: "background_job", "otelpipe.job.name": name, **attributes},
        finish=_record_job,
    )


def queue_size(queue: str, size: int) -> None:
    """Record how many items wait in ``queue`` now (``otelpipe.queue.size``)."""
    instruments().queue_size.set(size, {"otelpipe.queue.name": queue})


def queue_wait(queue: str, seconds: float) -> None:
    """Record how long an item waited in ``queue`` before processing (``otelpipe.queue.wait_time``)."""
    instruments().queue_wait.record(seconds, {"otelpipe.queue.name": queue})


def _acquire(op: Operation) -> None:
    instruments().pool_connections.add(
        1, {"otelpipe.pool.name": op.attributes["otelpipe.pool.name"]}
    )


def _release(op: Operation, _exc: BaseException | None, _elapsed: float) -> None:
    instruments().pool_connections.add(
        -1, {"otelpipe.pool.name": op.attributes["otelpipe.pool.name"]}
    )


def connection(pool: str, **attributes: Any) -> Operation:
    """A connection checked out of ``pool`` for the block (``otelpipe.pool.connections.active``)."""
    return Operation(
        f"pool.checkout {pool}",
        {CATEGORY: "connection_pool", "otelpipe.pool.name": pool, **attributes},
        start=_acquire,
        finish=_release,
    )
