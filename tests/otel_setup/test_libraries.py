"""SQL and httpx calls become client spans; SQL literals never leave the process."""

from __future__ import annotations

import asyncio
import http.server
import sqlite3
import threading
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.trace import StatusCode

from tests.support import metric_points


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


def _sql_spans(spans):
    return [s for s in _client_spans(spans) if s.attributes.get("db.system") == "sqlite"]


def test_sqlalchemy_query_is_one_span_and_a_pooled_connection_none(instrument) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy", reason="sqlalchemy is a demo extra")
    _, spans = instrument()
    engine = sqlalchemy.create_engine("sqlite://")
    for _ in range(3):  # the pool hands the same connection over three times
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1 WHERE 'x' = :p"), {"p": "secret-param"})
    assert [s.name for s in _client_spans(spans)] == ["SELECT"] * 3  # one layer only
    span = _sql_spans(spans)[0]
    assert span.attributes["db.system"] == "sqlite"
    assert span.attributes["db.operation"] == "SELECT"
    assert span.attributes["db.statement"] == "SELECT ? WHERE ? = ?"  # literals scrubbed
    assert "secret-param" not in repr(span.attributes)


def test_sqlalchemy_engine_made_before_setup_is_traced_too(instrument, tmp_path) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy", reason="sqlalchemy is a demo extra")
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/shop.db")
    _, spans = instrument()
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("/* app=shop */ CREATE TABLE t (x)"))
    (span,) = _sql_spans(spans)
    assert span.name == f"CREATE {tmp_path}/shop.db"
    assert span.attributes["db.operation"] == "CREATE"


def test_sqlalchemy_failed_query_has_an_error_span(instrument) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy", reason="sqlalchemy is a demo extra")
    _, spans = instrument()
    engine = sqlalchemy.create_engine("sqlite://")
    with engine.connect() as connection, pytest.raises(sqlalchemy.exc.OperationalError):
        connection.execute(sqlalchemy.text("SELECT * FROM missing"))
    (span,) = _sql_spans(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert "no such table: missing" in span.status.description


def test_sqlalchemy_failed_connect_is_an_error_span(instrument, tmp_path) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy", reason="sqlalchemy is a demo extra")
    _, spans = instrument()
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/no/such/dir/shop.db")
    with pytest.raises(sqlalchemy.exc.OperationalError):
        engine.connect()
    (span,) = _sql_spans(spans)
    assert span.name == "connect"
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    assert span.attributes["db.client.connection.pool.name"].endswith("/no/such/dir/shop.db")


def test_sqlalchemy_pool_is_measured_in_metrics(instrument, tmp_path) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy", reason="sqlalchemy is a demo extra")
    telemetry, spans = instrument()
    reader = InMemoryMetricReader()
    telemetry.providers.meter_provider.add_metric_reader(reader)
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/shop.db")  # a QueuePool
    pool = f"sqlite:///{tmp_path}/shop.db"

    def counts() -> dict[str, int]:
        points = metric_points(reader, "db.client.connection.count")
        assert {p.attributes["db.client.connection.pool.name"] for p in points} == {pool}
        return {p.attributes["db.client.connection.state"]: p.value for p in points}

    with engine.connect(), engine.connect():
        assert counts() == {"used": 2, "idle": 0}
    assert counts() == {"used": 0, "idle": 2}
    with engine.connect():
        assert counts() == {"used": 1, "idle": 1}
    (waits,) = metric_points(reader, "db.client.connection.wait_time")
    assert waits.attributes == {"db.client.connection.pool.name": pool}
    assert waits.count == 3
    assert not _client_spans(spans)  # checkouts are measured, not traced


def test_sqlalchemy_pool_name_has_no_credentials_nor_query() -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy", reason="sqlalchemy is a demo extra")
    from otel_setup.instrument.sqlalchemy import pool_name

    url = sqlalchemy.make_url("postgresql+psycopg://ann:s3cret@db:5432/shop?sslpassword=x")
    assert pool_name(url) == "postgresql+psycopg://db:5432/shop"


def test_sqlalchemy_uninstrumented_engines_make_no_spans(instrument) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy", reason="sqlalchemy is a demo extra")
    from otel_setup.instrument import uninstrument_libraries

    _, spans = instrument()
    engine = sqlalchemy.create_engine("sqlite://")
    uninstrument_libraries()
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT 1"))
    assert not _client_spans(spans)


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
