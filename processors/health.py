"""The 0-100 performance health score of reference 000, and its letter grades.

``score = 0.4 × latency + 0.3 × cache + 0.3 × errors`` where

* latency: p95 below 100 ms scores 100; 100-500 ms falls linearly to 70;
  500-1000 ms to 30; above 1 s it keeps falling as ``30 × 1000 / p95``;
* cache: the cache hit rate in %;
* errors: ``100 - error rate %``.

A part without data (no cache look-ups, say) is left out and the others are
re-weighted, so a service without a cache is not marked down for it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HealthScore", "health_score", "latency_score", "letter", "route_severity"]

_WEIGHTS = {"latency": 0.4, "cache": 0.3, "errors": 0.3}
_LETTERS = ((95, "A+"), (90, "A"), (85, "B+"), (80, "B"), (75, "C+"), (70, "C"), (60, "D"))


def latency_score(p95_ms: float) -> float:
    """The piecewise latency curve: 100 below 100 ms, 70 at 500 ms, 30 at 1 s, then 30 s/p95."""
    if p95_ms <= 100:
        return 100.0
    if p95_ms <= 500:
        return 100.0 - 30.0 * (p95_ms - 100) / 400
    if p95_ms <= 1000:
        return 70.0 - 40.0 * (p95_ms - 500) / 500
    return 30.0 * 1000 / p95_ms


def letter(score: float) -> str:
    """A+ ≥ 95, A ≥ 90, B+ ≥ 85, B ≥ 80, C+ ≥ 75, C ≥ 70, D ≥ 60, else F."""
    return next((grade for bound, grade in _LETTERS if score >= bound), "F")


def route_severity(p95_ms: float) -> str:
    """good < 100 ms ≤ warning < 500 ms ≤ slow ≤ 1000 ms < critical."""
    if p95_ms < 100:
        return "good"
    if p95_ms < 500:
        return "warning"
    return "slow" if p95_ms <= 1000 else "critical"


@dataclass(frozen=True)
class HealthScore:
    score: float | None
    grade: str | None
    latency: float | None
    cache: float | None
    errors: float | None


def health_score(
    p95_ms: float | None, hit_rate: float | None, error_rate: float | None
) -> HealthScore:
    """Combine the parts that have data; ``score`` is None when none has."""
    parts = {
        "latency": None if p95_ms is None else latency_score(p95_ms),
        "cache": hit_rate,
        "errors": None if error_rate is None else 100.0 - error_rate,
    }
    known = {name: value for name, value in parts.items() if value is not None}
    if not known:
        return HealthScore(None, None, None, None, None)
    weight = sum(_WEIGHTS[name] for name in known)
    score = sum(_WEIGHTS[name] * value for name, value in known.items()) / weight
    return HealthScore(
        round(score, 1), letter(score), parts["latency"], parts["cache"], parts["errors"]
    )
