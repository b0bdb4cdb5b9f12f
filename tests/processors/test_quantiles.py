"""The sketch's quantiles stay within its documented 1 % relative error."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.quantiles import RELATIVE_ACCURACY, QuantileSketch


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


DISTRIBUTIONS = {
    "lognormal": lambda rng: rng.lognormvariate(3, 1),
    "uniform": lambda rng: rng.uniform(0.5, 2_000),
    "bimodal": lambda rng: rng.gauss(5, 1) if rng.random() < 0.9 else rng.gauss(900, 50),
    "heavy_tail": lambda rng: rng.paretovariate(1.2),
}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_relative_error_is_at_most_one_percent(name: str) -> None:
    rng = random.Random(name)
    values = [max(0.01, DISTRIBUTIONS[name](rng)) for _ in range(50_000)]
    sketch = QuantileSketch()
    for value in values:
        sketch.add(value)
    for q in (0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999):
        exact = _exact(values, q)
        assert abs(sketch.quantile(q) - exact) <= RELATIVE_ACCURACY * exact, (name, q)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=500),
    st.floats(min_value=0, max_value=1),
)
def test_bound_holds_for_any_values_and_rank(values: list[float], q: float) -> None:
    sketch = QuantileSketch()
    for value in values:
        sketch.add(value)
    exact = _exact(values, q)
    assert abs(sketch.quantile(q) - exact) <= RELATIVE_ACCURACY * exact + 1e-12


def test_merged_sketch_equals_one_sketch_of_everything() -> None:
    rng = random.Random(1)
    values = [rng.lognormvariate(2, 1.5) for _ in range(10_000)]
    whole, left, right = QuantileSketch(), QuantileSketch(), QuantileSketch()
    for i, value in enumerate(values):
        whole.add(value)
        (left if i % 2 else right).add(value)
    left.merge(right)
    assert left.count == whole.count
    assert left.quantile(0.95) == whole.quantile(0.95)


def test_memory_is_bounded_by_the_value_range_not_the_count() -> None:
    sketch = QuantileSketch()
    rng = random.Random(2)
    for _ in range(200_000):
        sketch.add(rng.uniform(0.001, 3_600_000))  # 1 µs … 1 h, in ms
    assert sketch.bucket_count <= math.ceil(math.log(3.6e9) / math.log(1.01 / 0.99)) + 1


def test_empty_and_invalid() -> None:
    assert math.isnan(QuantileSketch().quantile(0.5))
    with pytest.raises(ValueError, match=r"q=1\.5"):
        QuantileSketch().quantile(1.5)
    with pytest.raises(ValueError, match="relative_accuracy"):
        QuantileSketch(relative_accuracy=0)
