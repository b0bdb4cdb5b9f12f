"""One JSON line per record, with trace and request context, and no secrets."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider

from otel_setup.logging import (
    JsonLinesFormatter,
    JsonLinesHandler,
    OncePerInterval,
    configure_logging,
)


def _configure(service: str, stream: io.StringIO, provider: LoggerProvider | None = None) -> None:
    configure_logging(service=service, logger_provider=provider, stream=stream)
    # The handler is the root's: a thread an earlier test left behind (an exporter still
    # retrying a dead collector) can log into this stream. Only this test's records count.
    test_thread = threading.get_ident()
    for handler in _json_handlers():
        handler.addFilter(lambda record: record.thread == test_thread)


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    _configure("orders", stream)
    yield stream
    for handler in _json_handlers():
        logging.getLogger().removeHandler(handler)


def _json_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, JsonLinesHandler)]


def _records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_structlog_and_stdlib_records_share_one_json_format(lines: io.StringIO) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        tokens = structlog.contextvars.bind_contextvars(request_id="req-1")
        structlog.get_logger("app").info("order placed", order_id=7)
        logging.getLogger("legacy").warning("stock low: %d left", 3)
        structlog.contextvars.reset_contextvars(**tokens)
    ctx = span.get_span_context()
    first, second = _records(lines)
    for record in (first, second):
        assert record["trace_id"] == format(ctx.trace_id, "032x")
        assert record["span_id"] == format(ctx.span_id, "016x")
        assert record["request_id"] == "req-1"
        assert record["service"] == "orders"
        assert record["timestamp"].endswith("Z")
    assert (first["event"], first["level"], first["logger"], first["order_id"]) == (
        "order placed",
        "info",
        "app",
        7,
    )
    assert (second["event"], second["level"], second["logger"]) == (
        "stock low: 3 left",
        "warning",
        "legacy",
    )


def test_secrets_never_reach_the_log_line(lines: io.StringIO) -> None:
    log = structlog.get_logger("auth")
    log.info("login", user="ann@example.com", password="hunter2", api_key="sk_live_abcdefgh12")
    try:
        raise PermissionError("token=tok_secret_42 rejected")
    except PermissionError:
        log.exception("denied")
    text = lines.getvalue()
    for secret in ("ann@example.com", "hunter2", "sk_live_abcdefgh12", "tok_secret_42"):
        assert secret not in text


def test_positional_arguments_are_formatted_before_scrubbing(lines: io.StringIO) -> None:
    # The key ("password=%s") is in the message, the secret in the arguments: scrubbed
    # apart, neither half looks like a secret.
    structlog.get_logger("auth").info("login for %s with password=%s", "ann", "hunter2")
    (record,) = _records(lines)
    assert record["event"] == "login for ann with password=[REDACTED]"
    assert "hunter2" not in lines.getvalue()


def test_nested_fields_and_objects_are_scrubbed(lines: io.StringIO) -> None:
    headers = {"authorization": "Bearer abc123def456", "cookie": "session=s3ss10n"}
    error = PermissionError("password=hunter2 rejected")
    structlog.get_logger("auth").warning("denied", headers=headers, error=error)
    text = lines.getvalue()
    for secret in ("abc123def456", "s3ss10n", "hunter2"):
        assert secret not in text
    (first,) = _records(lines)
    assert first["headers"] == {"authorization": "[REDACTED]", "cookie": "[REDACTED]"}
    assert first["error"] == "PermissionError('password=[REDACTED] rejected')"


def test_uvicorn_loggers_go_through_the_json_chain(lines: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info("Started server process")
    (record,) = _records(lines)
    assert record["logger"] == "uvicorn.error" and record["service"] == "orders"


def test_sdk_warnings_are_let_through_once_per_interval() -> None:
    limit = OncePerInterval(interval_s=60)

    def record(name: str, msg: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, (), None)

    exporter = "opentelemetry.exporter.otlp.proto.grpc.exporter"
    assert limit.filter(record(exporter, "Failed to export %s"))
    assert not limit.filter(record(exporter, "Failed to export %s"))
    assert limit.filter(record(exporter, "Transient error %s"))
    assert all(limit.filter(record("app", "same message")) for _ in range(3))


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_structlog_events_render_as_structlogs_formatter_renders_them(lines: io.StringIO) -> None:
    # Ours renders the event as it is, where structlog's copies record and event first:
    # the lines must not differ, and another handler must still get the event untouched.
    other = _Keep()
    test_thread = threading.get_ident()
    other.addFilter(lambda record: record.thread == test_thread)
    logging.getLogger().addHandler(other)
    try:
        log = structlog.get_logger("app")
        log.info("order placed", order_id=7, tags=["a", "b"], price=9.5, note=None)
        log.warning("card declined for %s", "ann@example.com", attempt=2)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("payment failed", order_id=7)
    finally:
        logging.getLogger().removeHandler(other)
    (handler,) = _json_handlers()
    ours = handler.formatter
    assert isinstance(ours, JsonLinesFormatter)
    stock = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=ours.foreign_pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    written = lines.getvalue().splitlines()
    assert len(other.records) == len(written) == 3
    assert [stock.format(r) for r in other.records] == written
    assert all(type(r.msg) is dict and "_record" not in r.msg for r in other.records)
    assert "[email]" in written[1] and "ValueError: boom" in written[2]


def test_loggers_already_used_follow_a_new_configuration(lines: io.StringIO) -> None:
    # structlog keeps a logger once it has been used; configuring again must reach it.
    used_before_setup = structlog.get_logger("startup")
    structlog.reset_defaults()
    used_before_setup.info("starting")  # structlog's own defaults: a line on stdout
    _configure("orders", lines)
    used_after_setup = structlog.get_logger("app")
    used_before_setup.info("one")
    used_after_setup.info("one")
    shape = _chain_steps()
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    again = io.StringIO()
    _configure("billing", again, provider)
    used_before_setup.info("two", password="hunter2")
    used_after_setup.info("two")
    # With export or without, the same steps in the same places: a line that is being
    # processed while the chain is filled again runs each step once.
    assert _chain_steps() == shape
    assert [(r["logger"], r["service"]) for r in _records(lines)] == [
        ("startup", "orders"),
        ("app", "orders"),
    ]
    second = _records(again)
    assert [(r["event"], r["logger"], r["service"]) for r in second] == [
        ("two", "startup", "billing"),
        ("two", "app", "billing"),
    ]
    assert second[0]["password"] == "[REDACTED]"
    exported = [r.log_record for r in exporter.get_finished_logs()]
    assert [(r.body, r.attributes["logger"]) for r in exported] == [
        ("two", "startup"),
        ("two", "app"),
    ]
    # Configured again without export: the loggers stop exporting.
    _configure("billing", io.StringIO())
    used_after_setup.info("three")
    assert len(exporter.get_finished_logs()) == 2


def _chain_steps() -> list[str]:
    return [
        getattr(step, "__name__", type(step).__name__)
        for step in structlog.get_config()["processors"]
    ]


def test_structlogs_capture_logs_sees_loggers_already_used(lines: io.StringIO) -> None:
    log = structlog.get_logger("app")
    log.info("before")
    with structlog.testing.capture_logs() as captured:
        log.info("captured", order_id=7)
    log.info("after")
    assert captured == [{"event": "captured", "order_id": 7, "log_level": "info"}]
    assert [r["event"] for r in _records(lines)] == ["before", "after"]
