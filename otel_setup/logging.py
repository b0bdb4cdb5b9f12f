"""Structured logging: one structlog processor chain for structlog *and* stdlib records.

Every record becomes one JSON line on stdout carrying ``timestamp``, ``level``,
``logger``, ``service``, ``trace_id`` and ``span_id``, and is also emitted as
an OTel log record (exported over OTLP with the trace context attached).

The chain is a list of small processors, each with one job::

    merge_contextvars (request_id) → add_log_level → add_logger_name
      → PositionalArgumentsFormatter → TimeStamper → AddService → add_trace_context
      → format_exc_info → TruncateStrings → scrub_secrets → ExportToOTel → JSONRenderer

The SDK's own warnings (an unreachable collector, a full queue) pass through
:class:`OncePerInterval`, so an outage costs one line a minute, not one per span.

>>> import structlog
>>> structlog.get_logger("orders").info("order placed", order_id=42)  # doctest: +SKIP
{"order_id": 42, "event": "order placed", "level": "info", ... "trace_id": "4bf9…", "span_id": "00f0…"}
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider

from otel_setup.direct_logs import DirectLogger
from processors.scrub import scrub_value

__all__ = [
    "AddService",
    "ExportToOTel",
    "JsonLinesFormatter",
    "JsonLinesHandler",
    "OncePerInterval",
    "TruncateStrings",
    "add_trace_context",
    "configure_logging",
    "scrub_secrets",
]

EventDict = MutableMapping[str, Any]

_SEVERITY = {
    "debug": SeverityNumber.DEBUG,
    "info": SeverityNumber.INFO,
    "warning": SeverityNumber.WARN,
    "warn": SeverityNumber.WARN,
    "error": SeverityNumber.ERROR,
    "exception": SeverityNumber.ERROR,
    "critical": SeverityNumber.FATAL,
}
#: Keys that become fields of the OTel log record itself, not attributes.
_SERVER_LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "gunicorn.error",
    "gunicorn.access",
)
_RECORD_KEYS = frozenset({"event", "level", "timestamp", "trace_id", "span_id", "exc_info"})

#: structlog's processor chain: one list, which :func:`configure_logging` fills
#: again in place. structlog keeps each logger, once used, with the list it was
#: configured with (cached: an uncached logger is assembled again for every
#: line, 2-7 µs of an 80-100 µs one), so a configuration made later reaches
#: those loggers only through the same list, as structlog's own
#: ``capture_logs`` does. The list always has the same steps in the same
#: places: a line being processed while it is filled again then runs each step
#: once, from the old configuration or the new.
_CHAIN: list[Any] = []


def scrub_secrets(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Mask secrets in every field: whole values of sensitive keys, secrets inside text,
    inside nested fields (a dict of headers) and inside objects (an exception), which
    become their scrubbed ``repr``. Fields starting with ``_`` are structlog's own
    (the stdlib ``LogRecord``) and never rendered."""
    for key, value in event_dict.items():
        if not key.startswith("_"):
            clean = scrub_value(key, value)
            if clean is not value:
                event_dict[key] = clean
    return event_dict


