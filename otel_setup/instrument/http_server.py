"""One ASGI middleware for the server side of every HTTP request: span, metrics, request id.

:class:`ServerTelemetry` sits outermost in the app's middleware stack, so the
500 page of an unhandled exception passes through it like any other response.
Per HTTP request it:

1. makes the scope's text safe (:func:`otel_setup.scope.clean_scope`);
2. takes the client's request id or makes one (:mod:`otel_setup.request_id`),
   echoes it in the response and binds it into structlog's context;
3. continues the caller's trace (the global propagators: W3C ``traceparent``
   and baggage by default) and starts one SERVER span, current while the app
   runs, with its attributes given at once;
4. once the app is done, names the span ``{method} {route}`` from the route the
   router chose (:class:`~otel_setup.routes.RouteTemplates`), or from a bounded
   template of a path no route matched (:class:`~otel_setup.routes.UnmatchedRoutes`),
   and counts the request into ``http.server.request.duration`` and
   ``http.server.active_requests`` (see :class:`ServerMetrics`).

It does what the contrib ASGI/FastAPI instrumentation did for us at a little
over half its cost per request: that one matches the route a second time, sets
attributes one call at a time, records four measurements and makes two more
spans per request, for the ASGI ``send`` events (see docs/benchmarks.md).
Excluded URLs get a request id but neither span nor metrics; WebSocket
connections are passed through untraced.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import structlog
from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otel_setup.config import ConfigError
from otel_setup.direct_measurements import DirectHistogram
from otel_setup.providers import DURATION_BUCKETS_S
from otel_setup.request_id import accept_or_make
from otel_setup.routes import RouteTemplates, UnmatchedRoutes
from otel_setup.scope import clean_scope

__all__ = ["SLO_CLASS", "ServerMetrics", "ServerTelemetry"]

_log = logging.getLogger(__name__)

#: Span attribute: the SLO endpoint class of the request's route.
SLO_CLASS = "otelpipe.slo_class"
#: What ``http.request.method`` says of a method outside the known ones; the
#: span name then says ``HTTP``: a client inventing methods must not invent names.
_OTHER_METHOD = "_OTHER"
_KNOWN_METHODS = frozenset(
    ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE")
)
#: FastAPI's own signal, in the scope, that a request is observed elsewhere:
#: a mounted FastAPI sub-app then does not trace it a second time.
_FASTAPI_TELEMETRY_KEY = "fastapi.telemetry"


class ServerMetrics:
    """``http.server.request.duration`` and ``http.server.active_requests`` of one app.

    The active requests are counted in the process and observed at each
    collection: the SDK's synchronous up-down counter would cost two
    measurements per request, about 8 µs each; a locked integer update costs
    well under one. Durations go to the SDK's aggregation of their attribute
    set directly (:class:`~otel_setup.direct_measurements.DirectHistogram`): about
    2 µs a request where the SDK's measurement path costs 10 to 20.
    """

    __slots__ = ("_active", "_lock", "duration")

    def __init__(self, meter: Meter) -> None:
        self.duration = DirectHistogram(
            meter.create_histogram(
                "http.server.request.duration",
                unit="s",
                description="Duration of HTTP server requests.",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS_S,
            )
        )
        # By http.request.method: at most the known methods and _OTHER.
        self._active: dict[str, int] = {}
        self._lock = threading.Lock()
        meter.create_observable_up_down_counter(
            "http.server.active_requests",
            callbacks=[self._observe_active],
            unit="{request}",
            description="Number of active HTTP server requests.",
        )

    def started(self, method: str) -> None:
        with self._lock:
            self._active[method] = self._active.get(method, 0) + 1

    def ended(self, method: str) -> None:
        with self._lock:
            self._active[method] -= 1

    def _observe_active(self, _options: CallbackOptions) -> list[Observation]:
        with self._lock:
            return [Observation(n, {"http.request.method": m}) for m, n in self._active.items()]


#: The contrib instrumentations' variables naming headers to put on server spans.
CAPTURE_REQUEST_HEADERS = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"
CAPTURE_RESPONSE_HEADERS = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE"


def header_pattern(variable: str) -> re.Pattern[bytes] | None:
    """The header names ``$variable`` asks for (comma-separated regexes, matched whole
    and case-insensitively, as the contrib instrumentations do); None when unset.

    Raises:
        ConfigError: an entry is not a regex.
    """
    names = [name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()]
    if not names:
        return None
    try:
        return re.compile("|".join(f"(?:{name})" for name in names).encode(), re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(variable, os.environ[variable], f"not a regex: {exc}") from None


def _captured(
    headers: Iterable[tuple[bytes, bytes]], pattern: re.Pattern[bytes], prefix: str
) -> dict[str, Any]:
    """``{prefix + name: [values]}`` of the headers whose name ``pattern`` matches (the
    exporter scrubs them like any attribute: an Authorization value is masked)."""
    found: dict[str, list[str]] = {}
    for name, value in headers:
        if pattern.fullmatch(name):
            key = prefix + name.decode("latin-1").lower().replace("-", "_")
            found.setdefault(key, []).append(value.decode("latin-1"))
    return found


def _bind_request_id(request_id: str) -> contextvars.Token[Any]:
    """Bind ``request_id`` into structlog's context; reset it with the token's own variable."""
    (token,) = structlog.contextvars.bind_contextvars(request_id=request_id).values()
    return token


class ServerTelemetry:
    """ASGI middleware: a SERVER span and the HTTP server metrics of each request.

    Args:
        app: the app (FastAPI's built middleware stack) to wrap.
        tracer: makes the server spans.
        metrics: the app's HTTP server metrics.
        excluded_urls: regexes, searched in ``scheme://host/path``, of requests not traced.
        request_id_header: the request id's header, in the request and the response.
        slo_class: the SLO endpoint class of a route template (``otelpipe.slo_class``).
        request_headers: names of the request headers put on the span (:func:`header_pattern`).
        response_headers: names of the response headers put on the span.
        on_startup: called once the app has started (ASGI lifespan), before the server
            is told so; a failure is logged, never raised.
    """

    # ``app``: FastAPI and Starlette walk ``.app`` down a built stack.
    __slots__ = (
        "_excluded",
        "_metrics",
        "_on_startup",
        "_propagated",
        "_request_headers",
        "_request_id_key",
        "_response_headers",
        "_routes",
        "_slo_class",
        "_tracer",
        "_unmatched",
        "app",
    )

    def __init__(
        self,
        app: ASGIApp,
        *,
        tracer: Tracer,
        metrics: ServerMetrics,
        excluded_urls: Sequence[str] = (),
        request_id_header: str = "X-Request-ID",
        slo_class: Callable[[str], str | None] | None = None,
        request_headers: re.Pattern[bytes] | None = None,
        response_headers: re.Pattern[bytes] | None = None,
        on_startup: Callable[[], object] | None = None,
    ) -> None:
        self.app = app
        self._tracer = tracer
        self._metrics = metrics
        self._excluded = re.compile("|".join(excluded_urls)) if excluded_urls else None
        self._request_id_key = request_id_header.lower().encode("latin-1")
        # The headers the propagators read: a request without any of them
        # starts a new trace without calling them at all.
        self._propagated = frozenset(
            name.lower().encode("latin-1") for name in propagate.get_global_textmap().fields
        )
        self._request_headers = request_headers
        self._response_headers = response_headers
        self._routes = RouteTemplates()
        self._unmatched = UnmatchedRoutes()
        self._slo_class = slo_class
        self._on_startup = on_startup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
            return
        if kind == "websocket":
            clean_scope(scope)
        elif kind == "lifespan" and self._on_startup is not None:
            send = self._after_startup(send, self._on_startup)
        await self.app(scope, receive, send)

    @staticmethod
    def _after_startup(send: Send, on_startup: Callable[[], object]) -> Send:
        async def send_after_startup(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                try:
                    on_startup()
                except Exception:  # telemetry never stops the service from starting
                    _log.exception("the startup hook of the telemetry failed")
            await send(message)

        return send_after_startup

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        clean_scope(scope)
        host = incoming_id = user_agent = None
        carrier: dict[str, str] = {}
        request_id_key, propagated = self._request_id_key, self._propagated
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name == request_id_key:
                incoming_id = value
            elif name in propagated:
                key, text = name.decode("latin-1"), value.decode("latin-1")
                carrier[key] = f"{carrier[key]},{text}" if key in carrier else text
        request_id = accept_or_make(incoming_id)
        response_id = request_id.encode("ascii")
        status: int | None = None
        response_headers: dict[str, Any] = {}

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if self._response_headers is not None:
                    response_headers.update(
                        _captured(
                            message.get("headers", ()),
                            self._response_headers,
                            "http.response.header.",
                        )
                    )
                message["headers"] = [
                    *(h for h in message.get("headers", ()) if h[0] != request_id_key),
                    (request_id_key, response_id),
                ]
            await send(message)

        bound = _bind_request_id(request_id)
        scheme, path = scope.get("scheme", "http"), scope["path"]
        scope[_FASTAPI_TELEMETRY_KEY] = None
        try:
            if self._excluded is not None and self._excluded.search(
                f"{scheme}://{_host(host, scope)}{path}"
            ):
                await self.app(scope, receive, send_with_id)
                return
            raw_method = scope.get("method", "")
            method = raw_method if raw_method in _KNOWN_METHODS else _OTHER_METHOD
            attributes: dict[str, Any] = {
                "http.request.method": method,
                "url.scheme": scheme,
                "url.path": path,
                "request.id": request_id,
            }
            _add_request_details(attributes, scope, user_agent, raw_method, method)
            if self._request_headers is not None:
                attributes.update(
                    _captured(scope["headers"], self._request_headers, "http.request.header.")
                )
            parent = propagate.extract(carrier) if carrier else Context()
            span_method = "HTTP" if method == _OTHER_METHOD else method
            span = self._tracer.start_span(span_method, parent, SpanKind.SERVER, attributes)
            self._metrics.started(method)
            current = trace.set_span_in_context(span, parent)
            token = context.attach(current)
            root_path = scope.get("root_path", "")
            error: BaseException | None = None
            try:
                await self.app(scope, receive, send_with_id)
            except BaseException as exc:
                error = exc
                raise
            finally:
                try:
                    route = self._routes(scope, root_path) or self._unmatched(path)
                    if response_headers:
                        span.set_attributes(response_headers)
                    measured = self._finish(span, span_method, method, route, status, error)
                    # In the request's context, for exemplars (when switched on).
                    self._metrics.duration.record(time.perf_counter() - started, measured, current)
                except Exception:  # telemetry must never turn a response into an error
                    _log.exception("could not complete the server span of %s", span_method)
                finally:
                    self._metrics.ended(method)
                    span.end()
                    context.detach(token)
        finally:
            bound.var.reset(bound)

    def _finish(
        self,
        span: Span,
        span_method: str,
        method: str,
        route: str,
        status: int | None,
        error: BaseException | None,
    ) -> dict[str, Any]:
        """Name the span after the route and give it the outcome; return the
        attributes of the request's duration."""
        measured: dict[str, Any] = {"http.request.method": method, "http.route": route}
        outcome: dict[str, Any] = {"http.route": route}
        if status is not None:
            outcome["http.response.status_code"] = measured["http.response.status_code"] = status
        endpoint_class = self._slo_class(route) if self._slo_class is not None else None
        if endpoint_class is not None:
            outcome[SLO_CLASS] = endpoint_class
        failed = error is not None or status is None or status >= 500
        if failed:
            outcome["error.type"] = measured["error.type"] = _error_type(error, status)
        span.update_name(f"{span_method} {route}")
        span.set_attributes(outcome)
        if error is not None:
            span.record_exception(error)
        if failed:
            span.set_status(StatusCode.ERROR, _describe(error))
        return measured


def _host(header: bytes | None, scope: Scope) -> str:
    if header:
        return header.decode("latin-1")
    server = scope.get("server")
    return f"{server[0]}:{server[1]}" if server else "localhost"


def _add_request_details(
    attributes: dict[str, Any],
    scope: Scope,
    user_agent: str | None,
    raw_method: str,
    method: str,
) -> None:
    """The optional request attributes: those present in this request.

    Left out: ``server.address`` and ``server.port`` (the resource names the
    service), ``network.protocol.version``, and ``otelpipe.category`` (the
    processors grade a server span as HTTP by its kind). Every attribute costs
    a few µs per request, set and exported; these say nothing new.
    """
    query = scope.get("query_string")
    if query:
        attributes["url.query"] = query.decode("utf-8", "replace")
    client = scope.get("client")
    if client:
        attributes["client.address"] = client[0]
    if user_agent:
        attributes["user_agent.original"] = user_agent
    if method != raw_method:
        attributes["http.request.method_original"] = raw_method


def _error_type(error: BaseException | None, status: int | None) -> str:
    if error is not None:
        cls = type(error)
        return (
            cls.__qualname__
            if cls.__module__ == "builtins"
            else f"{cls.__module__}.{cls.__qualname__}"
        )
    return "incomplete_response" if status is None else str(status)


def _describe(error: BaseException | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"
