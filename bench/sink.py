"""An OTLP endpoint that only receives: what exporting costs a service, without the backends.

On this machine the collector and Jaeger share the two cores with the service
and wrk, so ``ours`` pays for their work on its telemetry as well as for its
own export path. A gateway of ours exporting here instead pays for its own
export path alone (scrubbing, encoding, gRPC) and a receiver that decodes
each request and drops it: the project's collector binary with an OTLP gRPC
receiver and the ``debug`` exporter, its log silenced. The per-request rounds
run it beside ``ours``: the difference is the backends' share.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from otelpipe.stack import StackSettings
from otelpipe.stack.build import ensure_collector
from otelpipe.stack.components import http_ok
from otelpipe.stack.ephemeral import free_ports

__all__ = ["Sink", "otlp_sink"]

_CONFIG = """\
extensions:
  health_check:
    endpoint: {host}:{health_port}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {host}:{otlp_port}
exporters:
  debug:
    verbosity: basic
service:
  extensions: [health_check]
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    traces: {{receivers: [otlp], exporters: [debug]}}
    metrics: {{receivers: [otlp], exporters: [debug]}}
    logs: {{receivers: [otlp], exporters: [debug]}}
"""


@dataclass(frozen=True)
class Sink:
    #: ``OTEL_EXPORTER_OTLP_ENDPOINT`` for a service exporting here.
    url: str
    pid: int


@contextmanager
def otlp_sink(settings: StackSettings, ready_timeout_s: float = 30.0) -> Iterator[Sink]:
    """Run the sink on free ports (its config in the stack's run directory, its log beside
    the components' logs) until the block ends.

    Raises:
        RuntimeError: it exited or did not answer its health check in time (the
            message names its log).
    """
    otlp_port, health_port = free_ports(2)
    for directory in (settings.run_dir, settings.logs_dir):
        directory.mkdir(parents=True, exist_ok=True)
    config, log = settings.run_dir / "otlp-sink.yaml", settings.logs_dir / "otlp-sink.log"
    host = settings.host
    config.write_text(_CONFIG.format(host=host, otlp_port=otlp_port, health_port=health_port))
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(ensure_collector(settings)), "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + ready_timeout_s
        while not http_ok(f"http://{host}:{health_port}/"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the OTLP sink did not start; see {log}")
            time.sleep(0.2)
        yield Sink(f"http://{host}:{otlp_port}", process.pid)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
