"""PRD targets as data: load, validate and freeze ``targets.yaml``.

Every mistake in a targets file is a :class:`TargetsError` that names the
file, the path of the bad field and its value:

``targets.yaml: categories.cache_l1.grades.B=99: hit_rate grades must fall from A to D``
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from processors.windows import WINDOWS

__all__ = [
    "DEFAULT_TARGETS_FILE",
    "GRADES",
    "AlertPolicy",
    "Category",
    "RouteRule",
    "Targets",
    "TargetsError",
    "load_targets",
]

DEFAULT_TARGETS_FILE = Path(__file__).with_name("targets.yaml")
GRADES = ("A", "B", "C", "D")
Kind = Literal["latency", "hit_rate"]


class TargetsError(ValueError):
    """A targets file is unreadable or has a bad value; the message says where."""


@dataclass(frozen=True)
class Category:
    name: str
    kind: Kind
    target: float
    #: Bounds for A, B, C, D (ms for latency, % for hit rate); worse is F.
    grades: tuple[float, float, float, float]
    #: Error-rate objective in %; above it the grade is at most D.
    error_rate: float | None = None

    @property
    def lower_is_better(self) -> bool:
        return self.kind == "latency"


@dataclass(frozen=True)
class AlertPolicy:
    warning_factor: float = 1.5
    critical_factor: float = 2.0
    hysteresis: float = 0.1
    window: str = "5m"
    min_count: int = 20


@dataclass(frozen=True)
class RouteRule:
    match: str
    #: None: requests on these routes are not graded.
    category: str | None


@dataclass(frozen=True)
class Targets:
    categories: Mapping[str, Category]
    routes: tuple[RouteRule, ...]
    alerts: AlertPolicy
    source: str


def _fail(source: str, path: str, value: object, reason: str) -> TargetsError:
    return TargetsError(f"{source}: {path}={value!r}: {reason}")


def _number(
    source: str, path: str, value: object, *, low: float = 0.0, high: float = math.inf
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(source, path, value, "expected a number")
    if not low < value <= high:
        raise _fail(source, path, value, f"expected a number in ({low:g}, {high:g}]")
    return float(value)


def _mapping(source: str, path: str, value: object, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(source, path, value, "expected a mapping")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _fail(
            source,
            f"{path}.{unknown[0]}",
            value[unknown[0]],
            f"unknown key; expected one of {', '.join(sorted(allowed))}",
        )
    return value


def _category(source: str, name: str, raw: object) -> Category:
    path = f"categories.{name}"
    data = _mapping(source, path, raw, {"kind", "target", "grades", "error_rate"})
    kind = data.get("kind")
    if kind not in ("latency", "hit_rate"):
        raise _fail(source, f"{path}.kind", kind, "expected latency or hit_rate")
    high = 100.0 if kind == "hit_rate" else math.inf
    target = _number(source, f"{path}.target", data.get("target"), high=high)
    grades_raw = _mapping(source, f"{path}.grades", data.get("grades"), set(GRADES))
    grades = tuple(
        _number(source, f"{path}.grades.{g}", grades_raw.get(g), high=high) for g in GRADES
    )
    falling = kind == "hit_rate"
    for better, worse, letter in zip(grades, grades[1:], GRADES[1:], strict=False):
        if (worse >= better) if falling else (worse <= better):
            raise _fail(
                source,
                f"{path}.grades.{letter}",
                grades_raw[letter],
                f"{kind} grades must {'fall' if falling else 'rise'} from A to D",
            )
    error_rate = data.get("error_rate")
    if error_rate is not None:
        error_rate = _number(source, f"{path}.error_rate", error_rate, high=100.0)
    return Category(name, kind, target, grades, error_rate)  # type: ignore[arg-type]


def _alerts(source: str, raw: object) -> AlertPolicy:
    data = _mapping(
        source,
        "alerts",
        raw or {},
        {"warning_factor", "critical_factor", "hysteresis", "window", "min_count"},
    )
    defaults = AlertPolicy()
    warning, critical = (
        _number(source, f"alerts.{key}", data.get(key, getattr(defaults, key)), low=1.0, high=100)
        for key in ("warning_factor", "critical_factor")
    )
    if critical <= warning:
        raise _fail(
            source,
            "alerts.critical_factor",
            critical,
            f"must be above warning_factor ({warning:g})",
        )
    hysteresis = data.get("hysteresis", defaults.hysteresis)
    if hysteresis != 0:
        hysteresis = _number(source, "alerts.hysteresis", hysteresis, high=0.5)
    window = data.get("window", defaults.window)
    if not isinstance(window, str) or window not in WINDOWS:
        raise _fail(source, "alerts.window", window, f"expected one of {', '.join(WINDOWS)}")
    min_count = int(
        _number(source, "alerts.min_count", data.get("min_count", defaults.min_count), high=1e9)
    )
    return AlertPolicy(warning, critical, float(hysteresis), window, min_count)


def parse_targets(document: object, source: str = "<targets>") -> Targets:
    """Validate a parsed targets document (see ``targets.yaml``)."""
    data = _mapping(source, "(top level)", document, {"categories", "routes", "alerts"})
    categories_raw = data.get("categories")
    categories_raw = _mapping(
        source,
        "categories",
        categories_raw,
        set(categories_raw) if isinstance(categories_raw, Mapping) else set(),
    )
    if not categories_raw:
        raise _fail(source, "categories", categories_raw, "at least one category is needed")
    categories = {name: _category(source, name, raw) for name, raw in categories_raw.items()}
    rules = data.get("routes") or []
    if not isinstance(rules, list):
        raise _fail(source, "routes", rules, "expected a list of {match, category}")
    routes = []
    for index, rule in enumerate(rules):
        rule = _mapping(source, f"routes[{index}]", rule, {"match", "category"})
        if not isinstance(rule.get("match"), str) or not rule["match"]:
            raise _fail(source, f"routes[{index}].match", rule.get("match"), "expected a glob")
        category = rule.get("category", "(missing)")
        if category is not None and (not isinstance(category, str) or category not in categories):
            raise _fail(
                source,
                f"routes[{index}].category",
                category,
                "not one of the categories above (or null: not graded)",
            )
        routes.append(RouteRule(rule["match"], rule["category"]))
    return Targets(categories, tuple(routes), _alerts(source, data.get("alerts")), source)


def load_targets(path: str | Path | None = None) -> Targets:
    """Load and validate a targets file (default: the one shipped with the package).

    Raises:
        TargetsError: the file cannot be read or parsed, or a value is invalid.
    """
    file = Path(path) if path is not None else DEFAULT_TARGETS_FILE
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TargetsError(f"{file}: cannot read targets file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise TargetsError(f"{file}: not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except yaml.YAMLError as exc:
        raise TargetsError(f"{file}: not valid YAML: {exc}") from None
    return parse_targets(document, source=file.name)
