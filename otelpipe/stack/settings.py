"""Where the local stack keeps its state and which ports it listens on.

Everything is read from the environment once, validated, and frozen into a
:class:`StackSettings`. The same ``OTELPIPE_*`` variables are the ones the
config files in ``collector-config/`` expand, so the settings object can hand
them straight to the processes it starts (:meth:`StackSettings.process_env`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PORT_DEFAULTS", "StackConfigError", "StackSettings"]

#: Every port the stack binds, with its default. Each one is overridable with
#: ``OTELPIPE_<NAME>_PORT`` (upper-cased), e.g. ``OTELPIPE_PROMETHEUS_PORT=9091``.
PORT_DEFAULTS: Mapping[str, int] = {
    "otlp_grpc": 4317,
    "otlp_http": 4318,
    "collector_health": 13133,
    "jaeger_query": 16686,
    "jaeger_grpc": 16685,
    "jaeger_otlp_grpc": 14317,
    "jaeger_health": 13134,
    "jaeger_metrics": 14269,
    "prometheus": 9090,
    "redis": 6379,
    # The demo services ``otelpipe demo`` runs next to the stack.
    "gateway": 8000,
    "payments": 8001,
}

_REPO_ROOT = Path(__file__).resolve().parents[2]


class StackConfigError(ValueError):
    """An ``OTELPIPE_*`` variable holds a value the stack cannot use."""


_SAMPLE_PERCENT = "OTELPIPE_TRACE_SAMPLE_PERCENT"


def _sample_percent_from_env(env: Mapping[str, str]) -> float:
    raw = env.get(_SAMPLE_PERCENT)
    if raw is None or raw.strip() == "":
        return 100.0
    try:
        percent = float(raw)
    except ValueError:
        percent = math.nan
    if not 0 <= percent <= 100:  # also refuses nan
        raise StackConfigError(
            f"{_SAMPLE_PERCENT}={raw!r} is not a percentage (expected a number from 0 to 100)"
        )
    return percent


def _port_from_env(env: Mapping[str, str], name: str, default: int) -> int:
    var = f"OTELPIPE_{name.upper()}_PORT"
    raw = env.get(var)
    if raw is None or raw == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise StackConfigError(f"{var}={raw!r} is not a port number (expected 1-65535)") from None
    if not 1 <= port <= 65535:
        raise StackConfigError(f"{var}={port} is out of range (expected 1-65535)")
    return port


@dataclass(frozen=True)
class StackSettings:
    """Resolved, validated settings of one local stack.

    Attributes:
        home: state root (``$OTELPIPE_HOME``, default ``~/.local/share/otelpipe``):
            ``data/``, ``logs/`` and ``run/`` (pid files) live below it.
        cache_dir: built binaries, keyed by version (``$OTELPIPE_CACHE_DIR``,
            default ``<home>/cache``). Kept apart so tests can use a throw-away
            home without rebuilding.
        config_dir: the ``collector-config/`` directory the processes read.
        host: the loopback address every component binds to.
        ports: one entry per name in :data:`PORT_DEFAULTS`.
        trace_sample_percent: the percentage of ordinary traces Jaeger gets
            (``$OTELPIPE_TRACE_SAMPLE_PERCENT``, default 100). Below 100 the collector
            samples at the tail (:attr:`tail_sampling`): every trace with an error or
            slower than 1 s, and this percentage of the others.
    """

    home: Path
    cache_dir: Path
    config_dir: Path
    host: str = "127.0.0.1"
    ports: Mapping[str, int] = field(default_factory=lambda: dict(PORT_DEFAULTS))
    trace_sample_percent: float = 100.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StackSettings:
        """Build settings from ``env`` (default: ``os.environ``).

        Raises:
            StackConfigError: a port variable is not a number in 1-65535, two
                components would share a port, or the config directory is missing.
        """
        env = os.environ if env is None else env
        home = Path(env.get("OTELPIPE_HOME") or Path.home() / ".local/share/otelpipe")
        cache_dir = Path(env.get("OTELPIPE_CACHE_DIR") or home / "cache")
        config_dir = Path(env.get("OTELPIPE_CONFIG_DIR") or _REPO_ROOT / "collector-config")
        if not (config_dir / "otelcol.yaml").is_file():
            raise StackConfigError(
                f"OTELPIPE_CONFIG_DIR={str(config_dir)!r} holds no otelcol.yaml; "
                "point it at the repository's collector-config/ directory"
            )
        ports = {
            name: _port_from_env(env, name, default) for name, default in PORT_DEFAULTS.items()
        }
        by_port: dict[int, str] = {}
        for name, port in ports.items():
            if port in by_port:
                raise StackConfigError(
                    f"OTELPIPE_{name.upper()}_PORT and OTELPIPE_{by_port[port].upper()}_PORT "
                    f"are both {port}; every component needs its own port"
                )
            by_port[port] = name
        return cls(
            home=home.expanduser(),
            cache_dir=cache_dir.expanduser(),
            config_dir=config_dir,
            ports=ports,
            trace_sample_percent=_sample_percent_from_env(env),
        )

    @property
    def tail_sampling(self) -> bool:
        """Whether the collector runs with ``collector-config/tail-sampling.yaml``.

        Only when some traces are to be dropped: holding every trace back to
        decide on it cost the collector and Jaeger about 110 µs of CPU a span
        (docs/benchmarks.md), for nothing when every trace is kept anyway.
        """
        return self.trace_sample_percent < 100

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def logs_dir(self) -> Path:
        """Where each component's own stdout/stderr goes."""
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def telemetry_logs_dir(self) -> Path:
        """Log storage: the collector's file exporter writes OTLP JSON lines here."""
        return self.data_dir / "collector" / "logs"

    def url(self, port_name: str, scheme: str = "http") -> str:
        return f"{scheme}://{self.host}:{self.ports[port_name]}"

    def process_env(self) -> dict[str, str]:
        """The ``OTELPIPE_*`` variables the files in ``collector-config/`` expand."""
        env = {f"OTELPIPE_{name.upper()}_PORT": str(port) for name, port in self.ports.items()}
        env.update(
            OTELPIPE_LISTEN_HOST=self.host,
            OTELPIPE_JAEGER_HOST=self.host,
            OTELPIPE_PROMETHEUS_HOST=self.host,
            OTELPIPE_COLLECTOR_DATA_DIR=str(self.data_dir / "collector"),
            OTELPIPE_JAEGER_DATA_DIR=str(self.data_dir / "jaeger"),
            OTELPIPE_TRACE_SAMPLE_PERCENT=f"{self.trace_sample_percent:g}",
        )
        return env
