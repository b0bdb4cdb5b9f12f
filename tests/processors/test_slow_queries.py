"""Slow database spans become sanitised JSON lines in a rotating file, off the span path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.trace import SpanKind

from processors.slow_queries import SlowQueryConfigError, SlowQueryProcessor
from tests.processors.spans import span


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def processor(tmp_path: Path):  # type: ignore[no-untyped-def]
    reader = InMemoryMetricReader()
    processor = SlowQueryProcessor(
        tmp_path / "slow.jsonl",
        slow_s=0.1,
        critical_s=0.5,
        meter=MeterProvider(metric_readers=[reader]).get_meter("t"),
    )
    processor.reader = reader  # type: ignore[attr-defined]
    yield processor
    processor.shutdown()


def test_only_slow_database_spans_are_logged_with_old_and_new_attribute_names(processor) -> None:  # type: ignore[no-untyped-def]
    processor.on_end(span(50, kind=SpanKind.CLIENT, db__system="postgresql"))  # fast
    processor.on_end(span(300, name="render"))  # slow, not a database span
    processor.on_end(
        span(
            200,
            kind=SpanKind.CLIENT,
            db__system="postgresql",
            db__sql__table="users",
            db__operation="SELECT",
            db__statement="SELECT * FROM users WHERE email = 'ann@example.com' AND pin = 1234",
        )
    )
    processor.on_end(
        span(
            700,
            kind=SpanKind.CLIENT,
            db__system__name="mysql",
            db__collection__name="orders",
            db__operation__name="UPDATE",
            db__query__text="UPDATE orders SET token = 'tok_abcdef' WHERE id = 9",
            db__response__returned_rows=3,
        )
    )
    processor.flush()
    slow, critical = _lines(processor.log_file)
    assert (slow["db_system"], slow["collection"], slow["operation"], slow["threshold_type"]) == (
        "postgresql",
        "users",
        "SELECT",
        "slow",
    )
    assert slow["statement"] == "SELECT * FROM users WHERE email = ? AND pin = ?"
    assert slow["duration_seconds"] == pytest.approx(0.2)
    assert (
        critical["db_system"],
        critical["collection"],
        critical["threshold_type"],
        critical["result_count"],
    ) == ("mysql", "orders", "critical", 3)
    assert "tok_abcdef" not in processor.log_file.read_text()
    assert len(slow["trace_id"]) == 32 and len(slow["span_id"]) == 16


def test_counter_summary_and_critical_callbacks(processor) -> None:  # type: ignore[no-untyped-def]
    seen: list[dict] = []
    processor.on_critical(seen.append)
    processor.on_critical(lambda record: 1 / 0)  # a broken callback is logged, not fatal
    for ms in (150, 160, 900, 2000):
        processor.on_end(span(ms, db__system="redis", db__operation="GET"))
    summary = processor.summary()
    assert summary["count"] == 4
    assert summary["by_severity"] == {"slow": 2, "critical": 2}
    assert [w["duration_seconds"] for w in summary["slowest"]] == pytest.approx(
        [2.0, 0.9, 0.16, 0.15]
    )
    assert [r["duration_seconds"] for r in seen] == pytest.approx([0.9, 2.0])
    points = {
        p.attributes["severity"]: p.value
        for rm in processor.reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        for p in m.data.data_points
    }
    assert points == {"slow": 2, "critical": 2}


def test_file_rotates(tmp_path: Path) -> None:
    processor = SlowQueryProcessor(
        tmp_path / "slow.jsonl", slow_s=0.001, critical_s=1.0, max_bytes=2_000, backups=2
    )
    for _ in range(60):
        processor.on_end(span(5, db__system="sqlite", db__statement="SELECT 1"))
    processor.shutdown()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["slow.jsonl", "slow.jsonl.1", "slow.jsonl.2"]
    assert all(p.stat().st_size <= 2_000 for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    ("slow", "critical", "message"),
    [
        (0, 5, "slow_s=0"),
        (1, 99999, "critical_s=99999"),
        (2, 1, "must be above slow_s"),
    ],
)
def test_bad_thresholds_are_named(
    tmp_path: Path, slow: float, critical: float, message: str
) -> None:
    with pytest.raises(SlowQueryConfigError, match=message):
        SlowQueryProcessor(tmp_path / "x.jsonl", slow_s=slow, critical_s=critical)
