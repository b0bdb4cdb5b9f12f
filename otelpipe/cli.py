"""``otelpipe`` command line.

otelpipe stack build          build/locate every backend binary (cached)
otelpipe stack up             start collector, Jaeger, Prometheus, Redis; wait until ready
otelpipe stack status [--json]
otelpipe stack down           stop exactly what ``up`` started
otelpipe demo [--duration S]  stack up + demo services + load, then say where to look
otelpipe load [URL] [...]     async load test with percentiles and SLO verdicts
otelpipe dashboard [--port P] [--prometheus URL]
                              the performance dashboard page, its data from Prometheus
otelpipe bench [--quick]      measure the instrumentation's cost; bench/results/latest.{json,md}
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from otelpipe import stack

__all__ = ["main"]


def _progress(message: str) -> None:
    print(f"[otelpipe] {message}", file=sys.stderr, flush=True)


def _print_status(statuses: Sequence[stack.ComponentStatus], as_json: bool) -> None:
    if as_json:
        print(json.dumps({s.name: s.as_dict() for s in statuses}, indent=2))
        return
    for s in statuses:
        state = "ready" if s.ready else ("running (not ready)" if s.running else "stopped")
        urls = "  ".join(f"{k}={v}" for k, v in s.urls.items())
        print(f"{s.name:<10} {state:<20} pid={s.pid or '-':<8} {urls}")


def _stack(args: argparse.Namespace) -> int:
    settings = stack.StackSettings.from_env()
    if args.action == "build":
        stack.build(settings, _progress)
    elif args.action == "up":
        _print_status(stack.up(settings, _progress), args.json)
    elif args.action == "down":
        stack.down(settings, _progress)
    else:
        statuses = stack.status(settings)
        _print_status(statuses, args.json)
        return 0 if all(s.ready for s in statuses) else 3
    return 0


def _demo(args: argparse.Namespace) -> int:
    from otelpipe.demo import print_summary, run_demo

    summary = run_demo(stack.StackSettings.from_env(), duration_s=args.duration, progress=_progress)
    return print_summary(summary, as_json=args.json)


def _load(args: argparse.Namespace) -> int:
    from apps.load.cli import main as load_main

    return load_main(args)


def _dashboard(args: argparse.Namespace) -> int:
    from otelpipe.dashboard import serve

    prometheus = args.prometheus or stack.StackSettings.from_env().url("prometheus")
    serve(prometheus.rstrip("/"), host=args.host, port=args.port)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from bench.report import markdown
    from bench.run import PROFILES, run

    print(markdown(run(PROFILES[args.profile], _progress)))
    return 0


def _slo(args: argparse.Namespace) -> int:
    from otelpipe.slo import write

    changed = write(stack.StackSettings.from_env().config_dir, check=args.check)
    for path in changed:
        print(f"{'out of date' if args.check else 'wrote'}: {path}")
    return 1 if args.check and changed else 0


def _config(args: argparse.Namespace) -> int:
    from otel_setup import ConfigError, Settings

    try:
        settings = Settings.resolve(service_name=args.service_name)
    except ConfigError as exc:
        print(f"otelpipe: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(settings.describe(), indent=2, default=str))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otelpipe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    stack_cmd = commands.add_parser("stack", help="the local backend stack")
    stack_cmd.add_argument("action", choices=["build", "up", "down", "status"])
    stack_cmd.add_argument("--json", action="store_true", help="print status as JSON")
    stack_cmd.set_defaults(run=_stack)

    demo = commands.add_parser("demo", help="stack up, demo service, load, then where to look")
    demo.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    demo.add_argument("--json", action="store_true", help="print the summary as JSON")
    demo.set_defaults(run=_demo)

    import apps.load
    from apps.load.cli import add_arguments as load_arguments

    load = commands.add_parser(
        "load",
        help="load/performance test: percentiles, throughput, SLO verdicts (exit 1 on violation)",
        description=apps.load.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load_arguments(load)
    load.set_defaults(run=_load)

    dashboard = commands.add_parser(
        "dashboard", help="serve the performance dashboard page, its data from Prometheus"
    )
    dashboard.add_argument("--port", type=int, default=8050, help="port to serve on (8050)")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    dashboard.add_argument(
        "--prometheus", help="Prometheus base URL (default: the local stack's, OTELPIPE_*_PORT)"
    )
    dashboard.set_defaults(run=_dashboard)

    bench = commands.add_parser(
        "bench", help="measure what the instrumentation costs, beside its baselines"
    )
    bench.add_argument(
        "--quick",
        dest="profile",
        action="store_const",
        const="quick",
        default="full",
        help="fewer, shorter rounds and a 15 s soak (under 3 minutes) instead of ~33 minutes",
    )
    bench.set_defaults(run=_bench)

    slo = commands.add_parser("slo", help="render SLO rules and tests from slos.yaml")
    slo.add_argument("action", choices=["render"])
    slo.add_argument("--check", action="store_true", help="exit 1 if the rendered files differ")
    slo.set_defaults(run=_slo)

    config = commands.add_parser(
        "config", help="print the otel_setup settings resolved from this environment"
    )
    config.add_argument("--service-name", help="as setup_telemetry(service_name=...)")
    config.set_defaults(run=_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (stack.StackConfigError, stack.StackError, stack.BuildError) as exc:
        print(f"otelpipe: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
