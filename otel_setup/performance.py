"""Wire the ``processors`` package into a service: span processors, metrics, the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from otel_setup.config import ConfigError, Settings
from otel_setup.providers import Providers
from processors.api import PREFIX, performance_app
from processors.classify import Classifier
from processors.grading import GradingProcessor
from processors.metrics import register_metrics
from processors.slow_queries import SlowQueryProcessor
from processors.targets import TargetsError, load_targets

__all__ = ["Performance", "install_performance"]


@dataclass(frozen=True)
class Performance:
    """The running processors: grades and alerts, and the slow-query log."""

    grading: GradingProcessor
    slow_queries: SlowQueryProcessor
    #: The endpoint class of an HTTP route, by the targets' route rules.
    route_class: Callable[[str], str | None]


def install_performance(
    settings: Settings, providers: Providers, app: FastAPI | None
) -> Performance:
    """Add the grading and slow-query processors; mount the API on ``app`` if enabled.

    Raises:
        ConfigError: the targets file is unreadable or invalid (naming the field at fault).
    """
    try:
        targets = load_targets(settings.targets_file)
    except TargetsError as exc:
        raise ConfigError("targets_file", settings.targets_file, str(exc)) from None
    meter = providers.meter_provider.get_meter("otelpipe.processors")
    log = Path(settings.slow_query_log)
    log.parent.mkdir(parents=True, exist_ok=True)
    slow_queries = SlowQueryProcessor(
        log,
        slow_s=settings.slow_query_threshold_s,
        critical_s=settings.slow_query_critical_s,
        meter=meter,
    )
    grading = GradingProcessor(targets)
    # Off the request thread, beside the export processor.
    providers.span_processors.add_span_processor(slow_queries)
    providers.span_processors.add_span_processor(grading)
    register_metrics(meter, grading)
    if app is not None and settings.performance_api:
        api = performance_app(
            grading,
            slow_queries,
            service_name=settings.service_name,
            prometheus_url=settings.prometheus_url,
        )
        app.mount(PREFIX, api)
    # Its own classifier: this one is called on request threads, the grading
    # state's on the worker.
    return Performance(grading, slow_queries, Classifier(targets).route_category)
