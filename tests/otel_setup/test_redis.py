"""Redis commands and pipelines become client spans, against a real redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, StatusCode, TraceFlags

from otelpipe.stack.build import find_debian_tools
from otelpipe.stack.components import redis_pong
from otelpipe.stack.ephemeral import free_port, free_ports
from tests.support import metric_points


@contextlib.contextmanager
def _redis_server(directory: Path, port: int, *options: str) -> Iterator[None]:
    """A throw-away redis-server on ``port``; the test fails if it does not answer."""
    log = directory / "redis.log"
    server = subprocess.Popen(
        [
            str(find_debian_tools()["redis-server"]),
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)),
            *("--save", "", "--appendonly", "no", "--logfile", str(log)),
            *options,
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while not redis_pong("127.0.0.1", port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {port}: {log.read_text()}")
            time.sleep(0.05)
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    with _redis_server(tmp_path_factory.mktemp("redis"), port):
        yield port


@pytest.fixture(scope="module")
def cluster_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A one-node Redis cluster holding every slot."""
    directory = tmp_path_factory.mktemp("redis-cluster")
    # The bus port defaults to the port + 10000, which a free port may not allow.
    port, bus = free_ports(2)
    with _redis_server(directory, port, "--cluster-enabled", "yes", "--cluster-port", str(bus)):
        node = redis.Redis(port=port)
        node.execute_command("CLUSTER ADDSLOTSRANGE", 0, 16383)
        deadline = time.monotonic() + 10
        while node.cluster("info")["cluster_state"] != "ok":
            assert time.monotonic() < deadline, "the one-node cluster never reached state ok"
            time.sleep(0.1)
        node.close()
        yield port


_OWN = ("db.system", "db.statement", "db.redis.args_length", "otelpipe.category")


def _redis_spans(spans):
    return [s for s in spans.get_finished_spans() if s.instrumentation_scope.name.endswith("redis")]


def _cache_counts(global_metrics) -> dict[str, int]:
    return {
        p.attributes["cache.result"]: p.value
        for p in metric_points(global_metrics, "otelpipe.cache.requests")
        if p.attributes.get("cache.tier") == "L3"
    }


def test_commands_are_client_spans_without_their_arguments(
    instrument, redis_port, global_metrics
) -> None:
    _, spans = instrument(redis_cache_tier="L3")
    before = _cache_counts(global_metrics)
    client = redis.Redis(port=redis_port)
    client.set("user:42", "hunter2-secret")
    assert client.get("user:42") == b"hunter2-secret"
    assert client.get("user:43") is None

    set_, hit, miss = _redis_spans(spans)
    assert [set_.name, hit.name, miss.name] == ["SET", "GET", "GET"]
    assert set_.kind is trace.SpanKind.CLIENT
    attributes = dict(set_.attributes)
    # The peer's names follow OTEL_SEMCONV_STABILITY_OPT_IN, decided once per process.
    assert attributes.get("server.port", attributes.get("net.peer.port")) == redis_port
    assert {key: attributes.get(key) for key in _OWN} == {
        "db.system": "redis",
        "db.statement": "SET ? ?",
        "db.redis.args_length": 3,
        "otelpipe.category": "database",
    }
    assert hit.attributes["db.statement"] == "GET ?"
    assert (hit.attributes["otelpipe.category"], hit.attributes["cache.tier"]) == ("cache", "L3")
    assert (hit.attributes["cache.hit"], miss.attributes["cache.hit"]) == (True, False)
    assert "hunter2" not in repr([dict(s.attributes) for s in (set_, hit, miss)])
    after = _cache_counts(global_metrics)
    assert after.get("hit", 0) - before.get("hit", 0) == 1
    assert after.get("miss", 0) - before.get("miss", 0) == 1


