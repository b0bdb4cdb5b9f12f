"""Bad input to an instrumented service: a clear answer or bounded telemetry, never a crash.

Requests are crafted ASGI scopes sent straight to the app, so they can carry
what no well-behaved client (or test client) sends: undecodable bytes,
invented methods, megabyte headers.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import string
import time
from typing import Any

import pytest
import structlog
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import otel_setup.providers as providers_module
from otel_setup._sdk_env import SDK_VARIABLES
from otel_setup.config import ConfigError, Settings
from tests.support import metric_points

_ONCE_PER_APP = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int, q: str = "") -> dict[str, Any]:
        return {"id": item_id, "q_length": len(q)}

    return app


def http_scope(**overrides: Any) -> dict[str, Any]:
    """A raw ASGI HTTP scope for ``GET /items/1``, with ``overrides`` applied."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/items/1",
        "raw_path": b"/items/1",
        "query_string": b"",
        "headers": [(b"host", b"svc")],
        "server": ("svc", 80),
        "client": ("10.0.0.1", 4000),
        **overrides,
    }


def call(app: FastAPI, **scope: Any) -> int:
    """Send one request as a raw ASGI scope; its status (an exception escaping fails the test)."""
    full = http_scope(**scope)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(full, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def server_spans(spans) -> list:  # type: ignore[no-untyped-def]
    return [s for s in spans.get_finished_spans() if s.kind.name == "SERVER"]


def _exported_text(span) -> str:  # type: ignore[no-untyped-def]
    return repr((span.name, dict(span.attributes), [dict(e.attributes) for e in span.events]))


@pytest.fixture
def served(instrument):  # type: ignore[no-untyped-def]
    app = _app()
    _, spans = instrument(app)
    return app, spans


# -- non-UTF-8 bytes in paths, query strings and headers -------------------------------------
undecodable = st.binary(min_size=1, max_size=20).filter(lambda b: not b.isascii())


@_ONCE_PER_APP
@given(raw=undecodable)
def test_undecodable_path_is_answered_and_exported_as_replacement_characters(
    served, raw: bytes
) -> None:
    app, spans = served
    spans.clear()
    for prefix in (b"/items/", b"/nowhere/"):  # a 422 of a route and a 404
        # What a server hands over when it keeps undecodable bytes as surrogates.
        path = (prefix + raw).decode("utf-8", "surrogateescape")
        # Before: a surrogate made FastAPI's 422 page raise UnicodeEncodeError (a 500).
        assert call(app, raw_path=prefix + raw, path=path) < 500
        (span,) = server_spans(spans)
        spans.clear()
        _exported_text(span).encode("utf-8")  # what the OTLP encoder does
        assert span.attributes["url.path"] == re.sub("[\ud800-\udfff]", "\ufffd", path)


@_ONCE_PER_APP
@given(raw=undecodable)
def test_undecodable_query_string_is_served(served, raw: bytes) -> None:
    # Before: UnicodeDecodeError in the OTel ASGI middleware, a 500 and no span.
    app, spans = served
    spans.clear()
    assert call(app, query_string=b"q=" + raw) == 200
    (span,) = server_spans(spans)
    assert span.name == "GET /items/{item_id}"


@_ONCE_PER_APP
@given(value=st.binary(max_size=200))
def test_any_header_bytes_are_served(served, value: bytes) -> None:
    app, spans = served
    spans.clear()
    headers = [(b"host", b"svc"), (b"user-agent", value), (b"x-request-id", value)]
    assert call(app, headers=headers) == 200
    (span,) = server_spans(spans)
    _exported_text(span).encode("utf-8")
    assert len(span.attributes["request.id"]) <= 128


# -- invented methods ------------------------------------------------------------------------
@_ONCE_PER_APP
@given(method=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12))
def test_invented_methods_do_not_invent_span_names(served, method: str) -> None:
    app, spans = served
    spans.clear()
    call(app, method=method, path="/nowhere/7", raw_path=b"/nowhere/7")
    (span,) = server_spans(spans)
    # The methods of HTTP semantic conventions: RFC 9110's, PATCH and QUERY.
    known = {
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "DELETE",
        "CONNECT",
        "OPTIONS",
        "TRACE",
        "PATCH",
        "QUERY",
    }
    assert span.name == f"{method if method in known else 'HTTP'} /nowhere/{{id}}"


