"""FastAPI server spans and HTTP server metrics (contrib ``FastAPIInstrumentor``)."""

from __future__ import annotations

import os

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from otel_setup.config import Settings
from otel_setup.providers import Providers

__all__ = ["instrument_fastapi", "uninstrument_fastapi"]


def instrument_fastapi(app: FastAPI, settings: Settings, providers: Providers) -> None:
    """Trace every request of ``app`` and record ``http.server.request.duration``.

    Uses the stable HTTP semantic conventions (``http.route``,
    ``http.request.method``, ``http.response.status_code``; duration in
    seconds) unless the process already chose with ``OTEL_SEMCONV_STABILITY_OPT_IN``.
    The per-request ASGI ``receive``/``send`` spans are left out: they double
    the span count and say nothing a user looks for.
    """
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=providers.tracer_provider,
        meter_provider=providers.meter_provider,
        excluded_urls=",".join(settings.excluded_urls),
        exclude_spans=["receive", "send"],
    )


def uninstrument_fastapi(app: FastAPI) -> None:
    FastAPIInstrumentor.uninstrument_app(app)
