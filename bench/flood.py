"""Flood the collector with OTLP spans at a set rate, from requests encoded once.

    python -m bench.flood --endpoint http://127.0.0.1:4317 --rate 40000 --seconds 60 \
        --run-id 3f2a… [--threads 4]

The Python SDK makes at most 10,000 to 17,000 spans/s in one process on this
machine (span objects, then encoding, on one interpreter), so it cannot
overload a collector by itself. This tool skips both: each thread encodes one
``ExportTraceServiceRequest`` (512 spans in traces of 16) once, and before
every send writes fresh random trace ids into it, so the collector sees new
traces each time (Jaeger, and tail sampling when on, keep them apart). Sends
go straight over gRPC, paced to ``--rate`` spans/s over all threads. Prints
one JSON object: spans offered, accepted, refused by the collector (by gRPC
status), and the rate reached.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from bench.emitter import load_arguments

__all__ = ["SERVICE", "flood"]

SERVICE = "bench-flood"
SPANS_PER_REQUEST = 512
SPANS_PER_TRACE = 16
_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _attribute(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _template(run_id: str) -> tuple[bytearray, list[list[int]]]:
    """One encoded request, and for each of its traces the offsets of its trace id."""
    markers = [os.urandom(16) for _ in range(SPANS_PER_REQUEST // SPANS_PER_TRACE)]
    now = time.time_ns()
    spans = []
    for marker in markers:
        root = os.urandom(8)
        for i in range(SPANS_PER_TRACE):
            spans.append(
                Span(
                    trace_id=marker,
                    span_id=root if i == 0 else os.urandom(8),
                    parent_span_id=b"" if i == 0 else root,
                    name="flood.request" if i == 0 else "flood.step",
                    kind=Span.SPAN_KIND_SERVER if i == 0 else Span.SPAN_KIND_INTERNAL,
                    start_time_unix_nano=now,
                    end_time_unix_nano=now + 1_000_000,
                    attributes=[_attribute("flood.step", i), _attribute("http.route", "/flood")],
                )
            )
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(
                    attributes=[
                        _attribute("service.name", SERVICE),
                        _attribute("otelpipe.run_id", run_id),
                    ]
                ),
                scope_spans=[ScopeSpans(spans=spans)],
            )
        ]
    )
    encoded = bytearray(request.SerializeToString())
    offsets = []
    for marker in markers:
        found, start = [], 0
        while (at := encoded.find(marker, start)) >= 0:
            found.append(at)
            start = at + 16
        if len(found) != SPANS_PER_TRACE:  # a marker's bytes turned up elsewhere: unlikely
            raise RuntimeError("trace id marker is not unique in the encoded request")
        offsets.append(found)
    return encoded, offsets


def flood(endpoint: str, rate: float, seconds: float, run_id: str, threads: int) -> dict[str, Any]:
    """Send ``rate`` spans/s for ``seconds``; count what the collector accepted or refused."""
    target = endpoint.split("://", 1)[-1]
    interval = SPANS_PER_REQUEST * threads / rate  # seconds between one thread's sends
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    started = time.monotonic()
    end = started + seconds

    def sender(index: int) -> None:
        encoded, offsets = _template(run_id)
        with grpc.insecure_channel(target) as channel:
            export = channel.unary_unary(_EXPORT)
            due = started + index * interval / threads
            while (now := time.monotonic()) < end:
                if due > now:
                    time.sleep(due - now)
                due = max(due + interval, time.monotonic() - interval)  # no catch-up bursts
                fresh = os.urandom(16 * len(offsets))
                for trace, places in enumerate(offsets):
                    trace_id = fresh[16 * trace : 16 * trace + 16]
                    for at in places:
                        encoded[at : at + 16] = trace_id
                try:
                    export(bytes(encoded), timeout=10)
                    outcome = "accepted"
                except grpc.RpcError as exc:
                    outcome = exc.code().name  # type: ignore[attr-defined]
                with lock:
                    outcomes[outcome] += SPANS_PER_REQUEST

    workers = [threading.Thread(target=sender, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(seconds + 30)
    elapsed = time.monotonic() - started
    offered = sum(outcomes.values())
    return {
        "spans": offered,
        "seconds": round(elapsed, 2),
        "spans_per_s": round(offered / elapsed, 1),
        "accepted": outcomes.pop("accepted", 0),
        "refused": dict(outcomes),
    }


def main() -> None:
    parser = load_arguments(__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(flood(args.endpoint, args.rate, args.seconds, args.run_id, args.threads)))


if __name__ == "__main__":
    main()
