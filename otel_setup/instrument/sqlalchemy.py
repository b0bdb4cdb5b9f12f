"""SQLAlchemy: a client span per query; the connection pool as metrics, not spans.

Each query run by any ``Engine`` (an ``AsyncEngine``'s too, and engines made
before ``setup_telemetry``) becomes a CLIENT span named ``SELECT <db.name>``,
with ``db.system``, ``db.name``, ``db.statement`` (scrubbed of literals before
export), ``db.operation`` (``SELECT``) and, for a server, ``server.address``
and ``server.port``. A failed query's span has ERROR status. The pool is
measured, not traced:

* ``db.client.connection.wait_time`` (s): how long ``Engine.connect()`` took
  to hand over a connection, per pool; a pool that runs dry shows here.
* ``db.client.connection.count`` (``db.client.connection.state`` ``used`` or
  ``idle``): read from each pool when metrics are collected, so it costs
  nothing per query (pools that keep no count, such as SQLite's in-memory
  ``SingletonThreadPool``, are left out).
* A ``connect`` span, with the exception and ERROR status, only when
  ``Engine.connect()`` fails (a database down, a pool timeout).

Pools are named by :func:`pool_name`, in ``db.client.connection.pool.name``.

Why not the contrib ``SQLAlchemyInstrumentor``: it makes a ``connect`` span for
every ``Engine.connect()`` though nearly all only take a pooled connection (a
second span per query, as much to export, store and grade as the query's
own), counts checkouts with four counter updates per query, works the
engine's attributes out again for each query, and traces only engines made
after it. Ours listens on the ``Engine`` class and works each engine's
attributes out once: a query costs 71 µs of CPU on top of SQLite's own
against contrib's 148 (docs/benchmarks.md), and the trace has one span
where contrib's has two.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Collection, Iterable
from time import perf_counter_ns, time_ns
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from opentelemetry.metrics import Observation
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from wrapt import wrap_function_wrapper

from otel_setup.direct_measurements import DirectHistogram

__all__ = ["SQLAlchemyInstrumentor", "pool_name"]

#: Checkouts from a healthy pool take microseconds; a pool that runs dry waits
#: up to its ``pool_timeout`` (30 s by default).
_WAIT_BUCKETS_S = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0)
#: A comment leading the statement (an SQL commenter's) is not its operation.
_LEADING_COMMENT = re.compile(r"\s*(?:/\*.*?\*/\s*)*", re.DOTALL)
#: Where the span of a running query waits for its end, on SQLAlchemy's execution context.
_SPAN = "_otelpipe_span"


def pool_name(url: URL) -> str:
    """The engine URL without credentials and query: ``postgresql://db:5432/shop``.

    The query goes too: drivers take passwords there (``?sslpassword=…``).
    """
    return url.set(query={})._replace(username=None, password=None).render_as_string()


class _Engine:
    """What the spans and metrics of one engine share, worked out once."""

    __slots__ = ("database", "pool", "query")

    def __init__(self, engine: Engine) -> None:
        url = engine.url
        self.database = url.database or ""
        self.query: dict[str, Any] = {"db.system": engine.dialect.name}
        if url.database:
            self.query["db.name"] = url.database
        if url.host:
            self.query["server.address"] = url.host
            if url.port:
                self.query["server.port"] = url.port
        self.pool = {"db.client.connection.pool.name": pool_name(url)}


class SQLAlchemyInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces queries and measures pools of every SQLAlchemy ``Engine``, as the module says.

    ``instrument(tracer_provider=…, meter_provider=…)``; either defaults to the global one.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("sqlalchemy >= 1.4, < 2.1",)

    def _instrument(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(__name__, tracer_provider=kwargs.get("tracer_provider"))
        meter = metrics.get_meter(__name__, meter_provider=kwargs.get("meter_provider"))
        engines: weakref.WeakKeyDictionary[Engine, _Engine] = weakref.WeakKeyDictionary()

        def known(engine: Engine) -> _Engine:
            found = engines.get(engine)
            return found if found is not None else engines.setdefault(engine, _Engine(engine))

        wait = DirectHistogram(
            meter.create_histogram(
                "db.client.connection.wait_time",
                unit="s",
                description="Time Engine.connect() took to hand over a pooled connection.",
                explicit_bucket_boundaries_advisory=_WAIT_BUCKETS_S,
            )
        )
        meter.create_observable_up_down_counter(
            "db.client.connection.count",
            callbacks=[lambda _options: _pool_counts(engines)],
            unit="{connection}",
            description="Connections of each pool, in use and idle, when metrics are collected.",
        )
        self._listeners = _query_listeners(tracer, known)
        for name, listener in self._listeners.items():
            event.listen(Engine, name, listener, retval=name == "before_cursor_execute")
        wrap_function_wrapper(
            "sqlalchemy.engine.base", "Engine.connect", _timed(wait, tracer, known)
        )

    def _uninstrument(self, **_kwargs: Any) -> None:
        for name, listener in self._listeners.items():
            event.remove(Engine, name, listener)
        unwrap(Engine, "connect")


def _query_listeners(
    tracer: trace.Tracer, known: Callable[[Engine], _Engine]
) -> dict[str, Callable[..., Any]]:
    """The ``Engine`` events that start, end and fail a query's span."""

    def before_cursor_execute(
        conn: Any, _cursor: Any, statement: str, parameters: Any, context: Any, _many: bool
    ) -> tuple[str, Any]:
        if context is not None and is_instrumentation_enabled():
            engine = known(conn.engine)
            operation = _LEADING_COMMENT.sub("", statement, count=1).split(None, 1)[:1]
            attributes = {**engine.query, "db.statement": statement}
            if operation:
                attributes["db.operation"] = operation[0]
            name = (
                " ".join(filter(None, (*operation, engine.database))) or engine.query["db.system"]
            )
            setattr(
                context, _SPAN, tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
            )
        return statement, parameters

    def after_cursor_execute(
        _conn: Any, _cursor: Any, _statement: str, _parameters: Any, context: Any, _many: bool
    ) -> None:
        span = getattr(context, _SPAN, None)
        if span is not None:
            span.end()
            setattr(context, _SPAN, None)

    def handle_error(exception_context: Any) -> None:
        context = exception_context.execution_context
        span = getattr(context, _SPAN, None)
        if span is not None:
            error = exception_context.original_exception
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.end()
            setattr(context, _SPAN, None)

    return {
        "before_cursor_execute": before_cursor_execute,
        "after_cursor_execute": after_cursor_execute,
        "handle_error": handle_error,
    }