def test_async_commands_and_pipelines_are_children_of_the_current_span(
    instrument, redis_port
) -> None:
    telemetry, spans = instrument()
    tracer = telemetry.providers.tracer_provider.get_tracer("test")

    async def work() -> list[object]:
        client = redis.asyncio.Redis(port=redis_port)
        try:
            with tracer.start_as_current_span("handler"):
                await client.set("n", 1)
                async with client.pipeline(transaction=True) as pipe:
                    return await pipe.incr("n").get("n").execute()
        finally:
            await client.aclose()

    assert asyncio.run(work()) == [2, b"2"]
    (handler,) = [s for s in spans.get_finished_spans() if s.name == "handler"]
    set_, pipeline = _redis_spans(spans)
    assert set_.name == "SET"
    assert pipeline.name == "INCRBY GET"  # redis-py sends INCR as INCRBY
    assert pipeline.attributes["db.statement"] == "INCRBY ? ?\nGET ?"
    assert pipeline.attributes["db.redis.pipeline_length"] == 2
    assert pipeline.attributes["otelpipe.category"] == "database"
    for span in (set_, pipeline):
        assert span.parent.span_id == handler.context.span_id
        assert span.context.trace_id == handler.context.trace_id


def test_a_failed_command_is_an_error_span_and_its_exception_reaches_the_caller(
    instrument, redis_port
) -> None:
    _, spans = instrument()
    with pytest.raises(redis.ResponseError, match="unknown command"):
        redis.Redis(port=redis_port).execute_command("NOSUCH", "key")
    (span,) = _redis_spans(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert "unknown command" in span.status.description
    assert [event.name for event in span.events] == ["exception"]


def test_a_watch_conflict_is_raised_but_not_an_error(instrument, redis_port) -> None:
    _, spans = instrument()
    client = redis.Redis(port=redis_port)
    with client.pipeline() as pipe:
        pipe.watch("stock")
        client.set("stock", 5)  # another client changes the watched key
        pipe.multi()
        pipe.set("stock", 4)
        with pytest.raises(redis.WatchError):
            pipe.execute()
    (span,) = [s for s in _redis_spans(spans) if "db.redis.pipeline_length" in s.attributes]
    assert span.name == "SET"
    assert span.status.status_code is StatusCode.UNSET


def test_cluster_commands_and_pipelines_are_traced(instrument, cluster_port) -> None:
    _, spans = instrument()
    cluster = redis.RedisCluster(host="127.0.0.1", port=cluster_port)
    cluster.set("a", 1)
    assert cluster.pipeline().set("b", 2).get("b").execute() == [True, b"2"]
    cluster.close()

    async def work() -> bytes | None:
        client = redis.asyncio.RedisCluster(host="127.0.0.1", port=cluster_port)
        try:
            return await client.get("a")
        finally:
            await client.aclose()

    assert asyncio.run(work()) == b"1"
    names = [s.name for s in _redis_spans(spans)]
    assert "SET" in names and "SET GET" in names and "GET" in names
    for span in _redis_spans(spans):
        assert span.attributes["db.system"] == "redis"


def test_reads_are_counted_when_their_span_is_not_sampled(
    instrument, redis_port, global_metrics
) -> None:
    _, spans = instrument(redis_cache_tier="L3")
    unsampled = NonRecordingSpan(
        SpanContext(trace_id=1, span_id=2, is_remote=True, trace_flags=TraceFlags(0))
    )
    before = _cache_counts(global_metrics).get("miss", 0)
    with trace.use_span(unsampled):
        assert redis.Redis(port=redis_port).get("never-set") is None
    assert _redis_spans(spans) == []
    assert _cache_counts(global_metrics).get("miss", 0) - before == 1


def test_clients_make_no_spans_once_telemetry_shut_down(instrument, redis_port) -> None:
    telemetry, spans = instrument()
    client = redis.Redis(port=redis_port)
    client.get("x")
    telemetry.shutdown()  # uninstruments the libraries
    client.get("x")
    redis.Redis(port=redis_port).get("x")
    assert len(_redis_spans(spans)) == 1


def test_redis_instrumented_by_contrib_already_is_left_to_it(
    instrument, redis_port, caplog
) -> None:
    from opentelemetry.instrumentation.redis import RedisInstrumentor as ContribInstrumentor

    contrib = ContribInstrumentor()
    contrib.instrument()  # as opentelemetry-instrument would, before the service's setup
    try:
        _, spans = instrument()
        redis.Redis(port=redis_port).get("x")
    finally:
        contrib.uninstrument()
    assert "redis is instrumented by opentelemetry.instrumentation.redis" in caplog.text
    # Contrib's span went to the global provider; ours would have reached this one.
    assert _redis_spans(spans) == []
