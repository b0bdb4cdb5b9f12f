"""Cache hit/miss on Redis spans.

Read commands (``GET``, ``MGET``, ``HGET``, …) are cache look-ups: their span
gets ``cache.hit``, ``cache.tier`` (Redis's tier, ``L2`` by default) and
``otelpipe.category="cache"``, and they are counted in
``otelpipe.cache.requests{cache.tier, cache.result}`` beside the look-ups
tracked with :func:`otel_setup.track.cache`. Other commands are database
operations (``otelpipe.category="database"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.trace import Span

from otel_setup.instruments import CATEGORY, instruments

__all__ = ["redis_response_hook"]

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


def _is_hit(response: Any) -> bool:
    if isinstance(response, list | tuple):
        return any(item is not None for item in response)
    return response not in (None, 0, {}, b"", "")


def redis_response_hook(tier: str) -> Callable[[Span, Any, Any], None]:
    """The ``RedisInstrumentor`` response hook counting reads as cache look-ups in ``tier``."""

    def hook(span: Span, _instance: Any, response: Any) -> None:
        if not span.is_recording():
            return
        if getattr(span, "name", "") not in _READS:
            span.set_attribute(CATEGORY, "database")
            return
        hit = _is_hit(response)
        span.set_attributes({CATEGORY: "cache", "cache.tier": tier, "cache.hit": hit})
        instruments().cache_requests.add(
            1, {"cache.tier": tier, "cache.result": "hit" if hit else "miss"}
        )

    return hook
