"""The order of the variants in each of a measurement's alternating rounds.

Variants alternate within every round, so that a slow spell of the machine
falls on all of them alike. A plain rotation (``abc``, ``bca``, ``cab``) puts
each variant first in turn but keeps its predecessor, and with it the
predecessor's leftovers: the spans still reaching the collector and Jaeger
after its round, which the next variant's round pays for on this machine. In
the per-request rounds ``ours`` followed ``stock``, the heaviest exporter, in
every round but the one it opened. :func:`round_order` varies the step
between neighbours as well as the start, so over the rounds each variant
follows several others.

>>> ["".join(round_order("abcde", n)) for n in range(7)]
['abcde', 'bdace', 'cadbe', 'dcbae', 'eabcd', 'acebd', 'becad']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["round_order"]

T = TypeVar("T")


def round_order(variants: Sequence[T], round_no: int) -> list[T]:
    """The order of ``variants`` in round ``round_no`` (from 0): starting at the
    ``round_no``-th, stepping by the next step that visits every one of them."""
    n = len(variants)
    steps = [k for k in range(1, n) if math.gcd(k, n) == 1] or [1]
    step, start = steps[round_no % len(steps)], round_no % max(n, 1)
    return [variants[(start + i * step) % n] for i in range(n)]
