"""The four backends of the local stack: how to start each and how to tell it is ready.

A :class:`Component` is data — argv, the ports it binds, a readiness probe and
the URLs to show — so the supervisor treats all of them alike. Start order is
the order of :func:`components`: stores first, the collector (which sends to
all of them) last.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from otelpipe.stack.settings import StackSettings

__all__ = [
    "TAIL_SAMPLING_CONFIG",
    "Binaries",
    "Component",
    "components",
    "http_ok",
    "redis_pong",
]

#: The collector config laid over ``otelcol.yaml`` when traces are sampled.
TAIL_SAMPLING_CONFIG = "tail-sampling.yaml"
#: Prometheus keeps raw samples this long (the reference's 7-day raw tier, with margin).
PROMETHEUS_RETENTION = "15d"


@dataclass(frozen=True)
class Binaries:
    """Programs the stack runs. The bare-name defaults are enough for ``status``
    and ``down``, which identify a running process by its pid file."""

    collector: Path = Path("otelcol-perf")
    jaeger: Path = Path("jaeger")
    prometheus: Path = Path("prometheus")
    redis_server: Path = Path("redis-server")


@dataclass(frozen=True)
class Component:
    """One backend process.

    Attributes:
        name: short name, also the pid/log file stem.
        argv: the command line; ``argv[0]`` identifies the process in ``/proc``.
        ports: names from :data:`~otelpipe.stack.settings.PORT_DEFAULTS` it binds.
        ready: returns True once the component answers its health probe.
        urls: what ``stack status`` shows, by purpose.
    """

    name: str
    argv: tuple[str, ...]
    ports: tuple[str, ...]
    ready: Callable[[], bool]
    urls: Mapping[str, str] = field(default_factory=dict)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when ``url`` answers 200 within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def redis_pong(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a Redis server at ``host:port`` answers PING."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def components(settings: StackSettings, binaries: Binaries | None = None) -> list[Component]:
    """The stack's components in start order, configured from ``settings``."""
    bins = binaries or Binaries()
    host, ports, cfg, data = settings.host, settings.ports, settings.config_dir, settings.data_dir
    return [
        Component(
            name="redis",
            argv=(
                str(bins.redis_server),
                "--bind",
                host,
                "--port",
                str(ports["redis"]),
                "--dir",
                str(data / "redis"),
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--save",
                "60 1000",
                "--appendonly",
                "no",
            ),
            ports=("redis",),
            ready=lambda: redis_pong(host, ports["redis"]),
            urls={"redis": f"redis://{host}:{ports['redis']}"},
        ),
        Component(
            name="prometheus",
            argv=(
                str(bins.prometheus),
                f"--config.file={cfg / 'prometheus' / 'prometheus.yml'}",
                f"--storage.tsdb.path={data / 'prometheus'}",
                f"--storage.tsdb.retention.time={PROMETHEUS_RETENTION}",
                f"--web.listen-address={host}:{ports['prometheus']}",
                "--web.enable-remote-write-receiver",
                "--web.enable-lifecycle",
            ),
            ports=("prometheus",),
            ready=lambda: http_ok(f"{settings.url('prometheus')}/-/ready"),
            urls={
                "ui": settings.url("prometheus"),
                "query_api": f"{settings.url('prometheus')}/api/v1/query",
            },
        ),
        Component(
            name="jaeger",
            argv=(str(bins.jaeger), "--config", str(cfg / "jaeger.yaml")),
            ports=(
                "jaeger_query",
                "jaeger_grpc",
                "jaeger_otlp_grpc",
                "jaeger_health",
                "jaeger_metrics",
            ),
            ready=lambda: http_ok(f"{settings.url('jaeger_health')}/status"),
            urls={
                "query_api": settings.url("jaeger_query"),
                "otlp_grpc": settings.url("jaeger_otlp_grpc"),
            },
        ),
        Component(
            name="collector",
            argv=(
                str(bins.collector),
                "--config",
                str(cfg / "otelcol.yaml"),
                *(("--config", str(cfg / TAIL_SAMPLING_CONFIG)) if settings.tail_sampling else ()),
            ),
            ports=("otlp_grpc", "otlp_http", "collector_health"),
            ready=lambda: http_ok(f"{settings.url('collector_health')}/"),
            urls={
                "otlp_grpc": settings.url("otlp_grpc"),
                "otlp_http": settings.url("otlp_http"),
                "health": settings.url("collector_health"),
                "log_storage": str(settings.telemetry_logs_dir),
            },
        ),
    ]
