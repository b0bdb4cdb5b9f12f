"""OffThreadSpanProcessor: the request thread queues, the worker runs the processors."""

from __future__ import annotations

import logging
import os
import threading

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from otel_setup.health import Tally, TallyingMeterProvider, export_counts
from processors.off_thread import OffThreadSpanProcessor


class Recorder(SpanProcessor):
    """Remembers the spans it is given, and on which thread."""

    def __init__(self, log: list[tuple[str, str, str]], name: str = "recorder") -> None:
        self.log, self.name = log, name
        self.shut_down = False
        self.seen = threading.Event()

    def on_end(self, span: ReadableSpan) -> None:
        self.log.append((self.name, span.name, threading.current_thread().name))
        self.seen.set()

    def shutdown(self) -> None:
        self.shut_down = True


class Failing(SpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("broken processor")


def _provider(processor: OffThreadSpanProcessor) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider


def _end(provider: TracerProvider, *names: str) -> None:
    tracer = provider.get_tracer("test")
    for name in names:
        tracer.start_span(name).end()


def test_the_worker_hands_each_span_to_every_processor_in_order() -> None:
    log: list[tuple[str, str, str]] = []
    first, second = Recorder(log, "first"), Recorder(log, "second")
    off_thread = OffThreadSpanProcessor([first, second], batch_size=2, interval_s=60)
    provider = _provider(off_thread)
    _end(provider, "a", "b")  # the second span fills a batch and wakes the worker
    assert second.seen.wait(5), "the worker did not run"
    provider.shutdown()
    assert [(who, span) for who, span, _ in log] == [
        ("first", "a"),
        ("second", "a"),
        ("first", "b"),
        ("second", "b"),
    ]
    assert {thread for _, _, thread in log} == {"otelpipe-off-thread-spans"}


def test_the_worker_also_runs_when_the_interval_is_up() -> None:
    log: list[tuple[str, str, str]] = []
    recorder = Recorder(log)
    provider = _provider(OffThreadSpanProcessor([recorder], batch_size=100, interval_s=0.05))
    _end(provider, "lonely")
    assert recorder.seen.wait(5)
    provider.shutdown()


def test_a_full_queue_drops_further_spans_and_counts_them_as_the_sdk_does() -> None:
    health = TallyingMeterProvider(Tally(), None)
    log: list[tuple[str, str, str]] = []
    off_thread = OffThreadSpanProcessor(
        [Recorder(log)], max_queue_size=3, interval_s=3600, meter_provider=health
    )
    provider = _provider(off_thread)
    _end(provider, "1", "2", "3", "4", "5")
    counts = export_counts(health.tally, "traces")
    assert (off_thread.dropped, counts.dropped_queue_full, counts.unsent) == (2, 2, 3)
    assert off_thread.force_flush()
    assert [span for _, span, _ in log] == ["1", "2", "3"]
    assert export_counts(health.tally, "traces").unsent == 0
    provider.shutdown()


def test_a_failing_processor_starves_no_other_and_never_reaches_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[tuple[str, str, str]] = []
    off_thread = OffThreadSpanProcessor([Failing(), Recorder(log)], interval_s=3600)
    provider = _provider(off_thread)
    _end(provider, "x", "y")
    with caplog.at_level(logging.WARNING, "processors.off_thread"):
        off_thread.force_flush()
    assert [span for _, span, _ in log] == ["x", "y"]
    assert "Failing failed on 2 spans" in caplog.text
    provider.shutdown()


def test_shutdown_hands_over_what_is_queued_then_shuts_the_processors_down() -> None:
    log: list[tuple[str, str, str]] = []
    first = Recorder(log)
    off_thread = OffThreadSpanProcessor([first], interval_s=3600)
    later = Recorder(log, "later")
    off_thread.add_span_processor(later)
    provider = _provider(off_thread)
    _end(provider, "last")
    provider.shutdown()
    assert [(who, span) for who, span, _ in log] == [("recorder", "last"), ("later", "last")]
    assert first.shut_down and later.shut_down


@pytest.mark.parametrize(
    ("option", "value"), [("max_queue_size", 0), ("batch_size", -1), ("interval_s", 0)]
)
def test_sizes_and_interval_must_be_positive(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{option}={value}"):
        OffThreadSpanProcessor(**{option: value})  # type: ignore[arg-type]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_worker_of_its_own() -> None:
    log: list[tuple[str, str, str]] = []
    recorder = Recorder(log)
    provider = _provider(OffThreadSpanProcessor([recorder], batch_size=1, interval_s=3600))
    pid = os.fork()
    if pid == 0:  # the child: only a worker can hand the span over (no flush, no interval)
        _end(provider, "in the child")
        os._exit(0 if recorder.seen.wait(5) and log[-1][1] == "in the child" else 1)
    _, status = os.waitpid(pid, 0)
    provider.shutdown()
    assert os.waitstatus_to_exitcode(status) == 0
