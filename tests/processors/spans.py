"""Synthetic finished spans with exact timings, for processor tests."""

from __future__ import annotations

import itertools
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

_ids = itertools.count(1)


def span(
    duration_ms: float,
    *,
    end_s: float = 1_000.0,
    kind: SpanKind = SpanKind.INTERNAL,
    error: bool = False,
    trace_id: int | None = None,
    name: str = "op",
    **attributes: Any,
) -> ReadableSpan:
    """A finished span ending at ``end_s`` (epoch seconds) that lasted ``duration_ms``.

    Attribute keys use ``__`` for dots: ``otelpipe__category="database"``.
    """
    end = int(end_s * 1e9)
    return ReadableSpan(
        name=name,
        context=SpanContext(trace_id or next(_ids), next(_ids), is_remote=False),
        attributes={key.replace("__", "."): value for key, value in attributes.items()},
        kind=kind,
        status=Status(StatusCode.ERROR if error else StatusCode.UNSET),
        start_time=end - int(duration_ms * 1e6),
        end_time=end,
    )
