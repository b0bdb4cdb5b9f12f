"""``OTEL_{TRACES,METRICS,LOGS}_EXPORTER``: ``otlp`` exports a signal, ``none`` keeps it in the process."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_setup import Telemetry
from otel_setup.config import ConfigError, Settings
from tests.support import http_posts

SIGNALS = ("traces", "metrics", "logs")


def test_every_signal_is_exported_over_otlp_by_default() -> None:
    settings = Settings.resolve(env={"OTEL_SERVICE_NAME": "s"})
    assert (settings.traces_exporter, settings.metrics_exporter, settings.logs_exporter) == (
        "otlp",
        "otlp",
        "otlp",
    )


def test_the_option_beats_the_variable() -> None:
    env = {"OTEL_SERVICE_NAME": "s", "OTEL_TRACES_EXPORTER": "None", "OTEL_LOGS_EXPORTER": "none"}
    settings = Settings.resolve(env=env, logs_exporter="otlp")
    assert (settings.traces_exporter, settings.logs_exporter) == ("none", "otlp")


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        # Left unread, these would be replaced by OTLP without a word.
        ("OTEL_TRACES_EXPORTER", "console", "expected one of otlp, none"),
        ("OTEL_METRICS_EXPORTER", "prometheus", "expected one of otlp, none"),
        ("OTEL_LOGS_EXPORTER", "otlp,console", "one exporter only"),
    ],
)
def test_an_exporter_we_do_not_run_is_refused(variable: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        Settings.resolve(env={"OTEL_SERVICE_NAME": "s", variable: value})
    assert (caught.value.field, caught.value.value) == (variable, value)


@pytest.mark.parametrize("silenced", [None, *SIGNALS])
def test_a_signal_whose_exporter_is_none_never_leaves_the_process(
    instrument: Callable[..., tuple[Telemetry, InMemorySpanExporter]], silenced: str | None
) -> None:
    app = FastAPI()

    @app.get("/work")
    def work() -> dict[str, str]:
        structlog.get_logger("app").info("worked")
        return {}

    with http_posts() as (posts, base):
        telemetry, spans = instrument(
            app,
            otlp_endpoint=base,
            otlp_protocol="http/protobuf",
            **({f"{silenced}_exporter": "none"} if silenced else {}),
        )
        assert TestClient(app).get("/work").status_code == 200
        telemetry.shutdown()
        sent = {path for path, _ in posts}
    # Made, graded and handed to in-process processors either way.
    assert [s.name for s in spans.get_finished_spans()] == ["GET /work"]
    assert sent == {f"/v1/{signal}" for signal in SIGNALS if signal != silenced}
