"""``setup_telemetry``: the one call that instruments a service, and its handle."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from typing import Unpack

import structlog
from fastapi import FastAPI
from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider

from otel_setup.config import Settings, SettingsOptions
from otel_setup.health import ExportCounts, export_counts
from otel_setup.instrument import instrument_libraries, uninstrument_libraries
from otel_setup.instrument.fastapi import instrument_fastapi, uninstrument_fastapi
from otel_setup.logging import ExportToOTel, configure_logging
from otel_setup.performance import Performance, install_performance
from otel_setup.providers import Providers, build_providers

__all__ = ["Telemetry", "setup_telemetry"]

_log = logging.getLogger(__name__)
_events = structlog.get_logger(__name__)

#: How long a shutdown past its deadline waits, once export is stopped, for the span
#: and log queues to be dropped (no network is involved: it takes milliseconds).
ABANDON_GRACE_S = 0.5


class Telemetry:
    """Handle returned by :func:`setup_telemetry`.

    Attributes:
        settings: the resolved settings (``print(telemetry.settings.describe())`` to debug).
        providers: the tracer, meter and logger providers, for manual instrumentation.
        performance: the grading and slow-query processors (``None`` when disabled):
            ``telemetry.performance.grading.subscribe(callback)`` to hear of alerts,
            ``telemetry.performance.slow_queries.on_critical(callback)`` of critical queries.
    """

    def __init__(
        self,
        settings: Settings,
        providers: Providers,
        app: FastAPI | None,
        log_exporter: ExportToOTel | None,
        performance: Performance | None = None,
    ) -> None:
        self.settings = settings
        self.providers = providers
        self._app = app
        self._log_exporter = log_exporter
        self.performance = performance
        self._lock = threading.Lock()
        self._shut_down = False
        self._export_stopped = threading.Event()  # span and log providers shut down

    def shutdown(self, timeout_s: float | None = None) -> bool:
        """Flush and stop every provider; return within ``timeout_s`` whatever the collector does.

        The flush runs on a daemon thread that is abandoned at the deadline, so
        a dead or black-holing collector can never hang the process. At the
        deadline span and log export stop too: what is still queued is dropped
        and counted (within :data:`ABANDON_GRACE_S` more), and no thread goes on
        retrying after shutdown returns; the last metric export ends by its own
        OTLP timeout. Safe to call more than once, from a signal handler too
        (and it is also called at interpreter exit).

        Returns:
            True if everything flushed in time, False if the deadline cut it short.
        """
        # Non-blocking: a signal handler that calls shutdown() while the main
        # thread is inside it must not wait on a lock that thread holds.
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self._shut_down:
                return True
            self._shut_down = True
        finally:
            self._lock.release()
        timeout = self.settings.shutdown_timeout_s if timeout_s is None else timeout_s
        started = time.monotonic()
        if self._log_exporter is not None:
            self._log_exporter.close()  # the JSON lines on stdout go on
        worker = threading.Thread(
            target=self._shutdown_providers, name="otel-shutdown", daemon=True
        )
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            # Past the deadline the export threads would go on retrying (for
            # export_retry_s) in a process that lives on: stop them. Their queues then
            # drop at once, and the counts logged below are final.
            self.providers.abandon_export()
            self._export_stopped.wait(ABANDON_GRACE_S)
        if self._app is not None:
            uninstrument_fastapi(self._app)
        uninstrument_libraries()
        flushed = not worker.is_alive()
        if not flushed:
            _log.warning(
                "telemetry shutdown gave up after %.1fs; unsent data is dropped",
                time.monotonic() - started,
            )
        self._log_export_counts()
        return flushed

    def export_counts(self) -> dict[str, ExportCounts]:
        """What became of the spans and log records so far: exported, failed, dropped
        because a queue was full, still unsent. Read in the process, so it is true
        even while the collector is unreachable (the same counts go to Prometheus as
        ``otel_sdk_*`` when it is not)."""
        tally = self.providers.tally
        if tally is None:
            return {}
        return {
            "spans": export_counts(tally, "traces"),
            "log_records": export_counts(tally, "logs"),
        }

    def _log_export_counts(self) -> None:
        """One line at shutdown: a warning naming what was lost, if anything was."""
        counts = self.export_counts()
        if not counts:
            return
        fields = {
            f"{signal}_{name}": value
            for signal, numbers in counts.items()
            for name, value in vars(numbers).items()
        }
        if any(numbers.lost for numbers in counts.values()):
            _events.warning("telemetry lost", **fields)
        else:
            _events.info("telemetry delivered", **fields)

    def _shutdown_providers(self) -> None:
        # Metrics last: their final export then carries the health counts of
        # the span and log flushes before it.
        self.providers.tracer_provider.shutdown()
        self.providers.logger_provider.shutdown()
        self._export_stopped.set()
        self.providers.meter_provider.shutdown()


def setup_telemetry(app: FastAPI | None = None, **options: Unpack[SettingsOptions]) -> Telemetry:
    """Give ``app`` (and the process) traces, metrics and JSON logs exported over OTLP.

    Every option (see :class:`~otel_setup.config.SettingsOptions`) has an
    environment-variable twin; an option wins over the variable, the variable
    over the default.

    >>> from fastapi import FastAPI
    >>> from otel_setup import setup_telemetry
    >>> app = FastAPI()
    >>> telemetry = setup_telemetry(app, service_name="orders")  # doctest: +SKIP

    Raises:
        ConfigError: a setting is invalid; the message names it and the bad value.
    """
    settings = Settings.resolve(**options)
    # Stable HTTP semantic conventions (http.route, http.request.method,
    # http.response.status_code, durations in seconds) for every contrib
    # instrumentation, unless the process already chose.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    providers = build_providers(settings)
    _set_global_providers(providers)
    logs_exported = not settings.disabled and settings.logs_exporter == "otlp"
    log_exporter = configure_logging(
        service=settings.service_name,
        logger_provider=providers.logger_provider if logs_exported else None,
        level=settings.log_level,
        max_field_length=settings.attribute_value_length_limit,
    )
    performance = None
    if not settings.disabled:
        if settings.performance:
            performance = install_performance(settings, providers, app)
        if app is not None:
            route_class = performance.route_class if performance is not None else None
            instrument_fastapi(app, settings, providers, route_class)
        instrument_libraries(settings, providers)
    telemetry = Telemetry(settings, providers, app, log_exporter, performance)
    atexit.register(telemetry.shutdown)
    _warn_in_forked_children(telemetry, os.getpid())
    return telemetry


def _warn_in_forked_children(telemetry: Telemetry, setup_pid: int) -> None:
    """Say so, in each child, when the process forks after setup (``gunicorn --preload``).

    A forked worker inherits the parent's meter state and resource, so every
    worker would report the same ``service.instance.id`` and their counters
    would overwrite each other. Spawned workers (``uvicorn --workers``) and
    gunicorn without ``--preload`` import the app, and so call
    ``setup_telemetry``, in each worker: nothing to warn about there.
    """

    def after_in_child() -> None:
        if telemetry._shut_down:
            return
        _log.warning(
            "setup_telemetry ran in process %d before this worker (%d) was forked; the "
            "workers' metrics would collide. Run gunicorn without --preload, or call "
            "setup_telemetry in its post_fork hook.",
            setup_pid,
            os.getpid(),
        )

    os.register_at_fork(after_in_child=after_in_child)


def _set_global_providers(providers: Providers) -> None:
    """Make the providers global so ``trace.get_tracer(...)`` works in user code.

    The OTel API allows this once per process; later calls keep the first.
    """
    if not isinstance(trace.get_tracer_provider(), type(providers.tracer_provider)):
        trace.set_tracer_provider(providers.tracer_provider)
        metrics.set_meter_provider(providers.meter_provider)
        set_logger_provider(providers.logger_provider)
