"""SQL and httpx calls become client spans; SQL literals never leave the process."""

from __future__ import annotations

import asyncio
import http.server
import sqlite3
import threading
from collections.abc import Iterator

import httpx
import pytest


def _client_spans(spans):
    return [s for s in spans.get_finished_spans() if s.kind.name == "CLIENT"]


def test_sqlite3_statement_is_exported_without_literals(instrument, monkeypatch) -> None:
    # Plain sqlite3 is instrumented only where SQLAlchemy (which wraps it) is not installed.
    monkeypatch.setattr("otel_setup.instrument._importable", lambda module: module != "sqlalchemy")
    _, spans = instrument()
    cursor = sqlite3.connect(":memory:").cursor()  # the DB-API wrapper traces cursor calls
    cursor.execute("CREATE TABLE users (email TEXT, pin INTEGER)")
    cursor.execute("INSERT INTO users VALUES ('ann@example.com', 4321)")
    statements = [
        s.attributes.get("db.statement") or s.attributes.get("db.query.text")
        for s in _client_spans(spans)
    ]
    assert "INSERT INTO users VALUES (?, ?)" in statements
    assert not any("4321" in s or "ann@example.com" in s for s in statements if s)


def test_sqlalchemy_engine_created_after_setup_is_traced(instrument) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy", reason="sqlalchemy is a demo extra")
    _, spans = instrument()
    engine = sqlalchemy.create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT 1 WHERE 'x' = :p"), {"p": "secret-param"})
    (span,) = [s for s in _client_spans(spans) if s.name.startswith("SELECT")]  # one layer only
    assert span.attributes["db.system"] == "sqlite"
    assert "secret-param" not in repr(span.attributes)


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()


def test_httpx_sync_and_async_calls_name_the_peer_service(instrument, local_server) -> None:
    _, spans = instrument()
    httpx.get(f"{local_server}/pay").raise_for_status()

    async def call() -> None:
        async with httpx.AsyncClient() as client:
            (await client.get(f"{local_server}/pay")).raise_for_status()

    asyncio.run(call())
    client_spans = _client_spans(spans)
    assert len(client_spans) == 2
    for span in client_spans:
        assert span.attributes["peer.service"] == "localhost"
        assert span.attributes["otelpipe.category"] == "http_client"
        assert span.attributes["http.response.status_code"] == 200


def test_httpx_peer_service_extension_names_the_called_service(instrument, local_server) -> None:
    _, spans = instrument()

    async def call() -> None:
        async with httpx.AsyncClient() as client:
            response = await client.get(
                f"{local_server}/pay", extensions={"peer.service": "payments"}
            )
            response.raise_for_status()

    asyncio.run(call())
    with httpx.Client() as client:
        client.get(f"{local_server}/pay", extensions={"peer.service": ""}).raise_for_status()
    named, blank = _client_spans(spans)
    assert named.attributes["peer.service"] == "payments"
    assert blank.attributes["peer.service"] == "localhost"  # an empty name falls back to the host
