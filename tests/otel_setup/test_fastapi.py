"""FastAPI requests become well-named server spans carrying the request id."""

from __future__ import annotations

import asyncio

import pytest
import structlog
from fastapi import APIRouter, FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from starlette.routing import Mount

from otel_setup import providers as providers_module
from otel_setup.config import ConfigError
from otel_setup.routes import RouteTemplates
from processors.api import PREFIX
from tests.support import metric_points

ACTIVE = "http.server.active_requests"


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
    assert "otelpipe.category" not in span.attributes  # graded as HTTP by its kind
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


def test_the_request_id_is_bound_for_its_request_only(instrument) -> None:
    """Logs of the request carry its id; the caller's context has none afterwards
    (the app is called in the caller's task, where nothing else would undo it)."""
    app = _app()
    seen: list[object] = []

    @app.get("/who")
    async def who() -> dict[str, str]:
        seen.append(structlog.contextvars.get_contextvars().get("request_id"))
        return {}

    instrument(app)
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": "/who",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"x-request-id", b"req-42")],
    }

    async def call() -> dict[str, object]:
        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(_message: object) -> None:
            pass

        await app(scope, receive, send)
        return structlog.contextvars.get_contextvars()

    assert "request_id" not in asyncio.run(call())
    assert seen == ["req-42"]


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
    client.get("/api/v1/performance/metrics")  # a FastAPI app of its own, mounted
    assert len(_server_spans(spans)) == 2
    assert not [s for s in spans.get_finished_spans() if s.name.startswith("fastapi.")]


def test_the_performance_api_is_one_mount_ahead_of_the_services_routes(instrument) -> None:
    # Routes are matched in order, and setup comes before the service's routes:
    # a request must pay one prefix match for the API, not a try of each route.
    app = FastAPI()
    instrument(app)
    app.get("/health")(lambda: "ok")
    ahead = app.routes[: [getattr(r, "path", None) for r in app.routes].index("/health")]
    (api,) = [r for r in ahead if getattr(r, "path", "").startswith(PREFIX)]
    assert isinstance(api, Mount)
    assert TestClient(app).get(f"{PREFIX}/health").status_code == 200


def test_server_spans_carry_their_slo_class(client_and_spans) -> None:
    client, spans = client_and_spans
    client.get("/items/1")
    client.get("/api/v1/performance/metrics")
    classes = {s.name: s.attributes.get("otelpipe.slo_class") for s in _server_spans(spans)}
    assert classes == {
        "GET /items/{item_id}": "http_public",
        "GET /api/v1/performance/metrics": None,
    }


# -- the server middleware: routes, trace context, metrics, failures --------------------------
@pytest.fixture
def metrics_reader(monkeypatch: pytest.MonkeyPatch) -> InMemoryMetricReader:
    """The instrumented app's own meter provider, read in memory instead of exported."""
    reader = InMemoryMetricReader()
    monkeypatch.setattr(providers_module, "PeriodicExportingMetricReader", lambda *_, **__: reader)
    return reader


def test_routes_of_included_routers_and_mounted_apps_keep_their_full_template(
    instrument,
) -> None:
    app = FastAPI()
    users = APIRouter(prefix="/users")
    users.get("/{user_id}")(lambda user_id: {"id": user_id})
    api = APIRouter(prefix="/api")
    api.include_router(users)
    app.include_router(api, prefix="/v1")
    sub = FastAPI()
    sub.get("/reports/{day}")(lambda day: {"day": day})
    app.mount("/admin", sub)
    app.mount("/static", lambda scope, receive, send: PlainTextResponse("x")(scope, receive, send))
    _, spans = instrument(app)
    with TestClient(app) as client:
        for path in ("/v1/api/users/7", "/admin/reports/monday", "/static/css/site.css"):
            assert client.get(path).status_code == 200, path
    assert [s.name for s in _server_spans(spans)] == [
        "GET /v1/api/users/{user_id}",
        "GET /admin/reports/{day}",
        "GET /static/{path}",
    ]


def test_the_callers_trace_is_continued_and_a_new_one_started_without_it(
    client_and_spans,
) -> None:
    client, spans = client_and_spans
    trace_id, parent_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    client.get("/items/1", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    client.get("/items/2")
    continued, started = _server_spans(spans)
    assert f"{continued.context.trace_id:032x}" == trace_id
    assert f"{continued.parent.span_id:016x}" == parent_id
    assert continued.parent.is_remote
    assert started.parent is None and started.context.trace_id != continued.context.trace_id


def test_request_attributes_follow_the_http_semantic_conventions(client_and_spans) -> None:
    client, spans = client_and_spans
    client.get("/items/3?verbose=1", headers={"User-Agent": "probe/1.0"})
    (span,) = _server_spans(spans)
    assert span.kind.name == "SERVER"
    assert {
        key: span.attributes.get(key)
        for key in (
            "http.request.method",
            "url.scheme",
            "url.path",
            "url.query",
            "http.route",
            "http.response.status_code",
            "user_agent.original",
            "client.address",
        )
    } == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/items/3",
        "url.query": "verbose=1",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
        "user_agent.original": "probe/1.0",
        "client.address": "testclient",
    }
    assert "error.type" not in span.attributes


