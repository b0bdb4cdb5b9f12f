"""Redis client spans (contrib ``RedisInstrumentor``), when redis-py is installed."""

from __future__ import annotations

import importlib.util

from otel_setup.providers import Providers

__all__ = ["instrument_redis", "uninstrument_redis"]


def instrument_redis(providers: Providers) -> bool:
    """Trace every redis-py command (sync and asyncio clients). Returns False without redis-py."""
    if importlib.util.find_spec("redis") is None:
        return False
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    instrumentor = RedisInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=providers.tracer_provider)
    return True


def uninstrument_redis() -> None:
    if importlib.util.find_spec("redis") is None:
        return
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor().uninstrument()
