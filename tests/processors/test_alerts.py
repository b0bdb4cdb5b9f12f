"""Alerts rise at 1.5x / 2x the target, resolve with hysteresis, and call back off the span path."""

from __future__ import annotations

import pytest

from processors.alerts import Alert, AlertBook, severity_for
from processors.grading import GradingState
from processors.targets import AlertPolicy, load_targets
from tests.processors.spans import span

TARGETS = load_targets()
AUTH = TARGETS.categories["authentication"]  # target 50 ms: warning 75, critical 100
L1 = TARGETS.categories["cache_l1"]  # 95 % hits: miss rate warning 7.5 %, critical 10 %
POLICY = AlertPolicy()


@pytest.mark.parametrize(
    ("value", "active", "expected"),
    [
        (74.0, None, None),
        (75.0, None, "warning"),
        (99.0, None, "warning"),
        (100.0, None, "critical"),
        (90.1, "critical", "critical"),  # hysteresis: stays until below 90
        (89.9, "critical", "warning"),
        (67.6, "warning", "warning"),  # stays until below 67.5
        (67.4, "warning", None),
    ],
)
def test_latency_severity_with_hysteresis(
    value: float, active: str | None, expected: str | None
) -> None:
    assert severity_for(value, AUTH, POLICY, active) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("miss_rate", "expected"), [(7.4, None), (7.5, "warning"), (10.0, "critical")]
)
def test_cache_alerts_use_the_miss_rate(miss_rate: float, expected: str | None) -> None:
    assert severity_for(miss_rate, L1, POLICY, None) == expected


def test_raise_change_and_resolve_keep_history_and_call_back() -> None:
    book = AlertBook()
    events: list[tuple[str, str, str]] = []
    book.subscribe(lambda alert, event: events.append((alert.category, alert.severity, event)))
    book.update("authentication", "warning", 80, 75, "slow", now=1)
    book.update("authentication", "warning", 82, 75, "slow", now=2)  # no change: no event
    book.update("authentication", "critical", 120, 100, "slower", now=3)
    book.update("authentication", None, 40, 75, "fine", now=4)
    assert events == [
        ("authentication", "warning", "raised"),
        ("authentication", "warning", "resolved"),
        ("authentication", "critical", "raised"),
        ("authentication", "critical", "resolved"),
    ]
    assert book.active == {}
    assert [(a.severity, a.raised_at, a.resolved_at) for a in book.history] == [
        ("warning", 1, 3),
        ("critical", 3, 4),
    ]


def test_a_failing_callback_does_not_stop_the_others() -> None:
    book = AlertBook()
    seen: list[Alert] = []
    book.subscribe(lambda alert, event: 1 / 0)
    book.subscribe(lambda alert, event: seen.append(alert))
    book.update("database", "critical", 60, 50, "slow", now=1)
    assert len(seen) == 1


def test_grading_state_raises_then_resolves_as_the_window_moves_on() -> None:
    state = GradingState(TARGETS)
    t = 100_000.0
    for _ in range(30):
        state.record(span(120.0, end_s=t, otelpipe__category="authentication"))
    state.evaluate_alerts(t)
    alert = state.alerts.active["authentication"]
    assert (alert.severity, alert.threshold) == ("critical", 100.0)
    assert "p95 latency 120.0ms" in alert.message
    later = t + 400  # the 5 m window has forgotten the slow spans
    for _ in range(30):
        state.record(span(20.0, end_s=later, otelpipe__category="authentication"))
    state.evaluate_alerts(later)
    assert "authentication" not in state.alerts.active
    assert state.alerts.history[0].resolved_at == later


def test_too_few_operations_raise_nothing() -> None:
    state = GradingState(TARGETS)
    for _ in range(POLICY.min_count - 1):
        state.record(span(500.0, end_s=5_000.0, otelpipe__category="authentication"))
    state.evaluate_alerts(5_000.0)
    assert state.alerts.active == {}
