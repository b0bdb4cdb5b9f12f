"""The benchmark report: ``bench/results/latest.json`` and a markdown rendering of it."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from bench import degraded

__all__ = ["RESULTS", "machine", "markdown", "write"]

RESULTS = Path(__file__).with_name("results")


def machine() -> dict[str, Any]:
    """What the figures depend on: CPU, cores, memory, Python, OS — and the load on the box."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or platform.machine(),
    )
    total_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(total_kb / 1024**2, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _yes(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _goals(section: dict[str, Any]) -> list[str]:
    return [f"- {name.replace('_', ' ')}: {_yes(ok)}" for name, ok in section["goals"].items()]


def _per_request(section: dict[str, Any]) -> list[str]:
    load = section["load"]
    lines = [
        "## Per request (baseline: bare gateway)",
        "",
        f"{load['tool']}, {load['connections']} connections, {load['rounds']} alternating "
        f"rounds of {load['seconds_per_round']} s per variant; {load['server']}; "
        f"sampling {load['sampling']}. Median round; spread is min to max.",
        "",
        "| route | variant | req/s | bare req/s | × bare | µs added/request | spread req/s "
        "| p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, route in section["routes"].items():
        for mode, f in route["modes"].items():
            low, high = f["spread_requests_per_s"]
            lines.append(
                f"| {name} `{route['path']}` | {mode} | {f['requests_per_s']} "
                f"| {f['baseline_requests_per_s']} | {f['ratio_to_bare']} "
                f"| {f['us_added_per_request']} | {low} to {high} | {f['p50_ms']} "
                f"| {f['p99_ms']} | {f['errors']} |"
            )
        ours = route["modes"]["ours"]
        lines.append(
            f"| {name} | ours vs stock | | | | {ours['times_cheaper_than_stock']}× cheaper "
            f"(stock adds {ours['stock_us_added_per_request']} µs) | | | | |"
        )
    return [*lines, "", *_goals(section), *_ablations(section), "", *_cpu_split(section)]


def _ablations(section: dict[str, Any]) -> list[str]:
    """One line per variant of ours with a part left out: what that part costs."""
    return [
        f"- {mode.replace('_', ' ')} ({name}): {f['ratio_to_bare']}× bare, "
        f"{f['us_added_per_request']} µs added against ours' {f['ours_us_added_per_request']}: "
        f"{f['leaves_out']} costs ours {f['us_saved_per_request']} µs per request"
        for name, route in section["routes"].items()
        for mode, f in route["modes"].items()
        if "us_saved_per_request" in f
    ]


def _cpu_split(section: dict[str, Any]) -> list[str]:
    lines = [
        "Where the time goes: CPU µs per request of the service's threads, median round "
        "(read from /proc); added = beyond bare. The other threads are telemetry export, "
        "the processors' workers and the thread pool running blocking calls; they cost "
        "throughput too, taking turns with the request thread on the interpreter lock. "
        "Backends: the collector's and Jaeger's CPU during the round, per request (and the "
        "OTLP sink's, which only receives, for ours to sink); on this machine they share "
        "the cores with the service and wrk. Preempted: times per 1,000 requests the kernel "
        "took the core from the request thread while it could run (its nonvoluntary context "
        "switches); preempted while holding the interpreter lock, it stops the whole service.",
        "",
        "| route | variant | request thread µs | added | other threads µs | added "
        "| backends µs | added | request thread preempted /1,000 requests |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, route in section["routes"].items():
        bare = route["modes"]["bare"]["cpu_us_per_request"]
        for mode, f in route["modes"].items():
            cpu = f["cpu_us_per_request"]
            added = {part: round(cpu[part] - bare[part], 1) for part in cpu}
            lines.append(
                f"| {name} | {mode} | {cpu['request_thread']} | {added['request_thread']} "
                f"| {cpu['other_threads']} | {added['other_threads']} "
                f"| {cpu['backends']} | {added['backends']} "
                f"| {f['request_thread_preempted_per_1000_requests']} |"
            )
    return lines


def _degraded(section: dict[str, Any]) -> list[str]:
    load = section["load"]
    lines = [
        f"## Degraded collector (baseline: our gateway with a {section['baseline']} collector)",
        "",
        f"{load['tool']}: `{load['path']}` at {load['requests_per_s']} req/s, "
        f"{load['rounds']} alternating rounds of {load['seconds_per_round']} s per variant. "
        "Median round.",
        "",
        "| collector | p50 ms | p99 ms | healthy p99 ms | p99 × healthy | rounds p99 ms "
        "| answered |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant, f in section["variants"].items():
        lines.append(
            f"| {variant} | {f['p50_ms']} | {f['p99_ms']} | {f.get('baseline_p99_ms', '')} "
            f"| {f.get('p99_ratio', '')} | {f['rounds_p99_ms']} "
            f"| {f['answered']}/{f['requests']} |"
        )
    noise = (
        f"- noise floor: the control, a second gateway exporting to the healthy collector, "
        f"came out at {section['noise_floor_p99_ratio']}× the healthy p99; a degraded ratio "
        "no further from 1 than that is within what noise alone makes of this run"
    )
    variants = section["variants"]
    lost = "; ".join(
        f"{variant} {n} of {variants[variant]['requests']}"
        for variant, n in degraded.unanswered_by_healthy(variants).items()
    )
    machine = (
        f"- unanswered by the healthy gateways too ({lost}): those requests were lost to "
        "the machine, not to a collector; the load tool fell at most "
        f"{max(f['load_max_start_lag_ms'] for f in variants.values())} ms behind "
        "its schedule"
        if lost
        else "- the healthy gateways answered every request"
    )
    return [*lines, "", *_goals(section), noise, machine]


def _per_span(section: dict[str, Any]) -> list[str]:
    lines = [
        f"## Per span (baseline: the SDK with its batch export queue, {section['rounds']} "
        f"alternating rounds of {section['spans_per_round']:,} spans; CPU time of the "
        "calling thread, and of the whole process with the workers' share; added = median "
        "of the per-round differences from the baseline)",
        "",
        "| variant | µs/span | SDK µs/span | added µs | added % of SDK | spread µs "
        "| process µs/span | process added µs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {v['us_per_span']} | {v['baseline_us_per_span']} | {v['added_us']} "
        f"| {v['added_pct_of_sdk']} | {v['spread_us']} | {v['process']['us_per_span']} "
        f"| {v['process']['added_us']} |"
        for name, v in section["variants"].items()
    ]
    worker = ", ".join(f"{name} {us}" for name, us in section["worker_us_per_span"].items())
    return [
        *lines,
        "",
        f"The off-thread worker's own CPU, µs/span (not the request thread's): {worker}.",
        "",
        *_goals(section),
    ]


def _pipeline(section: dict[str, Any]) -> list[str]:
    lines = [
        f"## Pipeline (baseline: the goal, {section['baseline_spans_per_s']} spans/s, zero drops)",
        "",
        "| target spans/s | reached spans/s | SDK dropped | export failed | in Jaeger | missing "
        "| written twice | collector CPU % | collector RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {s['target_spans_per_s']} | {s['spans_per_s']} | {s['sdk_dropped']} "
        f"| {s['sdk_export_failed']} | {s['jaeger_spans']} | {s['jaeger_missing']} "
        f"| {s.get('jaeger_extra', 0)} | {s['collector_cpu_pct']} | {s['collector_peak_rss_mb']} |"
        for s in section["steps"]
    ]
    return [
        *lines,
        "",
        f"Sustained with zero drops: **{section['sustained_spans_per_s']} spans/s** "
        f"(collector {section['collector_cpu_pct_at_sustained']}% CPU, "
        f"{section['collector_rss_mb_at_sustained']} MB RSS; idle "
        f"{section['collector_idle_rss_mb']} MB).",
        "",
        *_goals(section),
    ]


def _memory(section: dict[str, Any]) -> list[str]:
    soak, grading = section["soak"], section["processors"]
    return [
        "## Memory",
        "",
        f"Soak: the `ours` gateway under wrk on `{soak['route']}` for {soak['seconds']:.0f} s, "
        f"after {soak['warm_up_s']:.0f} s of warm-up under the same load: "
        f"RSS {soak['baseline_rss_mb']} MB at the start (baseline) → {soak['end_rss_mb']} MB "
        f"at the end ({soak['growth_pct']:+} %), peak {soak['peak_rss_mb']} MB; the bare "
        f"gateway holds {soak['bare_gateway_rss_mb']} MB.",
        "",
        f"Processors: {grading['added_mb']} MB held by the grading state after "
        f"{grading['spans']:,} spans over {grading['distinct_routes']:,} routes (baseline: "
        f"{grading['baseline']}, {grading['baseline_mb']} MB; peak {grading['peak_mb']} MB; "
        f"{grading['routes_tracked']} route tables, the rest in `/{{other}}`).",
        "",
        *_goals(soak),
    ]


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown: one table or paragraph per measurement, goals beneath."""
    lines = [
        f"# otelpipe bench ({report['profile']}), {report['started']}",
        "",
        f"Machine: {report['machine']}",
        "",
        *_per_request(report["per_request"]),
        "",
        *_degraded(report["degraded_collector"]),
        "",
        *_per_span(report["per_span"]),
        "",
        *_pipeline(report["pipeline"]),
        "",
        *_memory(report["memory"]),
        "",
        f"Took {report['seconds']:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], directory: Path = RESULTS) -> Path:
    """Write ``latest.json`` and ``latest.md`` to ``directory``, and the same as
    ``<profile>.json``/``.md`` so the last quick and full runs are both kept.

    Returns:
        The path of ``latest.json``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    text, rendered = json.dumps(report, indent=2) + "\n", markdown(report)
    for name in ("latest", report["profile"]):
        (directory / f"{name}.json").write_text(text)
        (directory / f"{name}.md").write_text(rendered)
    return directory / "latest.json"
