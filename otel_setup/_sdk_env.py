"""The ``OTEL_*`` variables the SDK and exporters read themselves, checked up front.

Left to them, a bad value is an exception from deep inside provider
construction (``could not convert string to float``), or a warning and a
silent fallback. :func:`sdk_variable_problem` lets settings resolution refuse
it instead, as a ``ConfigError`` naming the variable.
"""

from __future__ import annotations

import math

__all__ = ["SDK_VARIABLES", "sdk_variable_problem"]

_SIGNALS = ("TRACES", "METRICS", "LOGS")
_LIMITS = (
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
)
_MILLISECONDS = (
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BLRP_SCHEDULE_DELAY",
    "OTEL_BLRP_EXPORT_TIMEOUT",
    "OTEL_METRIC_EXPORT_TIMEOUT",
)
_COMPRESSION = tuple(
    f"OTEL_EXPORTER_OTLP{suffix}_COMPRESSION" for suffix in ("", *(f"_{s}" for s in _SIGNALS))
)
#: The gRPC exporters know only gzip; unset means no compression.
_COMPRESSIONS = {"grpc": ("gzip",), "http/protobuf": ("gzip", "deflate", "none")}
_CHOICES = {
    "OTEL_METRICS_EXEMPLAR_FILTER": ("always_off", "always_on", "trace_based"),
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": ("cumulative", "delta", "lowmemory"),
    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": (
        "explicit_bucket_histogram",
        "base2_exponential_bucket_histogram",
    ),
}
_SECONDS = tuple(
    f"OTEL_EXPORTER_OTLP{suffix}_TIMEOUT" for suffix in ("", *(f"_{s}" for s in _SIGNALS))
)
#: Every variable checked, for the docs and the tests.
SDK_VARIABLES = (*_LIMITS, *_MILLISECONDS, *_SECONDS, *_COMPRESSION, *_CHOICES)


def _number(raw: str, kind: type, low: float, high: float) -> bool:
    try:
        value = kind(raw)
    except ValueError:
        return False
    return math.isfinite(value) and low <= value <= high


def sdk_variable_problem(variable: str, raw: str, protocol: str) -> str | None:
    """What is wrong with ``raw`` as the value of ``variable`` (one of :data:`SDK_VARIABLES`)
    for exporters speaking ``protocol``; None when nothing is."""
    text = raw.strip().lower()
    if variable in _LIMITS:
        ok = text == "unset" or _number(text, int, 0, 2**31 - 1)
        return None if ok else "expected a non-negative integer, or unset"
    if variable in _MILLISECONDS:
        return None if _number(text, int, 0, 3_600_000) else "expected milliseconds, 0-3600000"
    if variable in _SECONDS:
        return None if _number(text, float, 0.001, 3600) else "expected seconds, 0.001-3600"
    choices = _COMPRESSIONS[protocol] if variable in _COMPRESSION else _CHOICES[variable]
    return None if text in choices else f"expected one of {', '.join(choices)}"