def _timed(
    wait: DirectHistogram, tracer: trace.Tracer, known: Callable[[Engine], _Engine]
) -> Callable[..., Any]:
    """The ``Engine.connect`` wrapper: times each checkout; a failed one becomes a span."""

    def connect(
        func: Callable[..., Any], engine: Engine, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not is_instrumentation_enabled():
            return func(*args, **kwargs)
        seen = known(engine)
        started, start_time = perf_counter_ns(), time_ns()
        try:
            connection = func(*args, **kwargs)
        except Exception:
            attributes = {**seen.query, **seen.pool}
            # A span leaving a with block by an exception records it, is set to ERROR and ends.
            with tracer.start_span(
                "connect", kind=SpanKind.CLIENT, attributes=attributes, start_time=start_time
            ):
                raise
        wait.record((perf_counter_ns() - started) / 1e9, seen.pool)
        return connection

    return connect


def _pool_counts(engines: weakref.WeakKeyDictionary[Engine, _Engine]) -> Iterable[Observation]:
    for engine, known in list(engines.items()):
        pool = engine.pool
        if hasattr(pool, "checkedout") and hasattr(pool, "checkedin"):
            yield Observation(
                pool.checkedout(), {**known.pool, "db.client.connection.state": "used"}
            )
            yield Observation(
                pool.checkedin(), {**known.pool, "db.client.connection.state": "idle"}
            )
