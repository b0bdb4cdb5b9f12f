"""The order of the variants in alternating rounds."""

from __future__ import annotations

import doctest

import pytest

from bench import rounds
from bench.rounds import round_order


def test_the_example_in_the_docstring_runs_as_it_reads() -> None:
    result = doctest.testmod(rounds)
    assert result.attempted and not result.failed


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7])
def test_every_round_has_every_variant_once_and_each_starts_one(count: int) -> None:
    variants = list(range(count))
    orders = [round_order(variants, n) for n in range(count)]
    assert all(sorted(order) == variants for order in orders)
    assert sorted(order[0] for order in orders) == variants


def test_a_variant_does_not_always_follow_the_same_one() -> None:
    # The per-request rounds' five variants over the full profile's seven rounds:
    # a rotation would have put "ours" after "stock" in six of them.
    variants = ["bare", "stock", "ours", "ours_no_span_export", "ours_to_sink"]
    before = [
        order[order.index("ours") - 1]
        for order in (round_order(variants, n) for n in range(7))
        if order[0] != "ours"
    ]
    assert before.count("stock") <= 2
    assert len(set(before)) == 4