# -- out-of-range and malformed settings -----------------------------------------------------
#: option -> its environment variable, for every numeric setting.
NUMERIC = {
    "metric_export_interval_ms": "OTEL_METRIC_EXPORT_INTERVAL",
    "traces_sampler_arg": "OTEL_TRACES_SAMPLER_ARG",
    "shutdown_timeout_s": "OTELPIPE_SHUTDOWN_TIMEOUT",
    "slow_query_threshold_s": "OTELPIPE_SLOW_QUERY_THRESHOLD",
    "slow_query_critical_s": "OTELPIPE_SLOW_QUERY_CRITICAL",
    "span_queue_size": "OTEL_BSP_MAX_QUEUE_SIZE",
    "log_queue_size": "OTEL_BLRP_MAX_QUEUE_SIZE",
    "attribute_value_length_limit": "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
}
bad_numbers = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, 1e300, -1e-300]),
    st.floats(),
    st.integers(min_value=-(10**20), max_value=10**20),
)
garbage = st.one_of(st.text(max_size=30), bad_numbers.map(str))


def _resolves_or_names(field: str, **resolve: Any) -> None:
    try:
        Settings.resolve(**resolve)
    except ConfigError as error:
        assert error.field == field
        assert str(error).startswith(f"{field}=")


@settings(max_examples=300, deadline=None)
@given(option=st.sampled_from(sorted(NUMERIC)), value=bad_numbers)
def test_numeric_options_are_valid_or_a_config_error_naming_the_option(
    option: str, value: float
) -> None:
    # Before: metric_export_interval_ms=inf raised OverflowError.
    _resolves_or_names(option, env={}, service_name="s", **{option: value})


@settings(max_examples=300, deadline=None)
@given(option=st.sampled_from(sorted(NUMERIC)), value=garbage)
def test_numeric_variables_are_valid_or_a_config_error_naming_the_variable(
    option: str, value: str
) -> None:
    _resolves_or_names(NUMERIC[option], env={"OTEL_SERVICE_NAME": "s", NUMERIC[option]: value})


@settings(max_examples=300, deadline=None)
@given(variable=st.sampled_from(SDK_VARIABLES), value=garbage)
def test_variables_the_sdk_reads_are_checked_up_front(variable: str, value: str) -> None:
    # Before: OTEL_EXPORTER_OTLP_TIMEOUT=ten, OTEL_EXPORTER_OTLP_COMPRESSION=zip,
    # OTEL_ATTRIBUTE_COUNT_LIMIT=x … raised ValueError and others from the SDK.
    _resolves_or_names(variable, env={"OTEL_SERVICE_NAME": "s", variable: value})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "ten"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zip"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1"),
        ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "sometimes"),
    ],
)
def test_setup_refuses_bad_sdk_variables_with_a_config_error(
    instrument, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"^{variable}="):
        instrument(FastAPI())


