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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypedDict, Unpack

from opentelemetry.sdk.trace import sampling
from opentelemetry.sdk.trace.sampling import Sampler

from otel_setup._sdk_env import SDK_VARIABLES, sdk_variable_problem

__all__ = ["CACHE_TIERS", "ConfigError", "Exporter", "Protocol", "Settings", "SettingsOptions"]

Protocol = Literal["grpc", "http/protobuf"]
#: What a signal is exported with: OTLP to the collector, or nothing (the spec's ``none``).
Exporter = Literal["otlp", "none"]
_EXPORTERS: tuple[Exporter, ...] = ("otlp", "none")
_PROTOCOLS: tuple[Protocol, ...] = ("grpc", "http/protobuf")
_DEFAULT_PORT: Mapping[Protocol, int] = {"grpc": 4317, "http/protobuf": 4318}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_DEFAULT_EXCLUDED_PATHS = ("/metrics", "/health", "/")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
#: Control characters (CR, LF, NUL …): never valid in a header value, nor with spaces in a URL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
#: Cache tiers the helpers and the Redis instrumentation count under.
CACHE_TIERS = ("L1", "L2", "L3")
_SAMPLERS: Mapping[str, Callable[[float], Sampler]] = {
    "always_on": lambda _: sampling.ALWAYS_ON,
    "always_off": lambda _: sampling.ALWAYS_OFF,
    "traceidratio": sampling.TraceIdRatioBased,
    # The SDK's own instance: the server spans recognise it and decide without calling it.
    "parentbased_always_on": lambda _: sampling.DEFAULT_ON,
    "parentbased_always_off": lambda _: sampling.ParentBased(sampling.ALWAYS_OFF),
    "parentbased_traceidratio": lambda r: sampling.ParentBased(sampling.TraceIdRatioBased(r)),
}


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


def _boolean(raw: object, field: str, *, default: bool) -> bool:
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ConfigError(field, raw, "expected true or false")


