"""Grades, compliance, health score and alert states as OTel metrics, so they reach Prometheus.

Observable instruments read the grading state on the metric reader's thread
(never on the span path), over :data:`GAUGE_WINDOW`. Through Prometheus:

| instrument | Prometheus series |
|---|---|
| ``otelpipe.prd.grade{category}`` (A=4 … F=0) | ``otelpipe_prd_grade`` |
| ``otelpipe.prd.overall_grade`` | ``otelpipe_prd_overall_grade`` |
| ``otelpipe.prd.compliance{category}`` (%) | ``otelpipe_prd_compliance_percent`` |
| ``otelpipe.prd.latency.p95{category}`` (ms) | ``otelpipe_prd_latency_p95_milliseconds`` |
| ``otelpipe.prd.hit_rate{category}`` (%) | ``otelpipe_prd_hit_rate_percent`` |
| ``otelpipe.health.score`` (0-100) | ``otelpipe_health_score`` |
| ``otelpipe.alerts.active{category, severity}`` (1 while active) | ``otelpipe_alerts_active`` |

Spans that never reach grading (the off-thread queue was full) are counted
where every dropped span is: ``otel_sdk_processor_span_processed_total``
with ``error_type="queue_full"``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from processors.alerts import Alert
from processors.grading import CategoryReport, GradingProcessor, grade_points, overall_grade

__all__ = ["GAUGE_WINDOW", "register_metrics"]

GAUGE_WINDOW = "5m"


class _Snapshot:
    """The grading state over :data:`GAUGE_WINDOW`, read once per metric collection.

    One collection calls every gauge's callback within milliseconds; they share
    one read (one drain, one merge of the windows) instead of one each.
    """

    __slots__ = ("_at", "_grading", "_max_age_s", "_value")

    def __init__(self, grading: GradingProcessor, max_age_s: float = 1.0) -> None:
        self._grading = grading
        self._at = -max_age_s
        self._value: tuple[list[CategoryReport], float | None, list[Alert]] = ([], None, [])
        self._max_age_s = max_age_s

    def __call__(self) -> tuple[list[CategoryReport], float | None, list[Alert]]:
        if time.monotonic() - self._at >= self._max_age_s:
            self._value = self._grading.read(
                lambda s, now: (
                    s.categories(GAUGE_WINDOW, now),
                    s.health(GAUGE_WINDOW, now).score,
                    list(s.alerts.active.values()),
                )
            )
            self._at = time.monotonic()
        return self._value


def register_metrics(meter: Meter, grading: GradingProcessor) -> None:
    """Create the observable instruments of ``grading`` on ``meter``."""
    snapshot = _Snapshot(grading)

    def grade(_options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(grade_points(r.grade), {"category": r.category}) for r in snapshot()[0]]

    def compliance(_options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(r.compliance, {"category": r.category}) for r in snapshot()[0]]

    def latency(_options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(r.value, {"category": r.category})
            for r in snapshot()[0]
            if r.kind == "latency"
        ]

    def hit_rate(_options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(r.value, {"category": r.category})
            for r in snapshot()[0]
            if r.kind == "hit_rate"
        ]

    def overall(_options: CallbackOptions) -> Iterable[Observation]:
        letter = overall_grade(snapshot()[0])
        return [] if letter is None else [Observation(grade_points(letter))]

    def health(_options: CallbackOptions) -> Iterable[Observation]:
        score = snapshot()[1]
        return [] if score is None else [Observation(score)]

    def alerts(_options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(1, {"category": a.category, "severity": a.severity}) for a in snapshot()[2]
        ]

    meter.create_observable_gauge(
        "otelpipe.prd.grade",
        [grade],
        unit="{grade}",
        description="PRD grade per category, A=4 … F=0.",
    )
    meter.create_observable_gauge(
        "otelpipe.prd.overall_grade",
        [overall],
        unit="{grade}",
        description="Overall PRD grade, A=4 … F=0.",
    )
    meter.create_observable_gauge(
        "otelpipe.prd.compliance",
        [compliance],
        unit="%",
        description="Share of operations meeting the PRD target.",
    )
    meter.create_observable_gauge(
        "otelpipe.prd.latency.p95",
        [latency],
        unit="ms",
        description="p95 latency per latency-graded category.",
    )
    meter.create_observable_gauge(
        "otelpipe.prd.hit_rate", [hit_rate], unit="%", description="Cache hit rate per cache tier."
    )
    meter.create_observable_gauge(
        "otelpipe.health.score",
        [health],
        unit="{score}",
        description="Performance health score, 0-100.",
    )
    meter.create_observable_gauge(
        "otelpipe.alerts.active",
        [alerts],
        unit="{alert}",
        description="1 for each active PRD alert.",
    )
