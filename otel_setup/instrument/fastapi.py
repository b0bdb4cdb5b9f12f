"""Put :class:`~otel_setup.instrument.http_server.ServerTelemetry` around a FastAPI app.

It goes outermost, around the stack FastAPI builds (error handling included),
so every response, the 500 page of an unhandled exception too, gets its span
and its request id.

FastAPI 0.165 and later trace requests themselves (``FastAPI(telemetry=...)``)
unless they find the contrib OpenTelemetry middleware in the stack; with ours
instead, every request would be traced twice. Instrumenting switches that
native telemetry off in the app's configuration, and uninstrumenting restores it.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from otel_setup.config import Settings
from otel_setup.heap import freeze_startup_heap
from otel_setup.instrument.http_server import (
    CAPTURE_REQUEST_HEADERS,
    CAPTURE_RESPONSE_HEADERS,
    ServerMetrics,
    ServerTelemetry,
    header_pattern,
)
from otel_setup.providers import Providers

__all__ = ["instrument_fastapi", "uninstrument_fastapi"]

_ORIGINAL_STACK = "_otelpipe_original_build_middleware_stack"
_NATIVE_SWITCHES = ("tracing", "metrics", "logs")
_ORIGINAL_NATIVE = "_otelpipe_original_native_telemetry"


def instrument_fastapi(
    app: FastAPI,
    settings: Settings,
    providers: Providers,
    slo_class: Callable[[str], str | None] | None = None,
) -> None:
    """Trace every request of ``app`` and record the HTTP server metrics.

    ``slo_class(route)`` names the endpoint class of a route (from the PRD
    targets' route rules); it goes on the server span as ``otelpipe.slo_class``,
    which the collector's spanmetrics keep for the SLO rules.

    Raises:
        ConfigError: a header-capture variable holds an invalid regex.
    """
    if hasattr(app, _ORIGINAL_STACK):
        return
    build_stack = app.build_middleware_stack
    # Read once, here: a bad variable fails setup, not the first request.
    options = {
        "tracer": providers.tracer_provider.get_tracer("otel_setup.http.server"),
        # Made once per app: the stack may be built again, its instruments must not.
        "metrics": ServerMetrics(providers.meter_provider.get_meter("otel_setup.http.server")),
        "excluded_urls": settings.excluded_urls,
        "request_id_header": settings.request_id_header,
        "slo_class": slo_class,
        "request_headers": header_pattern(CAPTURE_REQUEST_HEADERS),
        "response_headers": header_pattern(CAPTURE_RESPONSE_HEADERS),
        "on_startup": freeze_startup_heap if settings.gc_freeze else None,
    }

    def build_middleware_stack(self: FastAPI) -> Any:
        return ServerTelemetry(build_stack(), **options)

    setattr(app, _ORIGINAL_STACK, build_stack)
    app.build_middleware_stack = types.MethodType(build_middleware_stack, app)  # type: ignore[method-assign]
    app.middleware_stack = None  # built again, with us, on the next request
    native = getattr(app, "_telemetry", None)  # FastAPI's TelemetryConfig, when it has one
    if isinstance(native, dict):
        setattr(app, _ORIGINAL_NATIVE, {k: native[k] for k in _NATIVE_SWITCHES if k in native})
        native.update(dict.fromkeys(_NATIVE_SWITCHES, False))


def uninstrument_fastapi(app: FastAPI) -> None:
    original = getattr(app, _ORIGINAL_STACK, None)
    if original is None:
        return
    app.build_middleware_stack = original  # type: ignore[method-assign]
    delattr(app, _ORIGINAL_STACK)
    app.middleware_stack = None
    switches = getattr(app, _ORIGINAL_NATIVE, None)
    if switches is not None:
        app._telemetry.update(switches)  # type: ignore[attr-defined]
        delattr(app, _ORIGINAL_NATIVE)
