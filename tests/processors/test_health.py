"""The health-score curve, letter grades and severity bands of reference 000."""

from __future__ import annotations

import pytest

from processors.health import health_score, latency_score, letter, route_severity


@pytest.mark.parametrize(
    ("p95", "score"),
    [
        (50, 100),
        (100, 100),
        (300, 85),
        (500, 70),
        (750, 50),
        (1000, 30),
        (2000, 15),
        (10_000, 3),
    ],
)
def test_latency_curve(p95: float, score: float) -> None:
    assert latency_score(p95) == pytest.approx(score)


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (100, "A+"),
        (95, "A+"),
        (94.9, "A"),
        (90, "A"),
        (85, "B+"),
        (80, "B"),
        (75, "C+"),
        (70, "C"),
        (69.9, "D"),
        (60, "D"),
        (59.9, "F"),
        (0, "F"),
    ],
)
def test_letters(score: float, grade: str) -> None:
    assert letter(score) == grade


@pytest.mark.parametrize(
    ("p95", "band"),
    [
        (99, "good"),
        (100, "warning"),
        (499, "warning"),
        (500, "slow"),
        (1000, "slow"),
        (1001, "critical"),
    ],
)
def test_route_severity_bands(p95: float, band: str) -> None:
    assert route_severity(p95) == band


def test_missing_parts_are_left_out_and_the_rest_reweighted() -> None:
    without_cache = health_score(p95_ms=50, hit_rate=None, error_rate=10.0)
    assert without_cache.score == pytest.approx((0.4 * 100 + 0.3 * 90) / 0.7, abs=0.05)
    assert without_cache.cache is None
    assert health_score(None, None, None).score is None
