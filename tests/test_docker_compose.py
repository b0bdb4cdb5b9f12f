"""docker-compose.yml mounts the same configs the native stack runs, at the same versions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from otelpipe.stack.build import JAEGER_RELEASE
from otelpipe.stack.components import PROMETHEUS_RETENTION

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
#: Laid over docker-compose.yml to sample traces at the tail.
SAMPLING = yaml.safe_load((ROOT / "docker-compose.sampling.yml").read_text())["services"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned_and_mounts_exist(name: str) -> None:
    service = SERVICES[name]
    if "image" in service:
        tag = service["image"].partition(":")[2]
        assert tag and tag != "latest", f"{name}: image {service['image']} is not pinned"
    else:
        assert (ROOT / service["build"]["dockerfile"]).is_file()
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), f"{name}: mounts missing {source}"


def test_versions_match_the_native_builds() -> None:
    manifest = yaml.safe_load((ROOT / "collector-config/builder-manifest.yaml").read_text())
    assert SERVICES["otel-collector"]["image"].endswith(":" + manifest["dist"]["version"])
    assert SERVICES["jaeger"]["image"].endswith(":" + JAEGER_RELEASE.lstrip("v"))
    assert (
        f"--storage.tsdb.retention.time={PROMETHEUS_RETENTION}" in SERVICES["prometheus"]["command"]
    )


def _unset_variables(config: str, env: dict[str, str]) -> list[str]:
    text = (ROOT / "collector-config" / config).read_text()
    found = re.findall(r"\$\{env:([A-Z0-9_]+)(:-[^}]*)?\}", text)
    return [var for var, default in found if not default and var not in env]


def test_every_config_variable_without_default_is_set_by_compose() -> None:
    """The configs may rely only on variables that have a default or that compose sets."""
    env = COMPOSE["x-otelpipe-env"]
    for config in ("otelcol.yaml", "jaeger.yaml"):
        assert _unset_variables(config, env) == [], f"{config}: compose sets no value for these"


def test_the_sampling_overlay_adds_the_tail_sampling_config_and_requires_its_percentage() -> None:
    overlay = "tail-sampling.yaml"
    collector = SAMPLING["otel-collector"]
    assert collector["command"] == [
        *SERVICES["otel-collector"]["command"],
        f"--config=/etc/otelcol/{overlay}",
    ]
    assert f"./collector-config/{overlay}:/etc/otelcol/{overlay}:ro" in collector["volumes"]
    percent = collector["environment"]["OTELPIPE_TRACE_SAMPLE_PERCENT"]
    assert percent.startswith("${OTELPIPE_TRACE_SAMPLE_PERCENT:?"), "compose refuses it unset"
    env = {**COMPOSE["x-otelpipe-env"], **collector["environment"]}
    assert _unset_variables(overlay, env) == []
    assert "OTELPIPE_TRACE_SAMPLE_PERCENT" not in COMPOSE["x-otelpipe-env"]


def test_demo_services_run_the_apps_of_the_native_demo_and_find_each_other() -> None:
    from otelpipe.demo import GATEWAY_APP, PAYMENTS_APP

    commands = {name: " ".join(s.get("command", [])) for name, s in SERVICES.items()}
    assert GATEWAY_APP in commands["gateway"] and PAYMENTS_APP in commands["payments"]
    assert SERVICES["gateway"]["environment"]["PAYMENTS_URL"] == "http://payments:8001"
    for name, service in SERVICES.items():
        for needed in service.get("depends_on", []):
            assert needed in SERVICES, f"{name} depends on {needed}, which compose does not define"
