"""Targets files: the shipped defaults, and errors that say where the mistake is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from processors.targets import DEFAULT_TARGETS_FILE, TargetsError, load_targets, parse_targets


def test_shipped_targets_match_the_reference() -> None:
    targets = load_targets()
    auth = targets.categories["authentication"]
    assert (auth.kind, auth.target, auth.grades[:3]) == ("latency", 50, (30, 40, 50))
    assert targets.categories["authorization"].grades[:3] == (50, 60, 75)
    assert targets.categories["database"].grades[:3] == (15, 20, 25)
    assert targets.categories["cache_l1"].grades[:3] == (98, 96, 95)
    assert targets.categories["cache_l2"].grades[:3] == (97, 95, 93)
    assert targets.categories["cache_l3"].grades[:3] == (96, 94, 92)
    assert (targets.alerts.warning_factor, targets.alerts.critical_factor) == (1.5, 2.0)


def _defaults() -> dict:
    return yaml.safe_load(DEFAULT_TARGETS_FILE.read_text())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["categories"]["cache_l1"]["grades"].update(B=99),
            "categories.cache_l1.grades.B=99: hit_rate grades must fall from A to D",
        ),
        (
            lambda d: d["categories"]["database"]["grades"].update(C=10),
            "categories.database.grades.C=10: latency grades must rise from A to D",
        ),
        (
            lambda d: d["categories"]["database"].update(kind="speed"),
            "categories.database.kind='speed': expected latency or hit_rate",
        ),
        (
            lambda d: d["categories"]["database"].update(target=-5),
            "categories.database.target=-5: expected a number",
        ),
        (
            lambda d: d["categories"]["cache_l1"].update(target=120),
            "categories.cache_l1.target=120: expected a number in (0, 100]",
        ),
        (
            lambda d: d["categories"]["database"].update(colour="red"),
            "categories.database.colour='red': unknown key",
        ),
        (
            lambda d: d["alerts"].update(critical_factor=1.2),
            "alerts.critical_factor=1.2: must be above warning_factor (1.5)",
        ),
        (
            lambda d: d["alerts"].update(window="2m"),
            "alerts.window='2m': expected one of 1m, 5m, 1h, 1d",
        ),
        (
            lambda d: d["routes"].append({"match": "/x", "category": "nope"}),
            "category='nope': not one of the categories above",
        ),
    ],
)
def test_bad_values_are_named_with_their_path(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    document = _defaults()
    edit(document)
    with pytest.raises(TargetsError, match=re.escape(message)):
        parse_targets(document, source="targets.yaml")


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(TargetsError, match="cannot read targets file"):
        load_targets(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("categories: {a: [1, 2")
    with pytest.raises(TargetsError, match=r"broken\.yaml: not valid YAML"):
        load_targets(broken)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(TargetsError, match="expected a mapping"):
        load_targets(empty)