def test_an_unhandled_exception_is_recorded_with_its_type(client_and_spans) -> None:
    client, spans = client_and_spans
    client.get("/boom")
    (span,) = _server_spans(spans)
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.attributes["http.response.status_code"] == 500
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"] == "RuntimeError"


def test_duration_and_active_requests_are_recorded_per_route(
    instrument, metrics_reader: InMemoryMetricReader
) -> None:
    app = _app()
    seen_active: list[int] = []

    @app.get("/busy")
    async def busy() -> dict[str, str]:
        seen_active.extend(p.value for p in metric_points(metrics_reader, ACTIVE))
        return {"status": "busy"}

    instrument(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/items/1", "/items/2", "/boom", "/busy", "/health"):
            client.get(path)
    durations = {
        (p.attributes["http.route"], p.attributes.get("error.type")): p.count
        for p in metric_points(metrics_reader, "http.server.request.duration")
    }
    # /health is excluded: neither span nor metric.
    assert durations == {
        ("/items/{item_id}", None): 2,
        ("/boom", "RuntimeError"): 1,
        ("/busy", None): 1,
    }
    assert seen_active == [1]  # the request itself, while it ran
    assert [p.value for p in metric_points(metrics_reader, ACTIVE)] == [0]


def test_exemplars_are_off_unless_asked_for(instrument, monkeypatch: pytest.MonkeyPatch) -> None:
    def exemplars(**env: str) -> int:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reader = InMemoryMetricReader()
        monkeypatch.setattr(
            providers_module, "PeriodicExportingMetricReader", lambda *_, **__: reader
        )
        app = _app()
        instrument(app)
        with TestClient(app) as client:
            client.get("/items/1")
        points = metric_points(reader, "http.server.request.duration")
        return sum(len(p.exemplars) for p in points)

    assert exemplars() == 0
    assert exemplars(OTEL_METRICS_EXEMPLAR_FILTER="trace_based") > 0


@pytest.mark.parametrize("exemplar_filter", ["always_off", "trace_based"])
def test_every_finished_request_is_in_the_next_collection(
    instrument, monkeypatch: pytest.MonkeyPatch, exemplar_filter: str
) -> None:
    """Counted at once, whichever path the duration takes (the SDK's aggregation directly,
    or the SDK's record() for exemplars); an exemplar names the trace of its own request."""
    monkeypatch.setenv("OTEL_METRICS_EXEMPLAR_FILTER", exemplar_filter)
    reader = InMemoryMetricReader()
    monkeypatch.setattr(providers_module, "PeriodicExportingMetricReader", lambda *_, **__: reader)
    app = _app()
    _, spans = instrument(app)

    with TestClient(app) as client:
        for count in (1, 2, 70):
            while len(_server_spans(spans)) < count:
                client.get("/items/1")
            (point,) = metric_points(reader, "http.server.request.duration")
            assert point.count == count
            traces = [span.context.trace_id for span in _server_spans(spans)]
            exemplar_traces = {e.trace_id for e in point.exemplars}
            if exemplar_filter == "trace_based":
                # One exemplar per bucket, the bucket's latest: the last request's among them.
                assert traces[-1] in exemplar_traces
                assert exemplar_traces <= set(traces)
            else:
                assert not exemplar_traces


def test_a_failure_of_the_telemetry_never_fails_the_request(
    instrument, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("bug in the route templates")

    monkeypatch.setattr(RouteTemplates, "__call__", broken)
    app = _app()
    _, spans = instrument(app)
    # raise_server_exceptions: anything escaping the app, even after the
    # response, fails the request here.
    with TestClient(app, raise_server_exceptions=True) as client:
        response = client.get("/items/9")
    assert response.status_code == 200 and response.json() == {"id": 9}
    (span,) = _server_spans(spans)  # ended all the same
    assert span.end_time is not None


def test_headers_named_by_the_capture_variables_go_on_the_span_scrubbed(
    instrument, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "x-team, Authorization"
    )
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE", "content-.*")
    app = _app()
    _, spans = instrument(app)
    with TestClient(app) as client:
        client.get("/items/1", headers={"X-Team": "core", "Authorization": "Bearer abc.def"})
    (span,) = _server_spans(spans)
    assert span.attributes["http.request.header.x_team"] == ("core",)
    assert "abc.def" not in str(span.attributes["http.request.header.authorization"])
    assert span.attributes["http.response.header.content_type"] == ("application/json",)
    assert "http.request.header.user_agent" not in span.attributes


def test_a_capture_variable_that_is_not_a_regex_is_a_config_error(
    instrument, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "x-(team")
    with pytest.raises(
        ConfigError, match=r"^OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST="
    ):
        instrument(_app())
