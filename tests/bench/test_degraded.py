"""The degraded-collector section judges the degraded gateways; the healthy ones measure the run."""

from __future__ import annotations

from typing import Any

from bench import degraded, report


def _variant(answered: int, p99_ratio: float | None = 1.0, lag_ms: float = 5.0) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "p50_ms": 10.0,
        "p99_ms": 20.0,
        "rounds_p99_ms": [20.0],
        "requests": 1000,
        "answered": answered,
        "load_max_start_lag_ms": lag_ms,
    }
    if p99_ratio is not None:
        figures |= {"baseline_p99_ms": 20.0, "p99_ratio": p99_ratio}
    return figures


def _section(variants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "baseline": degraded.BASELINE,
        "load": {
            "tool": "load",
            "path": degraded.PATH,
            "requests_per_s": 100,
            "rounds": 1,
            "seconds_per_round": 10,
        },
        "variants": variants,
        "noise_floor_p99_ratio": variants[degraded.CONTROL]["p99_ratio"],
        "goals": degraded.goals(variants),
    }


def test_requests_a_stall_cost_the_healthy_gateway_are_not_held_against_the_outage() -> None:
    section = _section(
        {
            degraded.BASELINE: _variant(995, p99_ratio=None, lag_ms=2436.3),
            degraded.CONTROL: _variant(1000),
            "dead": _variant(1000, p99_ratio=0.6),
            "black_hole": _variant(1000, p99_ratio=0.4),
        }
    )
    assert section["goals"] == {
        "p99_within_10pct_of_healthy": True,
        "every_request_answered": True,
    }
    text = "\n".join(report._degraded(section))
    assert f"unanswered by the healthy gateways too ({degraded.BASELINE} 5 of 1000)" in text
    assert "at most 2436.3 ms behind its schedule" in text


def test_a_degraded_gateway_that_loses_requests_or_slows_misses_its_goals() -> None:
    variants = {
        degraded.BASELINE: _variant(1000, p99_ratio=None),
        degraded.CONTROL: _variant(1000),
        "dead": _variant(1000, p99_ratio=1.5),
        "black_hole": _variant(999, p99_ratio=1.0),
    }
    assert degraded.goals(variants) == {
        "p99_within_10pct_of_healthy": False,
        "every_request_answered": False,
    }
    text = "\n".join(report._degraded(_section(variants)))
    assert "the healthy gateways answered every request" in text