@settings(max_examples=300, deadline=None)
@given(
    endpoint=st.one_of(
        st.text(max_size=40),
        st.builds("http://{}:{}".format, st.text(max_size=15), st.text(max_size=6)),
        st.sampled_from(["http://[::1", "http://[zz]:4317", "http://a b:4317", "http://h:0"]),
    )
)
def test_any_endpoint_is_a_url_or_a_config_error(endpoint: str) -> None:
    # Before: "http://[::1" raised a bare ValueError; spaces, newlines and port 0 passed.
    env = {"OTEL_SERVICE_NAME": "s", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    try:
        resolved = Settings.resolve(env=env).otlp_endpoint
    except ConfigError as error:
        assert error.field == "OTEL_EXPORTER_OTLP_ENDPOINT"
    else:
        assert resolved.startswith(("http://", "https://"))
        assert not re.search(r"[\s\x00-\x1f\x7f]", resolved)


@settings(max_examples=200, deadline=None)
@given(raw=st.text(max_size=40))
def test_any_headers_and_resource_attributes_parse_or_are_a_config_error(raw: str) -> None:
    for variable in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_RESOURCE_ATTRIBUTES"):
        env = {"OTEL_SERVICE_NAME": "s", variable: raw}
        try:
            resolved = Settings.resolve(env=env)
        except ConfigError as error:
            assert error.field == variable
        else:
            for value in resolved.otlp_headers.values():  # an export would fail on these
                assert not re.search(r"[\x00-\x1f\x7f]", value)


def test_queue_sizes_come_from_the_sdk_variables() -> None:
    # Before: OTEL_BSP_MAX_QUEUE_SIZE was silently ignored (8192 was passed explicitly).
    env = {
        "OTEL_SERVICE_NAME": "s",
        "OTEL_BSP_MAX_QUEUE_SIZE": "100",
        "OTEL_BLRP_MAX_QUEUE_SIZE": "200",
    }
    resolved = Settings.resolve(env=env)
    assert (resolved.span_queue_size, resolved.log_queue_size) == (100, 200)


# -- oversized values ------------------------------------------------------------------------
def test_megabyte_headers_and_query_strings_are_served_and_exported_bounded(
    instrument, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _app()

    @app.get("/echo")
    async def echo(q: str = "") -> dict[str, int]:
        structlog.get_logger("echo").info("echo", q=q)  # a huge log field
        return {"length": len(q)}

    telemetry, spans = instrument(app)
    limit = telemetry.settings.attribute_value_length_limit
    capsys.readouterr()
    started = time.perf_counter()
    status = call(
        app,
        path="/echo",
        raw_path=b"/echo",
        query_string=b"q=" + b"a" * 1_000_000,
        headers=[
            (b"host", b"svc"),
            (b"user-agent", b"u" * 1_000_000),
            (b"x-request-id", b"r" * 100_000),
        ],
    )
    assert status == 200
    # Before: the scrubber's backtracking took hours over these values.
    assert time.perf_counter() - started < 10
    (span,) = server_spans(spans)
    longest = max(len(v) for v in span.attributes.values() if isinstance(v, str))
    assert longest <= limit  # before: 1,000,000 (user_agent.original, url.query)
    assert len(span.attributes["request.id"]) == 32  # the 100 kB id was replaced
    (line,) = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"echo"' in line
    ]
    assert len(line["q"]) == limit


# -- 10,000 random paths ---------------------------------------------------------------------
_SEGMENT_ALPHABET = string.ascii_letters + string.digits + "-_.~%é€\u200b"


def _random_path(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.3:  # a real route with a random (often invalid) id
        return f"/items/{rng.choice([str(rng.randrange(10**9)), 'x' * rng.randrange(1, 50)])}"
    segments = rng.randrange(1, 12)
    return "/" + "/".join(
        "".join(rng.choices(_SEGMENT_ALPHABET, k=rng.randrange(0, 30))) for _ in range(segments)
    )


def test_ten_thousand_random_paths_give_at_most_50_route_labels(
    instrument, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = InMemoryMetricReader()
    # The instrumented app's own meter provider, read in memory instead of exported.
    monkeypatch.setattr(providers_module, "PeriodicExportingMetricReader", lambda *_, **__: reader)
    app = _app()
    _, spans = instrument(app)
    rng = random.Random(8)  # seeded: the same 10,000 paths on every run
    paths = [_random_path(rng) for _ in range(10_000)]

    async def send_all() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            pass

        for path in paths:
            await app(http_scope(path=path, raw_path=path.encode()), receive, send)

    asyncio.run(send_all())
    finished = server_spans(spans)
    assert len(finished) > 9_900  # the rest are "/" and friends, excluded from tracing
    assert len({s.attributes["http.route"] for s in finished}) <= 50
    assert len({s.name for s in finished}) <= 50
    points = metric_points(reader, "http.server.request.duration")
    assert sum(p.count for p in points) == len(finished)
    assert len({p.attributes.get("http.route") for p in points}) <= 50
    assert len(points) <= 50
