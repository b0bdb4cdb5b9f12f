"""The metrics otel_setup records itself, created once per meter.

Auto-instrumentation covers HTTP, Redis and SQL durations; these instruments
cover what it cannot see: cache outcomes per tier, background jobs, queues and
connection pools. Names follow the OTel conventions (dots, units in the
instrument, not the name); through Prometheus they become e.g.
``otelpipe_cache_requests_total`` and ``otelpipe_job_duration_seconds_bucket``.
"""

from __future__ import annotations

from opentelemetry import metrics
from opentelemetry.metrics import Meter

from otel_setup.direct_measurements import DirectCounter
from otel_setup.providers import DURATION_BUCKETS_S
from processors.classify import CATEGORY_ATTRIBUTE

__all__ = ["CATEGORY", "Instruments", "instruments"]

#: Span attribute naming the kind of operation; the processors classify by it.
CATEGORY = CATEGORY_ATTRIBUTE
#: Jobs and queue waits run longer than requests.
_LONG_DURATIONS_S = (*DURATION_BUCKETS_S, 30.0, 60.0, 300.0)


class Instruments:
    """Counters, histograms and gauges of one meter."""

    __slots__ = (
        "cache_requests",
        "job_duration",
        "pool_connections",
        "queue_size",
        "queue_wait",
    )

    def __init__(self, meter: Meter) -> None:
        # Counted per look-up, on the request path: past the SDK's measurement path.
        self.cache_requests = DirectCounter(
            meter.create_counter(
                "otelpipe.cache.requests",
                unit="{request}",
                description="Cache look-ups by tier and result (hit or miss).",
            )
        )
        self.job_duration = meter.create_histogram(
            "otelpipe.job.duration",
            unit="s",
            description="Background job run time by job and status (ok or error).",
            explicit_bucket_boundaries_advisory=_LONG_DURATIONS_S,
        )
        self.queue_size = meter.create_gauge(
            "otelpipe.queue.size", unit="{item}", description="Items waiting in a queue."
        )
        self.queue_wait = meter.create_histogram(
            "otelpipe.queue.wait_time",
            unit="s",
            description="Time items waited in a queue before processing.",
            explicit_bucket_boundaries_advisory=_LONG_DURATIONS_S,
        )
        self.pool_connections = meter.create_up_down_counter(
            "otelpipe.pool.connections.active",
            unit="{connection}",
            description="Connections currently checked out of a pool.",
        )


_instruments: Instruments | None = None


def instruments() -> Instruments:
    """The process-wide instruments, on the global meter provider.

    Created on first use from the global (proxy) meter, so helpers used
    before :func:`setup_telemetry` start recording as soon as it runs.
    """
    global _instruments
    if _instruments is None:
        _instruments = Instruments(metrics.get_meter("otel_setup"))
    return _instruments
