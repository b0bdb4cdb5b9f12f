"""``otelpipe bench`` in its tiny profile: every measurement runs and the report is whole.

Performance is never asserted here, only that each figure is reported with its
baseline beside it. The run starts its own throw-away stack: if a backend
cannot start, the test fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.run import PROFILES, run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    results = tmp_path_factory.mktemp("bench-results")
    return run(PROFILES["tiny"], lambda _message: None, results), results


def test_report_has_every_section_and_is_written(report: tuple[dict, Path]) -> None:
    figures, results = report
    sections = {"machine", "per_request", "degraded_collector", "per_span", "pipeline", "memory"}
    assert sections <= figures.keys()
    assert json.loads((results / "latest.json").read_text()) == json.loads(json.dumps(figures))
    markdown = (results / "latest.md").read_text()
    headings = (
        "## Per request",
        "## Degraded collector",
        "## Per span",
        "## Pipeline",
        "## Memory",
    )
    for heading in headings:
        assert heading in markdown
    assert "| backends µs | added | request thread preempted /1,000 requests |" in markdown
    assert figures["machine"]["cores"] >= 1


def test_per_request_figures_stand_beside_the_bare_baseline(report: tuple[dict, Path]) -> None:
    routes = report[0]["per_request"]["routes"]
    assert set(routes) == {"trivial", "realistic"}
    # Ours without span export, and ours exporting to the sink, run on the trivial route only.
    ablations = {"ours_no_span_export", "ours_to_sink"}
    assert set(routes["trivial"]["modes"]) == {"bare", "stock", "ours", *ablations}
    assert set(routes["realistic"]["modes"]) == {"bare", "stock", "ours"}
    for name in ablations:
        ablation = routes["trivial"]["modes"][name]
        assert ablation["leaves_out"]
        assert ablation["us_saved_per_request"] == round(
            ablation["ours_us_added_per_request"] - ablation["us_added_per_request"], 1
        )
    for route in routes.values():
        for figures in route["modes"].values():
            assert figures["requests_per_s"] > 0
            assert figures["baseline_requests_per_s"] == route["modes"]["bare"]["requests_per_s"]
            assert {
                "ratio_to_bare",
                "us_added_per_request",
                "spread_requests_per_s",
            } <= figures.keys()
        assert "times_cheaper_than_stock" in route["modes"]["ours"]
        for mode, figures in route["modes"].items():
            cpu = figures["cpu_us_per_request"]
            assert cpu["request_thread"] > 0, f"{mode}: no CPU read for the request thread"
            # The backends' CPU is read with every round (their batches may land
            # in a later round than the spans', so no variant is sure to show any).
            assert cpu["backends"] >= 0, f"{mode}: no CPU read for the backends"
            assert figures["request_thread_preempted_per_1000_requests"] >= 0
        # Only instrumented variants export from threads of their own.
        assert route["modes"]["ours"]["cpu_us_per_request"]["other_threads"] > 0


def test_degraded_collector_latency_stands_beside_the_healthy_one(
    report: tuple[dict, Path],
) -> None:
    section = report[0]["degraded_collector"]
    variants = section["variants"]
    assert set(variants) == {"healthy", "healthy_control", "dead", "black_hole"}
    healthy = variants["healthy"]
    assert healthy["requests"] > 0 and healthy["p99_ms"] > 0
    # The control's ratio is the run's noise floor, reported beside the goal.
    assert section["noise_floor_p99_ratio"] == variants["healthy_control"]["p99_ratio"]
    for variant in ("healthy_control", "dead", "black_hole"):
        figures = variants[variant]
        assert figures["requests"] > 0
        assert figures["baseline_p99_ms"] == healthy["p99_ms"]
        assert figures["p99_ratio"] == pytest.approx(figures["p99_ms"] / healthy["p99_ms"], 0.01)
    assert section["goals"]


def test_per_span_pipeline_and_memory_have_baselines(report: tuple[dict, Path]) -> None:
    figures = report[0]
    variants = figures["per_span"]["variants"]
    assert {
        "sdk+export",
        "off_thread+export",
        "off_thread+export+slow_queries",
        "off_thread+export+grading",
        "off_thread+export+both",
        "lean_span+off_thread+export+both",
    } <= variants.keys()
    worker = figures["per_span"]["worker_us_per_span"]
    assert set(worker) == {"hand-off", "slow_queries", "grading", "both"}
    assert all(us > 0 for us in worker.values())
    assert all("baseline_us_per_span" in v and "added_us" in v for v in variants.values())
    assert all(v["process"]["us_per_span"] >= v["us_per_span"] for v in variants.values())
    pipeline = figures["pipeline"]
    assert pipeline["baseline_spans_per_s"] > 0
    step = pipeline["steps"][0]
    assert step["jaeger_spans"] + step["jaeger_missing"] - step["jaeger_extra"] == step["spans"] > 0
    soak, processors = figures["memory"]["soak"], figures["memory"]["processors"]
    assert soak["baseline_rss_mb"] > 0 and soak["end_rss_mb"] > 0
    assert "baseline_mb" in processors and processors["routes_tracked"] > 0
    for section in ("per_request", "degraded_collector", "per_span", "pipeline"):
        assert figures[section]["goals"], f"{section} states its goals"
