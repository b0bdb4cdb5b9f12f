"""Stack settings from OTELPIPE_* variables: defaults, overrides and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

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
