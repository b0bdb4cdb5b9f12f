"""FastAPI server spans and HTTP server metrics (contrib ``FastAPIInstrumentor``), plus:

* the request id (:mod:`otel_setup.request_id`) on the span, the response and the logs;
* a bounded route template for requests that matched no route (:mod:`otel_setup.routes`),
  so a 404 is named ``GET /users/{id}`` rather than ``GET`` and never adds unbounded labels;
* undecodable bytes in the path and query string made safe first (:mod:`otel_setup.scope`).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import Span

from otel_setup.config import Settings
from otel_setup.instruments import CATEGORY
from otel_setup.providers import Providers
from otel_setup.request_id import RequestIdMiddleware, request_id_from_scope
from otel_setup.routes import UnmatchedRoutes
from otel_setup.scope import CleanScopeMiddleware

__all__ = ["instrument_fastapi", "uninstrument_fastapi"]

_ORIGINAL_STACK = "_otelpipe_original_build_middleware_stack"
#: What the instrumentation puts in ``http.request.method`` for a method it does
#: not know; the span name then says ``HTTP``, as the semantic conventions ask.
_OTHER_METHOD = "_OTHER"
#: Span attribute: the SLO endpoint class of the request's route.
SLO_CLASS = "otelpipe.slo_class"


def _server_request_hook(
    unmatched: UnmatchedRoutes, slo_class: Callable[[str], str | None] | None
) -> Any:
    def hook(span: Span, scope: dict[str, Any]) -> None:
        if not span.is_recording() or scope.get("type") != "http":
            return
        span.set_attribute(CATEGORY, "http")
        request_id = request_id_from_scope(scope)
        if request_id:
            span.set_attribute("request.id", request_id)
        attributes = span.attributes or {}  # type: ignore[attr-defined]
        route = attributes.get("http.route")
        if route is None:
            route = unmatched(scope.get("path", "/"))
            span.set_attribute("http.route", route)
            # The instrumentation's normalised method, not the client's: a
            # client inventing methods must not invent span names.
            method = attributes.get("http.request.method", _OTHER_METHOD)
            span.update_name(f"{'HTTP' if method == _OTHER_METHOD else method} {route}")
        endpoint_class = slo_class(route) if slo_class is not None else None
        if endpoint_class is not None:
            span.set_attribute(SLO_CLASS, endpoint_class)

    return hook


def instrument_fastapi(
    app: FastAPI,
    settings: Settings,
    providers: Providers,
    slo_class: Callable[[str], str | None] | None = None,
) -> None:
    """Trace every request of ``app`` and record ``http.server.request.duration``.

    ``slo_class(route)`` names the endpoint class of a route (from the PRD
    targets' route rules); it goes on the server span as ``otelpipe.slo_class``,
    which the collector's spanmetrics keep for the SLO rules.

    The per-request ASGI ``receive``/``send`` spans are left out: they double
    the span count and say nothing a user looks for.
    """
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=providers.tracer_provider,
        meter_provider=providers.meter_provider,
        excluded_urls=",".join(settings.excluded_urls),
        exclude_spans=["receive", "send"],
        server_request_hook=_server_request_hook(UnmatchedRoutes(), slo_class),
    )
    # Outermost, around the instrumentor's own stack, so that every response —
    # the 500 page of an unhandled exception included — carries the request id,
    # and the instrumentation never reads an undecodable path or query string.
    instrumented_stack = app.build_middleware_stack
    header = settings.request_id_header

    def build_middleware_stack(self: FastAPI) -> Any:
        return RequestIdMiddleware(CleanScopeMiddleware(instrumented_stack()), header=header)

    setattr(app, _ORIGINAL_STACK, instrumented_stack)
    app.build_middleware_stack = types.MethodType(build_middleware_stack, app)  # type: ignore[method-assign]


def uninstrument_fastapi(app: FastAPI) -> None:
    original = getattr(app, _ORIGINAL_STACK, None)
    if original is not None:
        app.build_middleware_stack = original  # type: ignore[method-assign]
        delattr(app, _ORIGINAL_STACK)
    FastAPIInstrumentor.uninstrument_app(app)