class TruncateStrings:
    """Cut string fields longer than ``max_length`` characters to that length.

    Runs before scrubbing, so a field a client filled with a megabyte costs
    the scrubber (and the log line, and the exported record) at most
    ``max_length`` characters.
    """

    __slots__ = ("_max_length",)

    def __init__(self, max_length: int) -> None:
        self._max_length = max_length

    def __call__(self, _logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        limit = self._max_length
        for key, value in event_dict.items():
            if isinstance(value, str) and len(value) > limit:
                event_dict[key] = value[:limit]
        return event_dict


class OncePerInterval(logging.Filter):
    """Let a record of the ``opentelemetry`` loggers through once per message per interval.

    Records of other loggers always pass. Keyed by logger and message
    template, so distinct problems are each reported.
    """

    def __init__(self, interval_s: float = 60.0) -> None:
        super().__init__()
        self._interval_s = interval_s
        self._last: dict[tuple[str, object], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("opentelemetry"):
            return True
        key = (record.name, record.msg)
        now = time.monotonic()
        if now - self._last.get(key, -self._interval_s) < self._interval_s:
            return False
        if len(self._last) > 1000:  # bounded: forget everything rather than grow
            self._last.clear()
        self._last[key] = now
        return True


def add_trace_context(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Add ``trace_id`` and ``span_id`` (lower-case hex) of the current span, if any."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict["trace_id"] = format(ctx.trace_id, "032x")
        event_dict["span_id"] = format(ctx.span_id, "016x")
    return event_dict


class AddService:
    """Add ``service`` (the ``service.name`` of this process) to every event."""

    __slots__ = ("_service",)

    def __init__(self, service: str) -> None:
        self._service = service

    def __call__(self, _logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", self._service)
        return event_dict


def _attribute_value(value: Any) -> str | int | float | bool:
    return value if isinstance(value, str | int | float | bool) else str(value)


class ExportToOTel:
    """Emit each event as an OTel log record; pass the event on unchanged.

    The body is the event message; the other fields become attributes. The
    record carries the current context, so the backend links it to the trace.
    Emitting only enqueues into the SDK's bounded batch processor. Records of
    the ``opentelemetry`` loggers stay local: exporting an exporter's own
    "export failed" warning would feed the failure back into itself.
    """

    __slots__ = ("_logger",)

    def __init__(self, logger: Logger | None) -> None:
        # None: nothing exported, the event passes on.
        self._logger = DirectLogger(logger) if logger is not None else None

    def close(self) -> None:
        """Stop exporting (at telemetry shutdown); the JSON lines go on."""
        self._logger = None

    def __call__(self, _logger: Any, method: str, event_dict: EventDict) -> EventDict:
        if self._logger is None or str(event_dict.get("logger", "")).startswith("opentelemetry"):
            return event_dict
        level = str(event_dict.get("level", method)).lower()
        self._logger.emit(
            timestamp=time.time_ns(),
            context=otel_context.get_current(),
            severity_number=_SEVERITY.get(level, SeverityNumber.INFO),
            severity_text=level.upper(),
            body=str(event_dict.get("event", "")),
            attributes={
                k: _attribute_value(v)
                for k, v in event_dict.items()
                if k not in _RECORD_KEYS and not k.startswith("_")
            },
        )
        return event_dict


class JsonLinesHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler :func:`configure_logging` installs (one at a time)."""


class JsonLinesFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's ``ProcessorFormatter``, rendering structlog's own events without copies.

    For every record the stock formatter copies the record and its event dict,
    so that other handlers see both unchanged, then strips the copy's marks
    again: about 15 µs a line. An event that reaches a handler has been
    through the whole chain already, and rendering it to JSON changes neither
    record nor event, so ours renders it as it is. Records of stdlib loggers
    take the stock way: the shared chain, then the renderer.
    """

    def __init__(self, shared: list[Any]) -> None:
        self._render = structlog.processors.JSONRenderer()
        super().__init__(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, self._render],
        )

    def format(self, record: logging.LogRecord) -> str:
        event = record.msg
        # ``_logger`` and ``_name``: put on the record by ``wrap_for_formatter``.
        if type(event) is dict and hasattr(record, "_logger"):
            return self._render(None, record._name, event)  # type: ignore[attr-defined,no-any-return]
        return super().format(record)


def configure_logging(
    *,
    service: str,
    logger_provider: LoggerProvider | None,
    level: str = "INFO",
    stream: TextIO | None = None,
    max_field_length: int = 16_384,
) -> ExportToOTel | None:
    """Route structlog and stdlib logging through one JSON + OTel chain.

    Calling it again replaces the previous configuration, for loggers already
    used too. structlog caches each logger at its first use: a chain set later
    with ``structlog.configure(processors=...)`` does not reach those; change the
    list ``structlog.get_config()["processors"]`` in place instead.

    Args:
        service: value of the ``service`` field.
        logger_provider: where log records are exported; ``None`` keeps logs local.
        level: minimum level written and exported.
        stream: where JSON lines go (default ``sys.stdout``).
        max_field_length: longer string fields are cut to this many characters.

    Returns:
        The OTel export step (to :meth:`~ExportToOTel.close` at shutdown), if any.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        # ``log.info("login with password=%s", pw)``: the key is in the message, the
        # secret in the arguments; only the formatted message shows them together.
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.format_exc_info,
        TruncateStrings(max_field_length),
        scrub_secrets,
        # Fields of our own making, after scrubbing: no secret can be in them, and the
        # ":" of a timestamp would send it through the scrubber's full pattern.
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        AddService(service),
        add_trace_context,
    ]
    # In the chain even when nothing is exported: a chain of one shape (see _CHAIN).
    exporter = ExportToOTel(
        logger_provider.get_logger("otel_setup.logging") if logger_provider is not None else None
    )
    shared.append(exporter)

    handler = JsonLinesHandler(stream or sys.stdout)
    handler.addFilter(OncePerInterval())
    handler.setFormatter(JsonLinesFormatter(shared))
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, JsonLinesHandler)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(level)
    # Servers such as uvicorn give their loggers handlers of their own (plain
    # text, no trace ids); send those records through the root chain instead.
    # A logger the server switched off (no handler, no propagation, as
    # uvicorn --no-access-log does) stays off.
    for name in _SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        if server_logger.handlers:
            server_logger.handlers.clear()
            server_logger.propagate = True
    _CHAIN[:] = [
        structlog.stdlib.filter_by_level,
        *shared,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ]
    structlog.configure(
        processors=_CHAIN,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return exporter if logger_provider is not None else None
