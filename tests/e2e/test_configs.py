"""Every backend config file in the repository passes its own program's validator."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from otelpipe import stack
from otelpipe.stack.build import ensure_collector, ensure_jaeger, find_debian_tools
from otelpipe.stack.components import TAIL_SAMPLING_CONFIG

pytestmark = pytest.mark.e2e

CONFIG_DIR = Path(__file__).resolve().parents[2] / "collector-config"


def _check(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("config", sorted(CONFIG_DIR.glob("otelcol*.yaml")), ids=lambda p: p.name)
def test_collector_config_validates(stack_settings: stack.StackSettings, config: Path) -> None:
    _check([str(ensure_collector(stack_settings)), "validate", "--config", str(config)])


def test_collector_config_with_tail_sampling_validates(
    stack_settings: stack.StackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTELPIPE_TRACE_SAMPLE_PERCENT", "10")  # the overlay has no default
    _check(
        [
            str(ensure_collector(stack_settings)),
            "validate",
            "--config",
            str(CONFIG_DIR / "otelcol.yaml"),
            "--config",
            str(CONFIG_DIR / TAIL_SAMPLING_CONFIG),
        ]
    )


def test_collector_starts_without_deprecation_warnings(stack_settings: stack.StackSettings) -> None:
    # `validate` does not build the pipelines, so a deprecated component name
    # only shows in the log of a running collector.
    log = (stack_settings.logs_dir / "collector.log").read_text()
    assert "Everything is ready" in log
    assert [line for line in log.splitlines() if "deprecated" in line] == []


def test_jaeger_config_validates(stack_settings: stack.StackSettings) -> None:
    _check(
        [
            str(ensure_jaeger(stack_settings)),
            "validate",
            "--config",
            str(CONFIG_DIR / "jaeger.yaml"),
        ]
    )


def test_prometheus_config_checks() -> None:  # also checks the rule files it names
    _check(
        [
            str(find_debian_tools()["promtool"]),
            "check",
            "config",
            str(CONFIG_DIR / "prometheus" / "prometheus.yml"),
        ]
    )


PROMETHEUS = CONFIG_DIR / "prometheus"


@pytest.mark.parametrize(
    "rules", sorted((PROMETHEUS / "rules").glob("*.yml")), ids=lambda p: p.name
)
def test_rule_files_check(rules: Path) -> None:
    _check([str(find_debian_tools()["promtool"]), "check", "rules", str(rules)])


def test_rule_unit_tests_pass() -> None:
    tests = sorted((PROMETHEUS / "tests").glob("*.test.yml"))
    assert tests
    _check([str(find_debian_tools()["promtool"]), "test", "rules", *map(str, tests)])


def test_every_alert_has_a_firing_test_with_exact_annotations() -> None:
    import yaml

    alerts = {
        rule["alert"]
        for group in yaml.safe_load((PROMETHEUS / "rules" / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    fired = {
        case["alertname"]
        for path in (PROMETHEUS / "tests").glob("*.test.yml")
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts") and all("exp_annotations" in a for a in case["exp_alerts"])
    }
    assert alerts - fired == set(), "alerts without a firing unit test"


def test_slo_rules_and_tests_are_rendered_from_slos_yaml() -> None:
    from otelpipe.slo import write

    assert write(CONFIG_DIR, check=True) == [], "run `otelpipe slo render`"