def _number(
    raw: object, field: str, *, low: float, high: float, default: float, kind: type = float
) -> float:
    if raw is None:
        return default
    try:
        value = kind(raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        raise ConfigError(field, raw, f"expected a number from {low} to {high}") from None
    if not low <= value <= high:
        raise ConfigError(field, raw, f"expected a number from {low} to {high}")
    return value


def _choice(
    raw: object,
    field: str,
    choices: Sequence[str],
    default: str,
    normalise: Callable[[str], str] = str.lower,
) -> Any:
    if raw is None:
        return default
    value = normalise(str(raw).strip())
    if value not in choices:
        raise ConfigError(field, raw, f"expected one of {', '.join(choices)}")
    return value


def _exporter(raw: object, field: str) -> Exporter:
    """``otlp`` or ``none``. The spec's other exporters (``console``, ``zipkin``,
    ``prometheus``) and lists of several are refused: left unread, they would be
    silently replaced by OTLP."""
    if raw is not None and "," in str(raw):
        raise ConfigError(field, raw, f"one exporter only: one of {', '.join(_EXPORTERS)}")
    exporter: Exporter = _choice(raw, field, _EXPORTERS, "otlp")
    return exporter


def _check_url(field: str, url: str, example: str) -> tuple[str, int | None]:
    """Check ``url`` is http(s) with a host and a valid port, without spaces or control
    characters; return it with its scheme in lower case, and its port."""
    url = str(url).strip()
    expected = f"expected a URL such as {example} (scheme http or https)"
    if _SPACE_OR_CONTROL.search(url):
        raise ConfigError(field, url, f"{expected}, without spaces or control characters")
    try:
        parsed = urllib.parse.urlsplit(url)
        hostname = parsed.hostname  # raises on a malformed IPv6 literal
    except ValueError as exc:
        raise ConfigError(field, url, f"{expected}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not hostname:
        raise ConfigError(field, url, expected)
    try:
        port = parsed.port
    except ValueError:
        port = 0
    if port == 0:
        raise ConfigError(field, url, "the port is not a number in 1-65535")
    # The scheme in lower case: the gRPC exporter tells plain from TLS by "http://".
    return parsed.scheme + url[len(parsed.scheme) :], port


def _check_endpoint(field: str, endpoint: str, protocol: Protocol) -> str:
    endpoint, port = _check_url(field, endpoint, "http://localhost:4317")
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


def _check_headers(field: str, headers: Mapping[str, str]) -> dict[str, str]:
    """Headers every export would otherwise fail on, refused once, here."""
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(str(name)):
            raise ConfigError(field, name, "not a valid HTTP header name")
        if _CONTROL.search(str(value)):
            raise ConfigError(field, f"{name}=***", "header values cannot hold control characters")
    return dict(headers)


def exact_path_pattern(path: str) -> str:
    """Regex matching a full URL whose path is exactly ``path`` (query string allowed).

    The OTel contrib instrumentations match excluded URLs with ``re.search`` on
    the whole URL, so a bare ``/`` would exclude every request; we anchor it.
    """
    return rf"^[a-z]+://[^/]+{re.escape(path)}(\?.*)?$"


def _prometheus_url(raw: str | None, field: str) -> str:
    if raw is None:
        return "http://127.0.0.1:9090"
    return _check_url(field, raw, "http://127.0.0.1:9090")[0].rstrip("/")


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
    traces_exporter: str | None
    metrics_exporter: str | None
    logs_exporter: str | None
    metric_export_interval_ms: int | None
    span_queue_size: int | None
    log_queue_size: int | None
    attribute_value_length_limit: int | None
    excluded_urls: Sequence[str] | None
    log_level: str | None
    shutdown_timeout_s: float | None
    export_retry_s: float | None
    traces_sampler: str | None
    traces_sampler_arg: float | None
    request_id_header: str | None
    redis_cache_tier: str | None
    system_metrics: bool | None
    gc_freeze: bool | None
    performance: bool | None
    performance_api: bool | None
    targets_file: str | None
    slow_query_threshold_s: float | None
    slow_query_critical_s: float | None
    slow_query_log: str | None
    prometheus_url: str | None


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
        traces_exporter: ``otlp`` or ``none`` (``OTEL_TRACES_EXPORTER``). With ``none``
            spans are still made, traced across services and graded in the process,
            and leave it nowhere.
        metrics_exporter: ``otlp`` or ``none`` (``OTEL_METRICS_EXPORTER``): with ``none``
            metrics are not collected.
        logs_exporter: ``otlp`` or ``none`` (``OTEL_LOGS_EXPORTER``): with ``none`` the
            JSON log lines stay and are not exported.
        metric_export_interval_ms: ``OTEL_METRIC_EXPORT_INTERVAL`` (default 10000: dashboards
            want fresher data than the spec's 60 s).
        span_queue_size: spans waiting for export; beyond it new ones are dropped and counted
            (``OTEL_BSP_MAX_QUEUE_SIZE``, default 8192).
        log_queue_size: the same for log records (``OTEL_BLRP_MAX_QUEUE_SIZE``, default 8192).
        attribute_value_length_limit: longer string attribute values of spans and log
            records, and string fields of log lines, are cut to this many characters
            (``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``, default 16384; the SDK's is unlimited).
        excluded_urls: regexes of URLs not traced (``OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`` or
            ``OTEL_PYTHON_EXCLUDED_URLS``); entries starting with ``/`` mean that exact path.
        log_level: threshold of the JSON log output (``OTELPIPE_LOG_LEVEL``, default INFO).
        shutdown_timeout_s: upper bound of :meth:`Telemetry.shutdown` (``OTELPIPE_SHUTDOWN_TIMEOUT``).
        export_retry_s: how long a batch of spans or logs that failed to export is offered
            again before it is dropped, so a collector outage that long loses nothing
            (``OTELPIPE_EXPORT_RETRY``, default 120; 0 leaves it to the exporter's own 10 s).
        traces_sampler: ``OTEL_TRACES_SAMPLER`` (default ``parentbased_always_on``: 100 %;
            tail sampling in the collector decides what to keep).
        traces_sampler_arg: ratio for the ``*traceidratio`` samplers (``OTEL_TRACES_SAMPLER_ARG``).
        request_id_header: header carrying the request id (``OTELPIPE_REQUEST_ID_HEADER``,
            default ``X-Request-ID``).
        redis_cache_tier: cache tier Redis reads are counted under (``OTELPIPE_REDIS_CACHE_TIER``,
            default ``L2``).
        system_metrics: CPU, memory, disk, thread and fd metrics of host and process
            (``OTELPIPE_SYSTEM_METRICS``, default true).
        gc_freeze: when the app has started, collect garbage and freeze what is alive, once
            per process, so full collections stop traversing the startup heap
            (``OTELPIPE_GC_FREEZE``, default true; see :mod:`otel_setup.heap`).
        performance: run the grading and slow-query span processors (``OTELPIPE_PERFORMANCE``,
            default true).
        performance_api: mount ``/api/v1/performance`` on the app (``OTELPIPE_PERFORMANCE_API``,
            default true; needs ``performance``).
        targets_file: PRD targets YAML (``OTELPIPE_TARGETS_FILE``, default: the shipped one).
        slow_query_threshold_s: slow-query threshold (``OTELPIPE_SLOW_QUERY_THRESHOLD``, default 1).
        slow_query_critical_s: critical threshold (``OTELPIPE_SLOW_QUERY_CRITICAL``, default 5).
        slow_query_log: the slow-query JSON-lines file (``OTELPIPE_SLOW_QUERY_LOG``,
            default ``logs/slow_queries.jsonl``).
        prometheus_url: where the dashboard at ``/api/v1/performance/dashboard`` reads the
            service's time series (``OTELPIPE_PROMETHEUS_URL``, default ``http://127.0.0.1:9090``,
            the local stack's).
        disabled: ``OTEL_SDK_DISABLED=true`` turns every signal off.
    """

    service_name: str
    service_version: str | None = None
    environment: str = "dev"
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    otlp_endpoint: str = "http://localhost:4317"
    otlp_protocol: Protocol = "grpc"
    otlp_headers: Mapping[str, str] = field(default_factory=dict)
    traces_exporter: Exporter = "otlp"
    metrics_exporter: Exporter = "otlp"
    logs_exporter: Exporter = "otlp"
    metric_export_interval_ms: int = 10_000
    span_queue_size: int = 8192
    log_queue_size: int = 8192
    attribute_value_length_limit: int = 16_384
    excluded_urls: tuple[str, ...] = tuple(exact_path_pattern(p) for p in _DEFAULT_EXCLUDED_PATHS)
    log_level: str = "INFO"
    shutdown_timeout_s: float = 5.0
    export_retry_s: float = 120.0
    traces_sampler: str = "parentbased_always_on"
    traces_sampler_arg: float = 1.0
    request_id_header: str = "X-Request-ID"
    redis_cache_tier: str = "L2"
    system_metrics: bool = True
    gc_freeze: bool = True
    performance: bool = True
    performance_api: bool = True
    targets_file: str | None = None
    slow_query_threshold_s: float = 1.0
    slow_query_critical_s: float = 5.0
    slow_query_log: str = "logs/slow_queries.jsonl"
    prometheus_url: str = "http://127.0.0.1:9090"
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

        def pick(option: str, *variables: str) -> tuple[Any, str]:
            """The option's value, else the first set variable's; and the field it came from."""
            if options.get(option) is not None:
                return options[option], option  # type: ignore[literal-required]
            for var in variables:
                if env.get(var):
                    return env[var], var
            return None, variables[0] if variables else option

        resource = _parse_pairs("OTEL_RESOURCE_ATTRIBUTES", env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
        resource.update(options.get("resource_attributes") or {})
        name = pick("service_name", "OTEL_SERVICE_NAME")[0] or resource.pop("service.name", None)
        if not name or not str(name).strip():
            raise ConfigError(
                "service_name", name, "a service name is required (argument or OTEL_SERVICE_NAME)"
            )
        version = options.get("service_version") or resource.pop("service.version", None)
        environment = (
            options.get("environment")
            or resource.pop("deployment.environment.name", None)
            or resource.pop("deployment.environment", None)
            or "dev"
        )

        protocol = _choice(
            *pick("otlp_protocol", "OTEL_EXPORTER_OTLP_PROTOCOL"), _PROTOCOLS, "grpc"
        )
        endpoint, endpoint_field = pick("otlp_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT")
        endpoint = _check_endpoint(
            endpoint_field, endpoint or f"http://localhost:{_DEFAULT_PORT[protocol]}", protocol
        )
        headers, headers_field = options.get("otlp_headers"), "otlp_headers"
        if headers is None:
            headers_field = "OTEL_EXPORTER_OTLP_HEADERS"
            headers = _parse_pairs(headers_field, env.get(headers_field, ""))
        headers = _check_headers(headers_field, headers)
        for variable in SDK_VARIABLES:
            if env.get(variable):
                problem = sdk_variable_problem(variable, env[variable], protocol)
                if problem is not None:
                    raise ConfigError(variable, env[variable], problem)

        excluded, _ = pick(
            "excluded_urls", "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS"
        )
        if isinstance(excluded, str):
            excluded = excluded.split(",")
        excluded = tuple(
            exact_path_pattern(u) if u.startswith("/") else u
            for u in (u.strip() for u in excluded or _DEFAULT_EXCLUDED_PATHS)
            if u
        )
        for pattern in excluded:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError("excluded_urls", pattern, f"not a valid regex: {exc}") from None

        header, header_field = pick("request_id_header", "OTELPIPE_REQUEST_ID_HEADER")
        header = str(header or "X-Request-ID").strip()
        if not _HEADER_NAME.fullmatch(header):
            raise ConfigError(header_field, header, "not a valid HTTP header name")

        slow, slow_field = pick("slow_query_threshold_s", "OTELPIPE_SLOW_QUERY_THRESHOLD")
        slow = _number(slow, slow_field, low=0.001, high=3600, default=1.0)
        critical, critical_field = pick("slow_query_critical_s", "OTELPIPE_SLOW_QUERY_CRITICAL")
        critical_given = critical is not None
        critical = _number(critical, critical_field, low=0.001, high=3600, default=5.0)
        if critical <= slow:
            # Blame the setting the user gave: a lone threshold at or over the default critical.
            if critical_given:
                raise ConfigError(
                    critical_field, critical, f"must be above the slow-query threshold ({slow:g} s)"
                )
            raise ConfigError(
                slow_field, slow, f"must be below the critical threshold ({critical:g} s)"
            )

        return cls(
            service_name=str(name).strip(),
            service_version=version,
            environment=environment,
            resource_attributes=resource,
            otlp_endpoint=endpoint,
            otlp_protocol=protocol,
            otlp_headers=headers,
            traces_exporter=_exporter(*pick("traces_exporter", "OTEL_TRACES_EXPORTER")),
            metrics_exporter=_exporter(*pick("metrics_exporter", "OTEL_METRICS_EXPORTER")),
            logs_exporter=_exporter(*pick("logs_exporter", "OTEL_LOGS_EXPORTER")),
            metric_export_interval_ms=int(
                _number(
                    *pick("metric_export_interval_ms", "OTEL_METRIC_EXPORT_INTERVAL"),
                    low=100,
                    high=3_600_000,
                    default=10_000,
                    kind=int,
                )
            ),
            span_queue_size=int(
                _number(
                    *pick("span_queue_size", "OTEL_BSP_MAX_QUEUE_SIZE"),
                    low=1,
                    high=1_000_000,
                    default=8192,
                    kind=int,
                )
            ),
            log_queue_size=int(
                _number(
                    *pick("log_queue_size", "OTEL_BLRP_MAX_QUEUE_SIZE"),
                    low=1,
                    high=1_000_000,
                    default=8192,
                    kind=int,
                )
            ),
            attribute_value_length_limit=int(
                _number(
                    *pick("attribute_value_length_limit", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
                    low=64,
                    high=10_485_760,
                    default=16_384,
                    kind=int,
                )
            ),
            excluded_urls=excluded,
            log_level=_choice(
                *pick("log_level", "OTELPIPE_LOG_LEVEL"), _LOG_LEVELS, "INFO", normalise=str.upper
            ),
            shutdown_timeout_s=_number(
                *pick("shutdown_timeout_s", "OTELPIPE_SHUTDOWN_TIMEOUT"),
                low=0.1,
                high=60,
                default=5.0,
            ),
            export_retry_s=_number(
                *pick("export_retry_s", "OTELPIPE_EXPORT_RETRY"), low=0, high=3600, default=120.0
            ),
            traces_sampler=_choice(
                *pick("traces_sampler", "OTEL_TRACES_SAMPLER"),
                tuple(_SAMPLERS),
                "parentbased_always_on",
            ),
            traces_sampler_arg=_number(
                *pick("traces_sampler_arg", "OTEL_TRACES_SAMPLER_ARG"),
                low=0.0,
                high=1.0,
                default=1.0,
            ),
            request_id_header=header,
            redis_cache_tier=_choice(
                *pick("redis_cache_tier", "OTELPIPE_REDIS_CACHE_TIER"),
                CACHE_TIERS,
                "L2",
                normalise=str.upper,
            ),
            system_metrics=_boolean(
                *pick("system_metrics", "OTELPIPE_SYSTEM_METRICS"), default=True
            ),
            gc_freeze=_boolean(*pick("gc_freeze", "OTELPIPE_GC_FREEZE"), default=True),
            performance=_boolean(*pick("performance", "OTELPIPE_PERFORMANCE"), default=True),
            performance_api=_boolean(
                *pick("performance_api", "OTELPIPE_PERFORMANCE_API"), default=True
            ),
            targets_file=pick("targets_file", "OTELPIPE_TARGETS_FILE")[0],
            slow_query_threshold_s=slow,
            slow_query_critical_s=critical,
            slow_query_log=pick("slow_query_log", "OTELPIPE_SLOW_QUERY_LOG")[0]
            or "logs/slow_queries.jsonl",
            prometheus_url=_prometheus_url(*pick("prometheus_url", "OTELPIPE_PROMETHEUS_URL")),
            disabled=_boolean(
                env.get("OTEL_SDK_DISABLED") or None, "OTEL_SDK_DISABLED", default=False
            ),
        )

    def sampler(self) -> Sampler:
        """The SDK sampler named by :attr:`traces_sampler`."""
        return _SAMPLERS[self.traces_sampler](self.traces_sampler_arg)

    def describe(self) -> dict[str, Any]:
        """The settings as plain data for debugging, with header values masked."""
        data = asdict(self)
        data["otlp_headers"] = {key: "***" for key in self.otlp_headers}
        return data
