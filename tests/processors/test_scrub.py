"""Secrets are masked in text, attributes, SQL and whole spans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link

from otel_setup.export import ScrubbingMetricExporter, ScrubbingSpanExporter, scrub_span
from processors import scrub as scrub_module
from processors.scrub import (
    _TEXT_PATTERNS,
    REDACTED,
    _mask,
    sanitize_sql,
    scrub_attributes,
    scrub_text,
    scrub_value,
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET /login?user=ann&password=hunter2", "hunter2"),
        ("Authorization: Bearer eyJhbGciOi.abc123def", "eyJhbGciOi.abc123def"),
        ("failed for ann.lee@example.com", "ann.lee@example.com"),
        ("/reset?email=ann.lee%40example.com&n=1", "ann.lee"),  # percent-encoded @
        ("/users/ann.lee%40example.com/reset", "ann.lee"),
        ("token=tok_9f8e7d6c5b4a", "tok_9f8e7d6c5b4a"),
        ('{"api_key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc"}', "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJzdWIiOiIxIn0"),
        ("Cookie: session_id=abc123XYZ", "abc123XYZ"),
        ("db_password: 's3cr3t'", "s3cr3t"),
    ],
)
def test_scrub_text_removes_the_secret(text: str, secret: str) -> None:
    assert secret not in scrub_text(text)


_SECRETISH = st.sampled_from(
    [
        "@",
        "=",
        ":",
        " ",
        "Bearer ",
        "basic\t",
        "eyJ",
        "sk_live_",
        "pk_test_",
        "password",
        "TOKEN",
        "Api-Key",
        "sessionid",
        "Authorization",
        "ſecret",  # noqa: RUF001 - the long s: a case-insensitive "s"
        "coo\u212aie",  # the Kelvin sign: a case-insensitive "k"
        "credentıals",  # noqa: RUF001 - the dotless i: a case-insensitive "i"
        "a.b",
        "%40",
        "[SQL: ",
        "[parameters: ",
        "]\n",
        "x",
        "\udcff",
    ]
)


@given(st.lists(st.one_of(_SECRETISH, st.text(max_size=12)), max_size=8).map("".join))
def test_the_quick_pre_check_never_skips_a_secret(text: str) -> None:
    # scrub_text skips the full pattern when either pre-check finds nothing: same result.
    assert scrub_text(text) == _TEXT_PATTERNS.sub(_mask, text)


#: SQLAlchemy's message for a failed statement: the statement, then its parameters.
_SQLALCHEMY_ERROR = (
    "(sqlite3.IntegrityError) UNIQUE constraint failed: users.email\n"
    "[SQL: INSERT INTO users (email, pin) VALUES (?, ?)]\n"
    "[parameters: ('ann@example.com', '4711')]\n"
    "(Background on this error at: https://sqlalche.me/e/20/gkpj)"
)


def test_sqlalchemy_error_messages_lose_parameters_and_literals() -> None:
    assert scrub_text(_SQLALCHEMY_ERROR) == (
        "(sqlite3.IntegrityError) UNIQUE constraint failed: users.email\n"
        "[SQL: INSERT INTO users (email, pin) VALUES (?, ?)]\n"
        f"[parameters: {REDACTED}]\n"
        "(Background on this error at: https://sqlalche.me/e/20/gkpj)"
    )
    literal = "(sqlite3.OperationalError) no such table: audit\n[SQL: INSERT INTO audit\n"
    literal += "VALUES ('ann@example.com', 'hunter2', 42)]\n(Background on this error at: …)"
    assert scrub_text(literal) == (
        "(sqlite3.OperationalError) no such table: audit\n[SQL: INSERT INTO audit\n"
        "VALUES (?, ?, ?)]\n(Background on this error at: …)"
    )
    # Not SQL, but quoted as such: the other secrets are still found in it.
    assert scrub_text("[SQL: SET password=hunter2 FOR ann@example.com]") == (
        f"[SQL: SET password={REDACTED} FOR [email]]"
    )


def test_scrub_text_leaves_ordinary_text_alone() -> None:
    text = "GET /items/42?page=2&sort=name took 12 ms"
    assert scrub_text(text) == text


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            "SELECT * FROM users WHERE email = 'ann@example.com'",
            "SELECT * FROM users WHERE email = ?",
        ),
        (
            "UPDATE t SET pw = 'it''s secret', n = 42 WHERE id = -7",
            "UPDATE t SET pw = ?, n = ? WHERE id = ?",
        ),
        ("SELECT * FROM t2 WHERE id IN (1, 2, 3)", "SELECT * FROM t2 WHERE id IN (?)"),
        (
            "SELECT col1 FROM table2 WHERE x = ? AND y = :name AND z = $1",
            "SELECT col1 FROM table2 WHERE x = ? AND y = :name AND z = $1",
        ),
        ("SELECT 1.5e3, 0xFF", "SELECT ?, ?"),
    ],
)
def test_sanitize_sql(statement: str, expected: str) -> None:
    assert sanitize_sql(statement) == expected


def test_scrub_attributes() -> None:
    assert scrub_attributes({"http.route": "/items/{id}", "n": 3}) is None
    scrubbed = scrub_attributes(
        {
            "db.user.password": "x",
            "http.request.header.authorization": ("Bearer abc",),
            "db.statement": "SELECT * FROM u WHERE pw = 'p4ss'",
            "url.query": "q=1&token=zzz",
        }
    )
    assert scrubbed == {
        "db.user.password": REDACTED,
        "http.request.header.authorization": REDACTED,
        "db.statement": "SELECT * FROM u WHERE pw = ?",
        "url.query": f"q=1&token={REDACTED}",
    }


def test_scrub_value_goes_into_nested_fields() -> None:
    # What a log field may hold: the request's headers, a list of pairs, a nested body.
    headers = {
        "authorization": "Bearer abc123def456",
        "cookie": "session=s3ss10n",
        "x-user": "ann@example.com",
        "accept": "*/*",
    }
    body = {"user": {"name": "ann", "credentials": {"pin": "1234"}}, "items": [1, 2]}
    assert scrub_value("headers", headers) == {
        "authorization": REDACTED,
        "cookie": REDACTED,
        "x-user": "[email]",
        "accept": "*/*",
    }
    assert scrub_value("pairs", [("cookie", "session=s3ss10n")]) == [
        ("cookie", f"session={REDACTED}")
    ]
    assert scrub_value("body", body) == {
        "user": {"name": "ann", "credentials": REDACTED},
        "items": [1, 2],
    }


def test_scrub_value_turns_other_objects_into_their_scrubbed_repr() -> None:
    error = PermissionError("no user ann@example.com with password=hunter2")
    assert scrub_value("error", error) == (
        f"PermissionError('no user [email] with password={REDACTED}')"
    )
    assert scrub_value("count", 3) == 3 and scrub_value("ok", None) is None


def test_scrub_value_is_bounded_in_depth() -> None:
    deep: dict = {}
    node = deep
    for _ in range(10_000):
        node["next"] = node = {}
    cycle: list = []
    cycle.append(cycle)
    assert "next" in scrub_value("deep", deep)
    assert scrub_value("cycle", cycle) is not None  # no RecursionError


def test_exporter_scrubs_attributes_exception_events_and_status() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ScrubbingSpanExporter(memory)))
    tracer = provider.get_tracer("test")
    with pytest.raises(ValueError), tracer.start_as_current_span("login") as span:
        span.set_attribute("user.email", "ann@example.com")
        raise ValueError("bad credentials: password=hunter2 for ann@example.com")
    (exported,) = memory.get_finished_spans()
    everything = repr(
        (exported.attributes, [e.attributes for e in exported.events], exported.status.description)
    )
    assert "hunter2" not in everything and "ann@example.com" not in everything
    assert exported.events[0].attributes["exception.type"] == "ValueError"


def test_exporter_scrubs_span_and_event_names() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ScrubbingSpanExporter(memory)))
    with provider.get_tracer("test").start_as_current_span("notify ann@example.com") as span:
        span.add_event("reset link sent with token=tok_9f8e7d6c5b4a")
    (exported,) = memory.get_finished_spans()
    assert exported.name == "notify [email]"
    assert exported.events[0].name == f"reset link sent with token={REDACTED}"


def test_exporter_scrubs_link_attributes() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ScrubbingSpanExporter(memory)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("enqueue") as producer:
        pass
    link = Link(producer.get_span_context(), {"user.email": "ann@example.com", "queue": "mails"})
    with tracer.start_as_current_span("consume", links=[link]):
        pass
    exported = memory.get_finished_spans()[-1]
    assert dict(exported.links[0].attributes) == {"user.email": "[email]", "queue": "mails"}
    assert exported.links[0].context == producer.get_span_context()


def test_clean_span_is_passed_through_without_copy() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("test").start_as_current_span("clean") as span:
        span.set_attribute("http.route", "/items/{id}")
    (finished,) = memory.get_finished_spans()
    assert scrub_span(finished) is finished


class _KeepMetrics(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.exported: list[MetricsData] = []

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **_: object
    ) -> MetricExportResult:
        self.exported.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **_: object) -> None:
        pass


def test_metric_exporter_scrubs_data_point_attributes() -> None:
    kept = _KeepMetrics()
    reader = PeriodicExportingMetricReader(
        ScrubbingMetricExporter(kept), export_interval_millis=3_600_000
    )
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("test")
    meter.create_counter("logins").add(1, {"user.email": "ann@example.com", "method": "pw"})
    meter.create_histogram("latency").record(0.2, {"api_key": "sk_live_4eC39HqLyjWD"})
    meter.create_counter("clean").add(1, {"route": "/items/{id}"})
    provider.force_flush()
    provider.shutdown()
    points = {
        metric.name: metric.data.data_points[0].attributes
        for resource in kept.exported[0].resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert points == {
        "logins": {"user.email": "[email]", "method": "pw"},
        "latency": {"api_key": REDACTED},
        "clean": {"route": "/items/{id}"},
    }


def test_clean_texts_are_remembered_within_bounds_and_secrets_never() -> None:
    scrub_module._CLEAN_TEXTS.clear()
    for _ in range(2):  # the second time from memory
        assert scrub_text("GET /health") == "GET /health"
        assert scrub_text("mail ann@example.com") == "mail [email]"
    assert "GET /health" in scrub_module._CLEAN_TEXTS
    assert "mail ann@example.com" not in scrub_module._CLEAN_TEXTS
    long_text = "x" * (scrub_module._CLEAN_TEXT_LENGTH + 1)
    assert scrub_text(long_text) == long_text
    assert long_text not in scrub_module._CLEAN_TEXTS
    for n in range(scrub_module._CLEAN_TEXTS_MAX + 10):
        scrub_text(f"request {n:x}")
    assert len(scrub_module._CLEAN_TEXTS) <= scrub_module._CLEAN_TEXTS_MAX


def test_a_text_remembered_clean_is_still_masked_under_a_secret_key_or_sanitized_as_sql() -> None:
    statement, word = "SELECT name FROM items WHERE id = 42", "hunter2"
    # First seen as ordinary values: both remembered clean.
    assert scrub_attributes({"note": statement, "nickname": word}) is None
    assert {statement, word} <= scrub_module._CLEAN_TEXTS.keys()
    assert scrub_attributes({"db.query.text": statement, "user.password": word, "n": [1]}) == {
        "db.query.text": "SELECT name FROM items WHERE id = ?",
        "user.password": REDACTED,
        "n": [1],
    }
