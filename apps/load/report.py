"""Turn a load run into per-endpoint percentiles, throughput and SLO verdicts.

The SLO of an endpoint is the PRD category its route falls in under the same
targets file the grading processor uses (``processors/targets.yaml`` unless
told otherwise): an endpoint meets it when its p95 is within the category's
target and its error rate within the category's error-rate objective.
Compliance is the share of requests answered, without a 5xx, within target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from apps.load.runner import NO_ANSWER, EndpointSamples, LoadResult
from processors.classify import Classifier
from processors.targets import Targets

__all__ = ["build_report", "percentile", "render_text"]

QUANTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0))


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of ascending ``ordered``: the smallest value with at
    least ``p`` % of the values at or below it (an observed value, never interpolated)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _distribution_ms(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    if not ordered:
        return {name: None for name in ("mean", *(q for q, _ in QUANTILES), "max")}
    figures = {"mean": sum(ordered) / len(ordered)}
    figures.update({name: percentile(ordered, p) for name, p in QUANTILES})
    figures["max"] = ordered[-1]
    return {name: round(value * 1000, 3) for name, value in figures.items()}


def _slo(
    samples: EndpointSamples, p95_ms: float | None, classifier: Classifier, targets: Targets
) -> dict[str, Any]:
    name = classifier.route_category(samples.endpoint.route)
    category = targets.categories.get(name) if name else None
    if category is None or category.kind != "latency" or p95_ms is None:
        return {"category": name, "graded": False, "met": True, "violations": []}
    target_s = category.target / 1000
    within = sum(
        1
        for latency, failed in zip(samples.latencies, samples.failed, strict=True)
        if not failed and latency <= target_s
    )
    error_rate = 100 * samples.errors / samples.count
    violations = []
    if p95_ms > category.target:
        violations.append(f"p95 {p95_ms:.1f} ms > target {category.target:g} ms")
    if category.error_rate is not None and error_rate > category.error_rate:
        violations.append(f"error rate {error_rate:.2f}% > objective {category.error_rate:g}%")
    return {
        "category": name,
        "graded": True,
        "target_ms": category.target,
        "error_rate_objective": category.error_rate,
        "compliance": round(100 * within / samples.count, 2),
        "met": not violations,
        "violations": violations,
    }


def build_report(result: LoadResult, targets: Targets) -> dict[str, Any]:
    """The JSON report of ``result``: plan, totals and one entry per endpoint."""
    plan = result.plan
    classifier = Classifier(targets)
    elapsed = max(result.elapsed_s, 1e-9)
    endpoints = []
    for samples in result.samples.values():
        latency = _distribution_ms(samples.latencies)
        endpoints.append(
            {
                "endpoint": samples.endpoint.name,
                "requests": samples.count,
                "errors": samples.errors,
                "error_rate": round(100 * samples.errors / samples.count, 3)
                if samples.count
                else 0.0,
                "statuses": {
                    ("no_answer" if s == NO_ANSWER else str(s)): n
                    for s, n in sorted(samples.statuses.items())
                },
                "failures": dict(samples.failures),
                "throughput_rps": round(samples.count / elapsed, 2),
                "latency_ms": latency,
                "service_time_ms": _distribution_ms(samples.service_times),
                "slo": _slo(samples, latency["p95"], classifier, targets),
            }
        )
    requests = sum(e["requests"] for e in endpoints)
    return {
        "base_url": plan.base_url,
        "started_at": datetime.fromtimestamp(result.started_at, UTC).isoformat(),
        "elapsed_s": round(result.elapsed_s, 3),
        "mode": "open" if plan.open_loop else "closed",
        "concurrency": plan.concurrency,
        "rate": plan.rate,
        "max_start_lag_ms": round(result.max_start_lag_s * 1000, 3),
        "targets": targets.source,
        "totals": {
            "requests": requests,
            "errors": sum(e["errors"] for e in endpoints),
            "throughput_rps": round(requests / elapsed, 2),
            "latency_ms": _distribution_ms(
                [x for s in result.samples.values() for x in s.latencies]
            ),
        },
        "endpoints": endpoints,
        "slo_met": all(e["slo"]["met"] for e in endpoints),
    }


def render_text(report: dict[str, Any]) -> str:
    """A table of the report for a terminal."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    header = (
        f"{'endpoint':<32} {'reqs':>7} {'err%':>6} {'req/s':>8} {'p50':>8} {'p95':>8} "
        f"{'p99':>8} {'max':>8}  SLO"
    )
    lines = [header, "-" * len(header)]
    for e in report["endpoints"]:
        lat, slo = e["latency_ms"], e["slo"]
        if slo["graded"]:
            verdict = "met" if slo["met"] else "VIOLATED: " + "; ".join(slo["violations"])
            slo_text = (
                f"{slo['category']} ≤{slo['target_ms']:g} ms, {slo['compliance']:.1f}% {verdict}"
            )
        else:
            slo_text = f"{slo['category'] or 'no category'} (not graded)"
        lines.append(
            f"{e['endpoint'][:32]:<32} {e['requests']:>7} {e['error_rate']:>6.2f} "
            f"{e['throughput_rps']:>8.1f} {ms(lat['p50']):>8} {ms(lat['p95']):>8} "
            f"{ms(lat['p99']):>8} {ms(lat['max']):>8}  {slo_text}"
        )
    totals = report["totals"]
    mode = (
        f"open loop at {report['rate']:g} req/s (latency from scheduled start; "
        f"latest start {report['max_start_lag_ms']:.1f} ms behind schedule)"
        if report["mode"] == "open"
        else f"closed loop, {report['concurrency']} concurrent callers"
    )
    lines.append("-" * len(header))
    lines.append(
        f"{totals['requests']} requests, {totals['errors']} errors, "
        f"{totals['throughput_rps']:.1f} req/s in {report['elapsed_s']:.1f} s; {mode}"
    )
    lines.append("SLOs met" if report["slo_met"] else "SLO VIOLATED")
    return "\n".join(lines)
