"""Redis: a client span per command and per pipeline; reads counted as cache look-ups.

Every command sent by a ``redis`` client — sync or asyncio, plain or cluster,
and a pipeline's ``execute()`` — becomes a CLIENT span, the same spans as the
contrib ``RedisInstrumentor`` makes:

* a command's span is named after it (``GET``) and carries ``db.statement``
  (``GET ?``: arguments never leave the process) and ``db.redis.args_length``;
* a pipeline's span is named after its commands (``SET GET``), its statement
  has one line per command, and it carries ``db.redis.pipeline_length``;
* both carry ``db.system`` and, for a client with a connection pool, the
  connection's database index, address, port and transport, named as
  ``OTEL_SEMCONV_STABILITY_OPT_IN`` says, as for contrib (``setup_telemetry``'s
  default ``http`` gives ``server.address``, ``server.port`` and
  ``network.transport``; ``database`` gives ``db.system.name`` and
  ``db.query.text``);
* a failed command's span records the exception and has ERROR status; a
  pipeline's ``WatchError`` (another client changed a watched key: retry) is
  not an error.

Read commands (``GET``, ``MGET``, ``HGET``, …) are cache look-ups: their
span gets ``otelpipe.category="cache"``, ``cache.tier`` (Redis's tier,
``L2`` by default) and, once answered, ``cache.hit``; each answered read is
counted in ``otelpipe.cache.requests{cache.tier, cache.result}`` beside the
look-ups tracked with :func:`otel_setup.track.cache`, sampled or not. Other
commands and pipelines are ``otelpipe.category="database"``.

Unlike contrib's, a command's span is not made the current span while the
command runs (nothing inside a Redis call makes spans of its own), and a
cluster client's spans carry ``db.system`` too. Why not contrib's: it sets
each attribute in a call of its own, works the connection's attributes and
the semantic-convention mode out again for every command, and adds the cache
attributes in a hook afterwards: 44 to 64 µs of CPU a ``GET`` in spans and
processors, where this costs 25 to 39 (docs/benchmarks.md, tenth round).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection
from typing import Any

import redis
from opentelemetry import trace
from opentelemetry.instrumentation._semconv import (
    _get_schema_url_for_signal_types,
    _OpenTelemetrySemanticConventionStability,
    _OpenTelemetryStabilitySignalType,
    _set_db_statement,
    _set_db_system,
)
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.redis.util import _extract_conn_attributes, _format_command_args
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from opentelemetry.trace import SpanKind
from wrapt import wrap_function_wrapper

from otel_setup.instruments import CATEGORY, instruments

__all__ = ["RedisInstrumentor"]

#: Commands whose reply tells whether the key was there.
_READS = frozenset(
    {
        "GET",
        "GETEX",
        "GETDEL",
        "MGET",
        "HGET",
        "HMGET",
        "HGETALL",
        "EXISTS",
        "LRANGE",
        "SMEMBERS",
        "ZRANGE",
        "JSON.GET",
    }
)
#: (module, "Class.method") of every command path; the pipelines' ``execute`` apart.
_COMMANDS = (
    ("redis.client", "Redis.execute_command"),
    ("redis.client", "Pipeline.immediate_execute_command"),
    ("redis.cluster", "RedisCluster.execute_command"),
    ("redis.asyncio.client", "Redis.execute_command"),
    ("redis.asyncio.client", "Pipeline.immediate_execute_command"),
    ("redis.asyncio.cluster", "RedisCluster.execute_command"),
)
_PIPELINES = (
    ("redis.client", "Pipeline.execute"),
    ("redis.cluster", "ClusterPipeline.execute"),
    ("redis.asyncio.client", "Pipeline.execute"),
    ("redis.asyncio.cluster", "ClusterPipeline.execute"),
)
_ASYNC_MODULES = frozenset({"redis.asyncio.client", "redis.asyncio.cluster"})


def _is_hit(response: Any) -> bool:
    if isinstance(response, list | tuple):
        return any(item is not None for item in response)
    return response not in (None, 0, {}, b"", "")


def _queued(pipeline: Any) -> list[tuple[Any, ...]]:
    """The argument tuples of a pipeline's queued commands: redis-py 6+ cluster
    pipelines queue them on their execution strategy, the others on themselves."""
    strategy = getattr(pipeline, "_execution_strategy", None)
    holder = pipeline if strategy is None else strategy
    for name in ("command_queue", "_command_queue", "command_stack", "_command_stack"):
        queue = getattr(holder, name, None)
        if queue is not None:
            break
    else:
        queue = ()
    return [command.args if hasattr(command, "args") else command[0] for command in queue]


class _Spans:
    """Starts the spans of one instrumentation and finishes those of reads."""

    def __init__(self, tracer: trace.Tracer, tier: str) -> None:
        stability = _OpenTelemetrySemanticConventionStability
        stability._initialize()
        signal = _OpenTelemetryStabilitySignalType
        self._db_mode = stability._get_opentelemetry_stability_opt_in_mode(signal.DATABASE)
        self._http_mode = stability._get_opentelemetry_stability_opt_in_mode(signal.HTTP)
        self._tracer = tracer
        self._read = {CATEGORY: "cache", "cache.tier": tier}
        self._write = {CATEGORY: "database"}
        self._counted = {
            hit: {"cache.tier": tier, "cache.result": "hit" if hit else "miss"}
            for hit in (True, False)
        }
        self._pools: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
        self._cluster: dict[str, Any] = {}
        _set_db_system(self._cluster, "redis", self._db_mode)

    def _connection(self, client: Any) -> dict[str, Any]:
        pool = getattr(client, "connection_pool", None)
        if pool is None:  # a cluster client: one pool per node
            return self._cluster
        found = self._pools.get(pool)
        if found is None:
            kwargs = getattr(pool, "connection_kwargs", {})
            found = _extract_conn_attributes(kwargs, self._db_mode, self._http_mode)
            self._pools[pool] = found
        return found

    def command(self, client: Any, args: tuple[Any, ...]) -> tuple[trace.Span, bool]:
        """The span of a command, and whether the command is a read."""
        name = str(args[0]) if args and args[0] else str(self._db_index(client))
        read = name in _READS
        attributes = {**self._connection(client), "db.redis.args_length": len(args)}
        _set_db_statement(attributes, _format_command_args(args), self._db_mode)
        attributes.update(self._read if read else self._write)
        return self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes), read

    def pipeline(self, pipeline: Any) -> trace.Span:
        try:
            commands = _queued(pipeline)
            statement = "\n".join(_format_command_args(args) for args in commands)
            name = " ".join(str(args[0]) for args in commands) or "redis"
        except (AttributeError, IndexError, TypeError):
            commands, statement, name = [], "", "redis"
        attributes = {**self._connection(pipeline), "db.redis.pipeline_length": len(commands)}
        _set_db_statement(attributes, statement, self._db_mode)
        attributes.update(self._write)
        return self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)

    def answered(self, span: trace.Span, response: Any) -> None:
        """Mark a read's span as a hit or a miss and count it."""
        hit = _is_hit(response)
        span.set_attribute("cache.hit", hit)
        instruments().cache_requests.add(1, self._counted[hit])

    @staticmethod
    def _db_index(client: Any) -> int:
        pool = getattr(client, "connection_pool", None)
        return getattr(pool, "connection_kwargs", {}).get("db") or 0


