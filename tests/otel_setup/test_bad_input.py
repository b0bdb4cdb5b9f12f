"""Bad input to an instrumented service: a clear answer or bounded telemetry, never a crash.

Requests are crafted ASGI scopes sent straight to the app, so they can carry
what no well-behaved client (or test client) sends: undecodable bytes,
invented methods, megabyte headers.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_ONCE_PER_APP = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int, q: str = "") -> dict[str, Any]:
        return {"id": item_id, "q_length": len(q)}

    return app


def call(app: FastAPI, **scope: Any) -> int:
    """Send one request as a raw ASGI scope; its status (an exception escaping fails the test)."""
    full = {
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
        **scope,
    }
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
    known = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
    assert span.name == f"{method if method in known else 'HTTP'} /nowhere/{{id}}"
