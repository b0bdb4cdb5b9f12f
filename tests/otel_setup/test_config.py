"""Settings resolution: precedence, parsing and errors that name the field."""

from __future__ import annotations

import re

import pytest

from otel_setup.config import ConfigError, Settings, exact_path_pattern
from otel_setup.providers import build_resource


def test_argument_beats_env_beats_default() -> None:
    env = {"OTEL_SERVICE_NAME": "from-env", "OTEL_METRIC_EXPORT_INTERVAL": "3000"}
    assert Settings.resolve(service_name="from-arg", env=env).service_name == "from-arg"
    assert Settings.resolve(env=env).service_name == "from-env"
    assert Settings.resolve(env=env).metric_export_interval_ms == 3000
    assert Settings.resolve(env={"OTEL_SERVICE_NAME": "x"}).metric_export_interval_ms == 10_000


def test_resource_attributes_from_env_feed_version_and_environment() -> None:
    env = {
        "OTEL_RESOURCE_ATTRIBUTES": "service.name=orders,service.version=1.2.3,"
        "deployment.environment.name=prod,team=payments%20core"
    }
    settings = Settings.resolve(env=env)
    assert (settings.service_name, settings.service_version, settings.environment) == (
        "orders",
        "1.2.3",
        "prod",
    )
    assert settings.resource_attributes == {"team": "payments core"}


def test_secrets_in_resource_attributes_are_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    # The resource goes out with every span, metric and log record: Jaeger's process
    # tags, a label on every Prometheus series.
    monkeypatch.setenv(
        "OTEL_RESOURCE_ATTRIBUTES", "service.owner=ann@example.com,vault.token=s.1234,team=core"
    )
    monkeypatch.setenv("OTEL_SERVICE_NAME", "orders")
    attributes = build_resource(Settings.resolve()).attributes
    assert attributes["service.owner"] == "[email]"
    assert attributes["vault.token"] == "[REDACTED]"
    assert (attributes["team"], attributes["service.name"]) == ("core", "orders")


def test_missing_service_name_is_an_error() -> None:
    with pytest.raises(ConfigError, match="service name is required") as caught:
        Settings.resolve(env={})
    assert caught.value.field == "service_name"


@pytest.mark.parametrize(
    ("protocol", "endpoint", "hint"),
    [
        (
            "grpc",
            "http://collector:4318",
            "use port 4317 or set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
        ),
        (
            "http/protobuf",
            "http://collector:4317",
            "use port 4318 or set OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
        ),
    ],
)
def test_protocol_and_port_mismatch_is_explained(protocol: str, endpoint: str, hint: str) -> None:
    env = {
        "OTEL_SERVICE_NAME": "s",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
    }
    with pytest.raises(ConfigError, match=re.escape(hint)) as caught:
        Settings.resolve(env=env)
    assert caught.value.field == "OTEL_EXPORTER_OTLP_ENDPOINT"
    assert caught.value.value == endpoint


def test_http_protocol_defaults_to_port_4318() -> None:
    settings = Settings.resolve(
        env={"OTEL_SERVICE_NAME": "s", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    )
    assert settings.otlp_endpoint == "http://localhost:4318"


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "udp"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:99999"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"OTEL_METRIC_EXPORT_INTERVAL": "soon"}, "OTEL_METRIC_EXPORT_INTERVAL"),
        ({"OTEL_METRIC_EXPORT_INTERVAL": "10"}, "OTEL_METRIC_EXPORT_INTERVAL"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "team"}, "OTEL_RESOURCE_ATTRIBUTES"),
        ({"OTEL_EXPORTER_OTLP_HEADERS": "=x"}, "OTEL_EXPORTER_OTLP_HEADERS"),
        ({"OTELPIPE_LOG_LEVEL": "loud"}, "OTELPIPE_LOG_LEVEL"),
        ({"OTELPIPE_SHUTDOWN_TIMEOUT": "0"}, "OTELPIPE_SHUTDOWN_TIMEOUT"),
        ({"OTEL_PYTHON_EXCLUDED_URLS": "health(("}, "excluded_urls"),
        ({"OTELPIPE_PROMETHEUS_URL": "prometheus:9090"}, "OTELPIPE_PROMETHEUS_URL"),
        ({"OTELPIPE_PROMETHEUS_URL": "http://prometheus:x"}, "OTELPIPE_PROMETHEUS_URL"),
    ],
)
def test_bad_env_values_name_the_variable(env: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.resolve(env={"OTEL_SERVICE_NAME": "s", **env})
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}=")


def test_prometheus_url_for_the_dashboard() -> None:
    assert Settings.resolve(env={"OTEL_SERVICE_NAME": "s"}).prometheus_url == (
        "http://127.0.0.1:9090"
    )
    env = {"OTEL_SERVICE_NAME": "s", "OTELPIPE_PROMETHEUS_URL": "http://prom:9091/"}
    assert Settings.resolve(env=env).prometheus_url == "http://prom:9091"
    assert Settings.resolve(env=env, prometheus_url="https://p").prometheus_url == "https://p"


def test_exact_paths_exclude_only_that_path() -> None:
    root = re.compile(exact_path_pattern("/"))
    assert root.search("http://svc:8000/")
    assert root.search("http://svc:8000/?probe=1")
    assert not root.search("http://svc:8000/items/1")
    health = re.compile(exact_path_pattern("/health"))
    assert health.search("http://svc/health") and not health.search("http://svc/health/deep")


def test_describe_masks_header_values() -> None:
    settings = Settings.resolve(
        env={
            "OTEL_SERVICE_NAME": "s",
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20s3cr3t",
        }
    )
    assert settings.otlp_headers == {"authorization": "Bearer s3cr3t"}
    assert "s3cr3t" not in repr(settings.describe())


def test_unknown_option_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown option") as caught:
        Settings.resolve(env={"OTEL_SERVICE_NAME": "s"}, sevice_version="1")  # type: ignore[call-arg]
    assert caught.value.field == "sevice_version"