def _command(spans: _Spans) -> Callable[..., Any]:
    def execute_command(
        func: Callable[..., Any], client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not is_instrumentation_enabled():
            return func(*args, **kwargs)
        # A span leaving a with block by an exception records it, is set to ERROR and ends.
        span, read = spans.command(client, args)
        with span:
            response = func(*args, **kwargs)
            if read:
                spans.answered(span, response)
        return response

    return execute_command


def _async_command(spans: _Spans) -> Callable[..., Any]:
    async def execute_command(
        func: Callable[..., Any], client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not is_instrumentation_enabled():
            return await func(*args, **kwargs)
        span, read = spans.command(client, args)
        with span:
            response = await func(*args, **kwargs)
            if read:
                spans.answered(span, response)
        return response

    return execute_command


def _pipeline(spans: _Spans) -> Callable[..., Any]:
    def execute(
        func: Callable[..., Any], pipeline: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not is_instrumentation_enabled():
            return func(*args, **kwargs)
        with spans.pipeline(pipeline):
            try:
                return func(*args, **kwargs)
            except redis.WatchError as exc:
                watched = exc  # the span ends without an error
        raise watched

    return execute


def _async_pipeline(spans: _Spans) -> Callable[..., Any]:
    async def execute(
        func: Callable[..., Any], pipeline: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not is_instrumentation_enabled():
            return await func(*args, **kwargs)
        with spans.pipeline(pipeline):
            try:
                return await func(*args, **kwargs)
            except redis.WatchError as exc:
                watched = exc
        raise watched

    return execute


class RedisInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces the commands and pipelines of every ``redis`` client, as the module says.

    ``instrument(tracer_provider=…, cache_tier="L2")``; the provider defaults to
    the global one.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("redis >= 4.2",)

    def _instrument(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(
            __name__,
            tracer_provider=kwargs.get("tracer_provider"),
            schema_url=_get_schema_url_for_signal_types(
                [
                    _OpenTelemetryStabilitySignalType.DATABASE,
                    _OpenTelemetryStabilitySignalType.HTTP,
                ]
            ),
        )
        spans = _Spans(tracer, kwargs.get("cache_tier") or "L2")
        for module, method in _COMMANDS:
            wrapper = _async_command if module in _ASYNC_MODULES else _command
            wrap_function_wrapper(module, method, wrapper(spans))
        for module, method in _PIPELINES:
            wrapper = _async_pipeline if module in _ASYNC_MODULES else _pipeline
            wrap_function_wrapper(module, method, wrapper(spans))

    def _uninstrument(self, **_kwargs: Any) -> None:
        for module, method in (*_COMMANDS, *_PIPELINES):
            cls, name = method.split(".")
            unwrap(f"{module}.{cls}", name)
