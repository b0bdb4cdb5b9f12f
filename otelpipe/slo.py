"""SLOs as data: render ``slos.yaml`` into Prometheus rules and their unit tests.

For each endpoint class two SLIs are recorded per service — availability (the
share of server spans in error) and latency (the share slower than the class
threshold) — over the seven windows of the multi-window, multi-burn-rate
scheme (Google SRE workbook, as Sloth and Pyrra generate it):

==========  ================  ===========  ========
severity    long / short      burn rate    budget spent
==========  ================  ===========  ========
page        1h / 5m           14.4         2 % in 1 h
page        6h / 30m          6            5 % in 6 h
ticket      1d / 2h           3            10 % in 1 d
ticket      3d / 6h           1            10 % in 3 d
==========  ================  ===========  ========

plus the error budget remaining over the SLO period. The budgets are also
recorded as constant series (``slo:error_budget:ratio``) for dashboards.

    otelpipe slo render            # rewrite rules/slo.yml and tests/slo.test.yml
    otelpipe slo render --check    # exit 1 if they are out of date
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SLO", "load_slos", "render_rules", "render_tests", "write"]

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
#: (severity, for, [(long window, short window, burn rate), ...])
BURN_ALERTS = (
    ("critical", "2m", (("1h", "5m", 14.4), ("6h", "30m", 6.0))),
    ("warning", "15m", (("1d", "2h", 3.0), ("3d", "6h", 1.0))),
)
_SERVER = 'span_kind="SPAN_KIND_SERVER"'
_BY = "service_name, otelpipe_slo_class"


@dataclass(frozen=True)
class SLO:
    slo_class: str
    availability: float  # %
    latency_ms: int
    latency_objective: float  # % of requests under latency_ms


def load_slos(path: Path) -> tuple[str, list[SLO]]:
    """(period, SLOs) from ``slos.yaml``; raises ValueError naming a bad field."""
    document = yaml.safe_load(path.read_text())
    period = document.get("period", "7d")
    slos = []
    for name, spec in (document.get("classes") or {}).items():
        for field, low, high in (("availability", 50, 100), ("latency_objective", 50, 100)):
            if not low < float(spec.get(field, 0)) < high:
                raise ValueError(f"{path.name}: classes.{name}.{field}={spec.get(field)!r}: "
                                 f"expected a percentage between {low} and {high}")  # fmt: skip
        slos.append(SLO(name, float(spec["availability"]), int(spec["latency_ms"]),
                        float(spec["latency_objective"])))  # fmt: skip
    return period, slos


def _ratio(percent: float) -> float:
    return round(1 - percent / 100, 6)


def _sli_rules(slos: list[SLO], window: str) -> list[dict[str, Any]]:
    calls = f'traces_span_metrics_calls_total{{{_SERVER}, otelpipe_slo_class!=""}}'
    errors = (
        f"traces_span_metrics_calls_total{{{_SERVER}, "
        'status_code="STATUS_CODE_ERROR", otelpipe_slo_class!=""}'
    )
    rules = [{
        "record": f"slo:sli_error:ratio_rate{window}",
        # "or … * 0": a service without errors has an error ratio of 0, not none.
        "expr": (f"(sum by ({_BY}) (rate({errors}[{window}]))\n"
                 f" or sum by ({_BY}) (rate({calls}[{window}])) * 0)\n"
                 f"/ sum by ({_BY}) (rate({calls}[{window}]))"),
        "labels": {"sli": "availability"},
    }]  # fmt: skip
    for slo in slos:
        match = f'{_SERVER}, otelpipe_slo_class="{slo.slo_class}"'
        rules.append({
            "record": f"slo:sli_error:ratio_rate{window}",
            "expr": (f"1 - sum by ({_BY}) (rate(traces_span_metrics_duration_milliseconds_bucket"
                     f'{{{match}, le="{slo.latency_ms}"}}[{window}]))\n'
                     f"/ sum by ({_BY}) (rate(traces_span_metrics_duration_milliseconds_count"
                     f"{{{match}}}[{window}]))"),
            "labels": {"sli": "latency", "otelpipe_slo_class": slo.slo_class},
        })  # fmt: skip
    return rules


def _budget_rules(slos: list[SLO]) -> list[dict[str, Any]]:
    rules = []
    for slo in slos:
        for sli, objective in (
            ("availability", slo.availability),
            ("latency", slo.latency_objective),
        ):
            rules.append({"record": "slo:error_budget:ratio", "expr": f"vector({_ratio(objective)})",
                          "labels": {"otelpipe_slo_class": slo.slo_class, "sli": sli}})  # fmt: skip
    return rules


def _burn(selector: str, budget: float, long: str, short: str, rate: float) -> str:
    # Dividing by the budget gives the burn rate and drops the metric name, so
    # both windows yield one label set (an alert may not return two series that
    # differ only by name).
    def burn(window: str) -> str:
        return f"slo:sli_error:ratio_rate{window}{selector} / {budget:g}"

    return f"({burn(long)} > {rate:g}\n and {burn(short)} > {rate:g})"


def _alerts(slos: list[SLO]) -> list[dict[str, Any]]:
    """One rule per class, SLI and severity, thresholds inlined (as Sloth renders them)."""
    rules = []
    for severity, duration, pairs in BURN_ALERTS:
        kind = "fast" if severity == "critical" else "steadily"
        for slo in slos:
            for sli, objective in (("availability", slo.availability),
                                   ("latency", slo.latency_objective)):  # fmt: skip
                selector = f'{{otelpipe_slo_class="{slo.slo_class}", sli="{sli}"}}'
                rules.append({
                    "alert": "SLOErrorBudgetBurnFast" if severity == "critical"
                    else "SLOErrorBudgetBurnSlow",
                    "expr": "\nor\n".join(_burn(selector, _ratio(objective), *pair)
                                           for pair in pairs),
                    "for": duration,
                    "labels": {"severity": severity, "otelpipe_slo_class": slo.slo_class,
                               "sli": sli},
                    "annotations": {
                        "summary": "{{ $labels.service_name }} {{ $labels.otelpipe_slo_class }}: "
                                   f"{{{{ $labels.sli }}}} error budget burning {kind}",
                        "description": "The {{ $labels.sli }} error budget is being spent "
                                       "{{ printf `%.1f` $value }}x as fast as the SLO allows "
                                       "(alerting at " + " or ".join(
                                           f"{r:g}x over {lo}/{sh}" for lo, sh, r in pairs) + ").",
                        "runbook": "docs/runbooks.md#slo-burn",
                    },
                })  # fmt: skip
    return rules


def render_rules(period: str, slos: list[SLO]) -> str:
    """rules/slo.yml for ``slos``."""
    windows = (*WINDOWS, period) if period not in WINDOWS else WINDOWS
    remaining = {
        "record": "slo:error_budget_remaining:ratio",
        "expr": f"1 - slo:sli_error:ratio_rate{period} / on (otelpipe_slo_class, sli) group_left () "
                "slo:error_budget:ratio",
    }  # fmt: skip
    document = {"groups": [
        {"name": "otelpipe-slo-objectives", "rules": _budget_rules(slos)},
        *({"name": f"otelpipe-slo-sli-{w}", "rules": _sli_rules(slos, w)} for w in windows),
        {"name": "otelpipe-slo-budget", "rules": [remaining]},
        {"name": "otelpipe-slo-alerts", "rules": _alerts(slos)},
    ]}  # fmt: skip
    header = ("# GENERATED by `otelpipe slo render` from ../slos.yaml: edit that file, not this one.\n"
              "# Multi-window multi-burn-rate SLO alerts per endpoint class (docs/slo.md).\n")  # fmt: skip
    return header + yaml.safe_dump(document, sort_keys=False, width=200)


def render_tests(slos: list[SLO]) -> str:
    """tests/slo.test.yml: per class, a service burning 20x its budget pages and tickets on
    both SLIs; its neighbour at half its budget stays silent."""
    per_minute = 40_000
    series = []
    expected: dict[str, list[dict[str, Any]]] = {"SLOErrorBudgetBurnFast": [],
                                                  "SLOErrorBudgetBurnSlow": []}  # fmt: skip
    for slo in slos:
        for service, factor in (
            (f"burning-{slo.slo_class}", 20.0),
            (f"healthy-{slo.slo_class}", 0.5),
        ):
            labels = (
                f'service_name="{service}",span_kind="SPAN_KIND_SERVER",'
                f'otelpipe_slo_class="{slo.slo_class}"'
            )
            errors = round(per_minute * min(1.0, factor * _ratio(slo.availability)))
            slow = round(per_minute * min(1.0, factor * _ratio(slo.latency_objective)))
            series += [
                {"series": f'traces_span_metrics_calls_total{{{labels},status_code="STATUS_CODE_UNSET"}}',
                 "values": f"0+{per_minute - errors}x2200"},
                {"series": f'traces_span_metrics_calls_total{{{labels},status_code="STATUS_CODE_ERROR"}}',
                 "values": f"0+{errors}x2200"},
                {"series": "traces_span_metrics_duration_milliseconds_bucket"
                           f'{{{labels},le="{slo.latency_ms}"}}',
                 "values": f"0+{per_minute - slow}x2200"},
                {"series": f"traces_span_metrics_duration_milliseconds_count{{{labels}}}",
                 "values": f"0+{per_minute}x2200"},
            ]  # fmt: skip
            if factor < 1:
                continue
            for alert, (severity, _, pairs) in zip(expected, BURN_ALERTS, strict=True):
                kind = "fast" if severity == "critical" else "steadily"
                for sli, burn in (
                    ("availability", errors / per_minute / _ratio(slo.availability)),
                    ("latency", slow / per_minute / _ratio(slo.latency_objective)),
                ):
                    expected[alert].append({
                        "exp_labels": {"severity": severity, "service_name": service,
                                       "otelpipe_slo_class": slo.slo_class, "sli": sli},
                        "exp_annotations": {
                            "summary": f"{service} {slo.slo_class}: {sli} error budget burning {kind}",
                            "description": f"The {sli} error budget is being spent "
                                           f"{burn:.1f}x as fast as the SLO allows (alerting at "
                                           + " or ".join(f"{r:g}x over {lo}/{sh}" for lo, sh, r in pairs)
                                           + ").",
                            "runbook": "docs/runbooks.md#slo-burn",
                        },
                    })  # fmt: skip
    document = {
        "rule_files": ["../rules/slo.yml"],
        # Under the 5-minute lookback, so an alert never misses a recording rule
        # evaluated just before or after it in the same step.
        "evaluation_interval": "4m",
        "tests": [{
            "interval": "2m",
            "input_series": series,
            "alert_rule_test": [
                *({"eval_time": "4380m", "alertname": name, "exp_alerts": alerts}
                  for name, alerts in expected.items()),
                # Burning from the start, but not yet for its 15 minutes: pending, not firing.
                {"eval_time": "12m", "alertname": "SLOErrorBudgetBurnSlow", "exp_alerts": []},
            ],
        }],
    }  # fmt: skip
    header = "# GENERATED by `otelpipe slo render` from ../slos.yaml (see otelpipe/slo.py).\n"
    return header + yaml.safe_dump(document, sort_keys=False, width=200)


def write(config_dir: Path, check: bool = False) -> list[Path]:
    """Render the files; with ``check``, only return the ones that differ."""
    period, slos = load_slos(config_dir / "prometheus" / "slos.yaml")
    outputs: Mapping[Path, str] = {
        config_dir / "prometheus" / "rules" / "slo.yml": render_rules(period, slos),
        config_dir / "prometheus" / "tests" / "slo.test.yml": render_tests(slos),
    }
    stale = [path for path, text in outputs.items()
             if not path.exists() or path.read_text() != text]  # fmt: skip
    if not check:
        for path in stale:
            path.write_text(outputs[path])
    return stale
