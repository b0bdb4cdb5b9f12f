"""Telemetry settings: explicit arguments > ``OTEL_*`` environment > defaults, resolved once.

The result is one frozen, typed :class:`Settings` object. Every value is
validated here, so the rest of the library never sees a bad one; a bad value
raises :class:`ConfigError` naming the field (argument or variable), the value
and what would be accepted.

>>> s = Settings.resolve(service_name="orders", env={})
>>> s.otlp_endpoint, s.otlp_protocol
('http://localhost:4317', 'grpc')
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypedDict, Unpack

__all__ = ["ConfigError", "Protocol", "Settings", "SettingsOptions"]

Protocol = Literal["grpc", "http/protobuf"]
_PROTOCOLS: tuple[Protocol, ...] = ("grpc", "http/protobuf")
_DEFAULT_PORT: Mapping[Protocol, int] = {"grpc": 4317, "http/protobuf": 4318}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_DEFAULT_EXCLUDED_PATHS = ("/metrics", "/health", "/")


class ConfigError(ValueError):
    """A setting has a value we cannot use.

    Attributes:
        field: the argument name or environment variable that was wrong.
        value: the offending value.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}={value!r}: {reason}")
        self.field = field
        self.value = value


def _parse_pairs(field: str, raw: str) -> dict[str, str]:
    """Parse the ``k1=v1,k2=v2`` form of OTEL_RESOURCE_ATTRIBUTES / OTEL_EXPORTER_OTLP_HEADERS."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(field, raw, f"entry {item!r} is not of the form key=value")
        pairs[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return pairs


def _int_in_range(field: str, raw: str | int, low: int, high: int) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(field, raw, f"expected a whole number from {low} to {high}") from None
    if not low <= value <= high:
        raise ConfigError(field, raw, f"expected a whole number from {low} to {high}")
    return value


def _check_endpoint(field: str, endpoint: str, protocol: Protocol) -> str:
    parsed = urllib.parse.urlsplit(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(
            field, endpoint, "expected a URL such as http://localhost:4317 (scheme http or https)"
        )
    try:
        port = parsed.port
    except ValueError:
        raise ConfigError(field, endpoint, "the port is not a number in 1-65535") from None
    other: Protocol = "http/protobuf" if protocol == "grpc" else "grpc"
    if port == _DEFAULT_PORT[other]:
        raise ConfigError(
            field,
            endpoint,
            f"port {port} is the OTLP {'HTTP' if other == 'http/protobuf' else 'gRPC'} port, but "
            f"the protocol is {protocol!r}; use port {_DEFAULT_PORT[protocol]} or set "
            f"OTEL_EXPORTER_OTLP_PROTOCOL={other}",
        )
    return endpoint.rstrip("/")


def exact_path_pattern(path: str) -> str:
    """Regex matching a full URL whose path is exactly ``path`` (query string allowed).

    The OTel contrib instrumentations match excluded URLs with ``re.search`` on
    the whole URL, so a bare ``/`` would exclude every request; we anchor it.
    """
    return rf"^[a-z]+://[^/]+{re.escape(path)}(\?.*)?$"


class SettingsOptions(TypedDict, total=False):
    """The options of :func:`otel_setup.setup_telemetry` and :meth:`Settings.resolve`.

    Each is optional; an option left out (or ``None``) falls back to its
    environment variable, then to the default (see :class:`Settings`).
    """

    service_name: str | None
    service_version: str | None
    environment: str | None
    resource_attributes: Mapping[str, str] | None
    otlp_endpoint: str | None
    otlp_protocol: str | None
    otlp_headers: Mapping[str, str] | None
    metric_export_interval_ms: int | None
    excluded_urls: Sequence[str] | None
    log_level: str | None
    shutdown_timeout_s: float | None


@dataclass(frozen=True)
class Settings:
    """Everything :func:`otel_setup.setup_telemetry` needs, validated.

    Attributes:
        service_name: ``service.name`` (``OTEL_SERVICE_NAME``).
        service_version: ``service.version`` (``OTEL_RESOURCE_ATTRIBUTES``).
        environment: ``deployment.environment.name`` (``OTEL_RESOURCE_ATTRIBUTES``, default ``dev``).
        resource_attributes: every other resource attribute.
        otlp_endpoint: collector base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``).
        otlp_protocol: ``grpc`` or ``http/protobuf`` (``OTEL_EXPORTER_OTLP_PROTOCOL``).
        otlp_headers: sent with every export (``OTEL_EXPORTER_OTLP_HEADERS``); masked by :meth:`describe`.
        metric_export_interval_ms: ``OTEL_METRIC_EXPORT_INTERVAL`` (default 10000: dashboards
            want fresher data than the spec's 60 s).
        excluded_urls: regexes of URLs not traced (``OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`` or
            ``OTEL_PYTHON_EXCLUDED_URLS``); entries starting with ``/`` mean that exact path.
        log_level: threshold of the JSON log output (``OTELPIPE_LOG_LEVEL``, default INFO).
        shutdown_timeout_s: upper bound of :meth:`Telemetry.shutdown` (``OTELPIPE_SHUTDOWN_TIMEOUT``).
        disabled: ``OTEL_SDK_DISABLED=true`` turns every signal off.
    """

    service_name: str
    service_version: str | None = None
    environment: str = "dev"
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    otlp_endpoint: str = "http://localhost:4317"
    otlp_protocol: Protocol = "grpc"
    otlp_headers: Mapping[str, str] = field(default_factory=dict)
    metric_export_interval_ms: int = 10_000
    excluded_urls: tuple[str, ...] = tuple(exact_path_pattern(p) for p in _DEFAULT_EXCLUDED_PATHS)
    log_level: str = "INFO"
    shutdown_timeout_s: float = 5.0
    disabled: bool = False

    @classmethod
    def resolve(
        cls, *, env: Mapping[str, str] | None = None, **options: Unpack[SettingsOptions]
    ) -> Settings:
        """Resolve each setting from its option, else its env var, else the default.

        Args:
            env: the environment to read (default ``os.environ``).
            **options: any of :class:`SettingsOptions`; ``None`` means "not given".

        Raises:
            ConfigError: naming the first bad field and value, or an unknown option.
        """
        env = os.environ if env is None else env
        unknown = sorted(set(options) - set(SettingsOptions.__annotations__))
        if unknown:
            raise ConfigError(
                unknown[0],
                options[unknown[0]],  # type: ignore[literal-required]
                f"unknown option; expected one of {', '.join(SettingsOptions.__annotations__)}",
            )
        service_name = options.get("service_name")
        service_version = options.get("service_version")
        environment = options.get("environment")
        resource_attributes = options.get("resource_attributes")
        otlp_endpoint = options.get("otlp_endpoint")
        otlp_protocol = options.get("otlp_protocol")
        otlp_headers = options.get("otlp_headers")
        metric_export_interval_ms = options.get("metric_export_interval_ms")
        excluded_urls = options.get("excluded_urls")
        log_level = options.get("log_level")
        shutdown_timeout_s = options.get("shutdown_timeout_s")

        def pick(arg: Any, var: str) -> tuple[Any, str]:
            if arg is not None:
                return arg, var.lower()
            return env.get(var) or None, var

        resource = _parse_pairs("OTEL_RESOURCE_ATTRIBUTES", env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
        resource.update(resource_attributes or {})

        name, _ = pick(service_name, "OTEL_SERVICE_NAME")
        name = name or resource.pop("service.name", None)
        if not name or not str(name).strip():
            raise ConfigError(
                "service_name", name, "a service name is required (argument or OTEL_SERVICE_NAME)"
            )
        version = service_version or resource.pop("service.version", None)
        envname = (
            environment
            or resource.pop("deployment.environment.name", None)
            or resource.pop("deployment.environment", None)
            or "dev"
        )

        protocol, protocol_field = pick(otlp_protocol, "OTEL_EXPORTER_OTLP_PROTOCOL")
        protocol = protocol or "grpc"
        if protocol not in _PROTOCOLS:
            raise ConfigError(protocol_field, protocol, f"expected one of {', '.join(_PROTOCOLS)}")
        endpoint, endpoint_field = pick(otlp_endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT")
        endpoint = _check_endpoint(
            endpoint_field, endpoint or f"http://localhost:{_DEFAULT_PORT[protocol]}", protocol
        )

        headers = (
            dict(otlp_headers)
            if otlp_headers is not None
            else _parse_pairs(
                "OTEL_EXPORTER_OTLP_HEADERS", env.get("OTEL_EXPORTER_OTLP_HEADERS", "")
            )
        )

        interval, interval_field = pick(metric_export_interval_ms, "OTEL_METRIC_EXPORT_INTERVAL")
        interval = _int_in_range(
            interval_field, interval if interval is not None else 10_000, 100, 3_600_000
        )

        if excluded_urls is None:
            raw = env.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS") or env.get(
                "OTEL_PYTHON_EXCLUDED_URLS"
            )
            excluded_urls = raw.split(",") if raw else list(_DEFAULT_EXCLUDED_PATHS)
        excluded = tuple(
            exact_path_pattern(u) if u.startswith("/") else u
            for u in (u.strip() for u in excluded_urls)
            if u
        )
        for pattern in excluded:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError("excluded_urls", pattern, f"not a valid regex: {exc}") from None

        level, level_field = pick(log_level, "OTELPIPE_LOG_LEVEL")
        level = str(level or "INFO").upper()
        if level not in _LOG_LEVELS:
            raise ConfigError(level_field, level, f"expected one of {', '.join(_LOG_LEVELS)}")

        timeout, timeout_field = pick(shutdown_timeout_s, "OTELPIPE_SHUTDOWN_TIMEOUT")
        try:
            timeout = float(timeout if timeout is not None else 5.0)
        except (TypeError, ValueError):
            raise ConfigError(timeout_field, timeout, "expected seconds, e.g. 5 or 2.5") from None
        if not 0 < timeout <= 60:
            raise ConfigError(timeout_field, timeout, "expected seconds in (0, 60]")

        disabled = env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
        return cls(
            service_name=str(name).strip(),
            service_version=version,
            environment=envname,
            resource_attributes=resource,
            otlp_endpoint=endpoint,
            otlp_protocol=protocol,
            otlp_headers=headers,
            metric_export_interval_ms=interval,
            excluded_urls=excluded,
            log_level=level,
            shutdown_timeout_s=timeout,
            disabled=disabled,
        )

    def describe(self) -> dict[str, Any]:
        """The settings as plain data for debugging, with header values masked."""
        data = asdict(self)
        data["otlp_headers"] = {key: "***" for key in self.otlp_headers}
        return data
