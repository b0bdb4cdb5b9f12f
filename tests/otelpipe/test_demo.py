"""The demo's read-back survives a backend that does not answer: it says so, no traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from otelpipe import demo
from otelpipe.stack.ephemeral import BlackHole, free_port
from otelpipe.stack.settings import StackSettings


def test_a_backend_that_does_not_answer_is_named_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "DELIVERY_TIMEOUT_S", 0.0)
    monkeypatch.setattr(demo, "QUERY_TIMEOUT_S", 0.3)
    with BlackHole() as jaeger:
        settings = StackSettings.from_env(
            {
                "OTELPIPE_HOME": str(tmp_path),
                "OTELPIPE_JAEGER_QUERY_PORT": str(jaeger.port),
                "OTELPIPE_PROMETHEUS_PORT": str(free_port()),  # nobody listens
            }
        )
        unanswered: dict[str, str] = {}
        delivered = demo._wait_delivered(settings, "run", time.time(), 10, 2, unanswered)
    assert delivered == (0.0, 0, [])
    assert unanswered["Jaeger"].startswith("ReadTimeout")
    assert unanswered["Prometheus"].startswith("ConnectError")

    summary = demo.DemoSummary(
        run_id="run",
        load={"totals": {"requests": 10, "errors": 0, "throughput_rps": 2.0}, "endpoints": []},
        load_report="load.json",
        requests_in_prometheus=0.0,
        traces_in_jaeger=0,
        distributed_traces=0,
        log_records_in_storage=0,
        jaeger_url="j",
        prometheus_url="p",
        log_storage="l",
        service_logs={},
        performance={},
        slow_query_logs={},
        unanswered=unanswered,
    )
    assert demo.print_summary(summary) == 1
    printed = capsys.readouterr().out
    assert "Jaeger did not answer the last query (ReadTimeout" in printed
    assert "Prometheus did not answer the last query (ConnectError" in printed
