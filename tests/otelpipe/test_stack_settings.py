"""Stack settings from OTELPIPE_* variables: defaults, overrides and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from otelpipe.stack.components import TAIL_SAMPLING_CONFIG, components
from otelpipe.stack.settings import PORT_DEFAULTS, StackConfigError, StackSettings


def test_defaults(tmp_path: Path) -> None:
    settings = StackSettings.from_env({"OTELPIPE_HOME": str(tmp_path)})
    assert dict(settings.ports) == dict(PORT_DEFAULTS)
    assert settings.cache_dir == tmp_path / "cache"
    assert settings.url("jaeger_query") == "http://127.0.0.1:16686"
    assert (settings.config_dir / "otelcol.yaml").is_file()


def test_port_override_reaches_the_config_env(tmp_path: Path) -> None:
    settings = StackSettings.from_env(
        {"OTELPIPE_HOME": str(tmp_path), "OTELPIPE_PROMETHEUS_PORT": "19090"}
    )
    assert settings.ports["prometheus"] == 19090
    env = settings.process_env()
    assert env["OTELPIPE_PROMETHEUS_PORT"] == "19090"
    assert env["OTELPIPE_COLLECTOR_DATA_DIR"] == str(tmp_path / "data" / "collector")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http", "is not a port number"),
        ("0", "out of range"),
        ("70000", "out of range"),
    ],
)
def test_bad_port_names_the_variable(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(StackConfigError, match=f"OTELPIPE_REDIS_PORT.*{message}"):
        StackSettings.from_env({"OTELPIPE_HOME": str(tmp_path), "OTELPIPE_REDIS_PORT": value})


def test_two_components_on_one_port_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackConfigError, match="both 4317"):
        StackSettings.from_env({"OTELPIPE_HOME": str(tmp_path), "OTELPIPE_REDIS_PORT": "4317"})


def test_missing_config_dir_is_explained(tmp_path: Path) -> None:
    with pytest.raises(StackConfigError, match="OTELPIPE_CONFIG_DIR"):
        StackSettings.from_env(
            {"OTELPIPE_HOME": str(tmp_path), "OTELPIPE_CONFIG_DIR": str(tmp_path)}
        )


def _collector_argv(settings: StackSettings) -> tuple[str, ...]:
    (collector,) = [c for c in components(settings) if c.name == "collector"]
    return collector.argv


def test_every_trace_is_kept_without_tail_sampling_by_default(tmp_path: Path) -> None:
    settings = StackSettings.from_env({"OTELPIPE_HOME": str(tmp_path)})
    assert settings.trace_sample_percent == 100 and not settings.tail_sampling
    assert TAIL_SAMPLING_CONFIG not in " ".join(_collector_argv(settings))


@pytest.mark.parametrize(("value", "passed"), [("0", "0"), ("12.5", "12.5"), (" 99 ", "99")])
def test_a_percentage_below_100_lays_the_tail_sampling_config_over_the_collectors(
    tmp_path: Path, value: str, passed: str
) -> None:
    settings = StackSettings.from_env(
        {"OTELPIPE_HOME": str(tmp_path), "OTELPIPE_TRACE_SAMPLE_PERCENT": value}
    )
    assert settings.tail_sampling
    argv = _collector_argv(settings)
    overlay = str(settings.config_dir / TAIL_SAMPLING_CONFIG)
    assert argv[-4:] == ("--config", str(settings.config_dir / "otelcol.yaml"), "--config", overlay)
    assert settings.process_env()["OTELPIPE_TRACE_SAMPLE_PERCENT"] == passed


@pytest.mark.parametrize("value", ["ten", "-1", "100.5", "nan", "inf"])
def test_bad_sample_percentage_names_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(StackConfigError, match=f"OTELPIPE_TRACE_SAMPLE_PERCENT='{value}'"):
        StackSettings.from_env(
            {"OTELPIPE_HOME": str(tmp_path), "OTELPIPE_TRACE_SAMPLE_PERCENT": value}
        )
