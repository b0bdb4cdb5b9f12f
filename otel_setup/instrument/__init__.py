"""Library instrumentation: which instrumentors run, with which options.

Contrib's, except for Redis and SQLAlchemy, whose instrumentations are our own
(:mod:`otel_setup.instrument.redis`, :mod:`otel_setup.instrument.sqlalchemy`):
cheaper per call (and for SQLAlchemy one span per query, not two).

The list :data:`LIBRARIES` is the configuration: one entry per library, each
instrumented only when that library is importable. FastAPI is separate
(:mod:`otel_setup.instrument.fastapi`): it instruments one app, not a library.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otel_setup.config import Settings
from otel_setup.instrument.httpx import httpx_async_request_hook, httpx_request_hook
from otel_setup.instrument.system import SYSTEM_METRICS
from otel_setup.providers import Providers

__all__ = ["LIBRARIES", "Library", "instrument_libraries", "uninstrument_libraries"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Library:
    """One library's instrumentor.

    Attributes:
        requires: module that must be importable (the instrumented library).
        instrumentor: ``"module:Class"`` of the instrumentor.
        options: keyword arguments of ``instrument()``, from settings and providers.
        constructor: keyword arguments of the instrumentor's constructor.
        enabled: whether the settings switch it on.
        unless: skip it when this module is importable (an instrumentation
            that already covers the same calls: one query, one span).
        replaces: ``"module:Class"`` of the contrib instrumentor ours stands in
            for: when something (``opentelemetry-instrument``, the service's own
            code) has instrumented the library with that one already, ours stays
            out and says so, rather than trace every call twice.
    """

    requires: str
    instrumentor: str
    options: Callable[[Settings, Providers], dict[str, Any]]
    constructor: dict[str, Any] | None = None
    enabled: Callable[[Settings], bool] = lambda _settings: True
    unless: str | None = None
    replaces: str | None = None

    def load(self) -> Any:
        return _instrumentor(self.instrumentor, **(self.constructor or {}))

    def replaced(self) -> bool:
        """Whether the contrib instrumentor ours replaces is instrumenting the library
        (not imported: it cannot be)."""
        if self.replaces is None or self.replaces.partition(":")[0] not in sys.modules:
            return False
        return bool(_instrumentor(self.replaces).is_instrumented_by_opentelemetry)


def _instrumentor(spec: str, **options: Any) -> Any:
    """The instrumentor named ``"module:Class"`` (each class holds one instance)."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)(**options)


def _traces(_settings: Settings, providers: Providers) -> dict[str, Any]:
    return {"tracer_provider": providers.tracer_provider}


def _traces_and_metrics(_settings: Settings, providers: Providers) -> dict[str, Any]:
    return {
        "tracer_provider": providers.tracer_provider,
        "meter_provider": providers.meter_provider,
    }


LIBRARIES: tuple[Library, ...] = (
    Library(
        "redis",
        "otel_setup.instrument.redis:RedisInstrumentor",
        lambda s, p: {**_traces(s, p), "cache_tier": s.redis_cache_tier},
        replaces="opentelemetry.instrumentation.redis:RedisInstrumentor",
    ),
    Library(
        "sqlalchemy",
        "otel_setup.instrument.sqlalchemy:SQLAlchemyInstrumentor",
        _traces_and_metrics,
        replaces="opentelemetry.instrumentation.sqlalchemy:SQLAlchemyInstrumentor",
    ),
    # SQLAlchemy's sqlite dialect calls sqlite3 underneath: trace one layer, not both.
    Library(
        "sqlite3",
        "opentelemetry.instrumentation.sqlite3:SQLite3Instrumentor",
        _traces,
        unless="sqlalchemy",
    ),
    Library(
        "httpx",
        "opentelemetry.instrumentation.httpx:HTTPXClientInstrumentor",
        lambda s, p: {
            **_traces_and_metrics(s, p),
            "request_hook": httpx_request_hook,
            "async_request_hook": httpx_async_request_hook,
        },
    ),
    Library(
        "psutil",
        "opentelemetry.instrumentation.system_metrics:SystemMetricsInstrumentor",
        lambda _s, p: {"meter_provider": p.meter_provider},
        constructor={"config": SYSTEM_METRICS},
        enabled=lambda s: s.system_metrics,
    ),
)


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _available(library: Library) -> bool:
    return _importable(library.requires) and not (
        library.unless is not None and _importable(library.unless)
    )


def instrument_libraries(settings: Settings, providers: Providers) -> list[str]:
    """Instrument every available, enabled library; return their names.

    An instrumentor that fails is logged and skipped: telemetry must never
    stop the service from starting.
    """
    done = []
    for library in LIBRARIES:
        if not (library.enabled(settings) and _available(library)):
            continue
        try:
            if library.replaced():
                _log.warning(
                    "%s is instrumented by %s already; leaving its calls to that one",
                    library.requires,
                    library.replaces,
                )
                continue
            instrumentor = library.load()
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(**library.options(settings, providers))
            done.append(library.requires)
        except Exception:  # a broken instrumentation must not break the service
            _log.exception("could not instrument %s; continuing without it", library.requires)
    return done


def uninstrument_libraries() -> None:
    for library in LIBRARIES:
        if _importable(library.requires):
            instrumentor = library.load()
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()
