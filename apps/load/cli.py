"""``otelpipe load``: options, run, report, exit code (see :mod:`apps.load`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from apps.load.plan import LoadPlan, PlanError, parse_endpoint
from apps.load.progress import ProgressBar
from apps.load.report import build_report, render_text
from apps.load.runner import run_load
from processors.targets import TargetsError, load_targets

__all__ = ["GATEWAY_MIX", "add_arguments", "main"]

#: What users of the demo gateway do: mostly look-ups, some checkouts (of which the
#: payment provider declines about 2 %), a few failures.
GATEWAY_MIX = ("GET /items/{id}@44", "POST /checkout/{id}?fail_rate=0.02@5", "GET /error@1")
EXIT_OK, EXIT_SLO_VIOLATED, EXIT_USAGE = 0, 1, 2


def _ids(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        return (int(low), int(high)) if sep else (int(low), int(low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LOW-HIGH, e.g. 1-200") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url",
        nargs="?",
        default="http://127.0.0.1:8000",
        help="base URL (default: the demo gateway)",
    )
    parser.add_argument(
        "-e",
        "--endpoint",
        action="append",
        metavar="SPEC",
        help="'[METHOD ]/path[@weight]', repeatable; {id} becomes a random id "
        f"(default: the demo gateway's mix {' '.join(GATEWAY_MIX)})",
    )
    parser.add_argument("-n", "--requests", type=int, help="stop after this many requests")
    parser.add_argument(
        "-d", "--duration", type=float, help="stop after this many seconds (default 10 without -n)"
    )
    parser.add_argument("-c", "--concurrency", type=int, default=10, help="callers (default 10)")
    parser.add_argument(
        "-r", "--rate", type=float, help="open loop at this many requests/s in total"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, s (default 10)")
    parser.add_argument("--ids", type=_ids, default=(1, 200), help="range of {id} (default 1-200)")
    parser.add_argument("--seed", type=int, help="random seed for ids and the endpoint mix")
    parser.add_argument(
        "--targets",
        default=os.environ.get("OTELPIPE_TARGETS_FILE"),
        help="PRD targets file for the SLO verdicts (default: $OTELPIPE_TARGETS_FILE or the shipped one)",
    )
    parser.add_argument("-o", "--report", type=Path, help="write the JSON report here")
    parser.add_argument("--json", action="store_true", help="print the JSON report, not the table")
    parser.add_argument("--no-progress", action="store_true", help="no progress display")


def main(args: argparse.Namespace) -> int:
    try:
        targets = load_targets(args.targets)
        plan = LoadPlan(
            base_url=args.url.rstrip("/"),
            endpoints=tuple(parse_endpoint(spec) for spec in args.endpoint or GATEWAY_MIX),
            requests=args.requests,
            duration_s=args.duration if args.duration or args.requests else 10.0,
            concurrency=args.concurrency,
            rate=args.rate,
            timeout_s=args.timeout,
            ids=args.ids,
            seed=args.seed,
        )
    except (PlanError, TargetsError) as exc:
        print(f"otelpipe load: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    progress = None if args.no_progress else ProgressBar()
    try:
        result = asyncio.run(run_load(plan, progress))
    finally:
        if progress is not None:
            progress.close()
    report = build_report(result, targets)
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    answered = sum(
        n for e in report["endpoints"] for s, n in e["statuses"].items() if s != "no_answer"
    )
    if not answered:
        failures = {k: n for e in report["endpoints"] for k, n in e["failures"].items()}
        print(f"otelpipe load: error: {plan.base_url} never answered ({failures})", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if report["slo_met"] else EXIT_SLO_VIOLATED
