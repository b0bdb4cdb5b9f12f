"""The pipeline step's accounting: spans missing in Jaeger end the climb, spans written twice do not."""

from __future__ import annotations

import pytest

from bench.pipeline import tally


@pytest.mark.parametrize(
    ("sent", "stored", "missing", "extra"),
    [(100, 100, 0, 0), (100, 90, 10, 0), (100, 130, 0, 30), (0, 0, 0, 0)],
)
def test_jaeger_side_of_a_step(sent: int, stored: int, missing: int, extra: int) -> None:
    assert tally(sent, stored) == {
        "jaeger_spans": stored,
        "jaeger_missing": missing,
        "jaeger_extra": extra,
    }
