"""FastAPI requests become well-named server spans carrying the request id."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/redirect")
    async def redirect() -> dict[str, str]:
        from fastapi.responses import RedirectResponse

        return RedirectResponse("/items/1")  # type: ignore[return-value]

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("db password=hunter2 rejected for ann@example.com")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture
def client_and_spans(instrument):
    app = _app()
    _, spans = instrument(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, spans


def _server_spans(spans):
    return [s for s in spans.get_finished_spans() if s.kind.name == "SERVER"]


def test_route_template_names_the_span_and_request_id_is_echoed(client_and_spans) -> None:
    client, spans = client_and_spans
    response = client.get("/items/42")
    (span,) = _server_spans(spans)
    assert span.name == "GET /items/{item_id}"
    assert span.attributes["http.route"] == "/items/{item_id}"
    assert span.attributes["otelpipe.category"] == "http"
    assert span.attributes["request.id"] == response.headers["x-request-id"]
    assert len(response.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    ("path", "status", "name"),
    [
        ("/nope/123", 404, "GET /nope/{id}"),
        ("/items/abc", 422, "GET /items/{item_id}"),
        ("/redirect", 307, "GET /redirect"),
    ],
)
def test_4xx_and_3xx_keep_a_template_name(client_and_spans, path, status, name) -> None:
    client, spans = client_and_spans
    assert client.get(path, follow_redirects=False).status_code == status
    assert [s.name for s in _server_spans(spans)] == [name]


def test_client_request_id_is_kept_when_plain_and_replaced_when_not(client_and_spans) -> None:
    client, _ = client_and_spans
    assert (
        client.get("/items/1", headers={"X-Request-ID": "req-7.a:b"}).headers["x-request-id"]
        == "req-7.a:b"
    )
    for bad in ("has space", "x" * 200, "semi;colon"):
        echoed = client.get("/items/1", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert echoed != bad and len(echoed) == 32


def test_unhandled_exception_is_an_error_span_with_scrubbed_message_and_a_request_id(
    client_and_spans,
) -> None:
    client, spans = client_and_spans
    response = client.get("/boom")
    assert response.status_code == 500
    assert "x-request-id" in response.headers
    (span,) = _server_spans(spans)
    assert span.status.status_code.name == "ERROR"
    exported = repr((span.attributes, [e.attributes for e in span.events], span.status.description))
    assert "hunter2" not in exported and "ann@example.com" not in exported


def test_excluded_paths_are_not_traced(client_and_spans) -> None:
    client, spans = client_and_spans
    client.get("/health")
    assert _server_spans(spans) == []


def test_no_duplicate_server_span_from_fastapi_native_telemetry(client_and_spans) -> None:
    client, spans = client_and_spans
    client.get("/items/5")
    assert len(_server_spans(spans)) == 1
    assert not [s for s in spans.get_finished_spans() if s.name.startswith("fastapi.")]


def test_server_spans_carry_their_slo_class(client_and_spans) -> None:
    client, spans = client_and_spans
    client.get("/items/1")
    client.get("/api/v1/performance/metrics")
    classes = {s.name: s.attributes.get("otelpipe.slo_class") for s in _server_spans(spans)}
    assert classes == {
        "GET /items/{item_id}": "http_public",
        "GET /api/v1/performance/metrics": None,
    }
