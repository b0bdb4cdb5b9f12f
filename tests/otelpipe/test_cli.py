"""The otelpipe command line: settings shown on request, clear errors and exit codes."""

from __future__ import annotations

import json

import pytest

from otelpipe.cli import main


def test_config_prints_the_resolved_settings(monkeypatch, capsys) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cr3t")
    monkeypatch.setenv("OTELPIPE_SLOW_QUERY_THRESHOLD", "0.5")
    assert main(["config", "--service-name", "orders"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["service_name"] == "orders"
    assert shown["slow_query_threshold_s"] == 0.5
    assert shown["otlp_headers"] == {"api-key": "***"}


def test_config_error_names_the_variable(monkeypatch, capsys) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "sometimes")
    assert main(["config", "--service-name", "orders"]) == 2
    assert "OTEL_TRACES_SAMPLER='sometimes': expected one of" in capsys.readouterr().err


def test_bad_stack_port_is_an_error_not_a_traceback(monkeypatch, capsys) -> None:
    monkeypatch.setenv("OTELPIPE_PROMETHEUS_PORT", "ninety")
    assert main(["stack", "status"]) == 2
    assert "OTELPIPE_PROMETHEUS_PORT='ninety' is not a port number" in capsys.readouterr().err


def test_unknown_subcommand_exits_with_usage() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["launch"])
    assert caught.value.code == 2
