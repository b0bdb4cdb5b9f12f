"""Sliding time windows of operation statistics, in bounded memory.

A :class:`SlidingWindow` is a ring of ``slots`` fixed-width time slots; a
value lands in the slot of its timestamp, a slot whose time has passed is
reset before reuse, and a query merges the slots still inside the window.
So a "5 minute" window slides in 30-second steps and never holds more than
ten :class:`Stats`. :data:`WINDOWS` are the four windows of the reference
(1 min, 5 min, 1 h, 1 day).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from processors.quantiles import QuantileSketch

__all__ = ["WINDOWS", "SlidingWindow", "Stats", "WindowSpec"]


@dataclass
class Stats:
    """What is known about a set of operations."""

    count: int = 0
    errors: int = 0
    #: Operations that met their latency target (for compliance).
    compliant: int = 0
    #: Cache look-ups among them, and how many hit.
    lookups: int = 0
    hits: int = 0
    latency_ms: QuantileSketch = field(default_factory=QuantileSketch)

    def add(
        self,
        duration_ms: float,
        *,
        error: bool,
        compliant: bool,
        hit: bool | None = None,
    ) -> None:
        """Count one operation."""
        self.count += 1
        self.errors += error
        self.compliant += compliant
        if hit is not None:
            self.lookups += 1
            self.hits += hit
        self.latency_ms.add(duration_ms)

    def merge(self, other: Stats) -> None:
        self.count += other.count
        self.errors += other.errors
        self.compliant += other.compliant
        self.lookups += other.lookups
        self.hits += other.hits
        self.latency_ms.merge(other.latency_ms)

    @property
    def error_rate(self) -> float:
        """Errors per operation, in percent (0 when empty)."""
        return 100.0 * self.errors / self.count if self.count else 0.0

    @property
    def hit_rate(self) -> float | None:
        """Cache hits per look-up, in percent; None without look-ups."""
        return 100.0 * self.hits / self.lookups if self.lookups else None

    def percentile(self, q: float) -> float | None:
        """Latency (ms) at quantile ``q``; None when empty."""
        return self.latency_ms.quantile(q) if self.count else None


@dataclass(frozen=True)
class WindowSpec:
    name: str
    slot_seconds: float
    slots: int

    @property
    def seconds(self) -> float:
        return self.slot_seconds * self.slots


WINDOWS: Mapping[str, WindowSpec] = {
    spec.name: spec
    for spec in (
        WindowSpec("1m", 10, 6),
        WindowSpec("5m", 30, 10),
        WindowSpec("1h", 300, 12),
        WindowSpec("1d", 3600, 24),
    )
}


class SlidingWindow:
    """Stats of the last ``spec.seconds``, in ``spec.slots`` reusable slots. Not thread-safe."""

    __slots__ = ("_epochs", "_slots", "spec")

    def __init__(self, spec: WindowSpec) -> None:
        self.spec = spec
        self._epochs = [-1] * spec.slots
        self._slots = [Stats() for _ in range(spec.slots)]

    def slot(self, now: float) -> Stats:
        """The stats of the slot covering time ``now`` (reset first if it held older data).

        A time whose slot has already been reused for later data is too old for the
        window: the returned stats are not kept.
        """
        epoch = int(now // self.spec.slot_seconds)
        index = epoch % self.spec.slots
        if self._epochs[index] > epoch:  # older than the window: count it nowhere
            return Stats()
        if self._epochs[index] != epoch:
            self._epochs[index] = epoch
            self._slots[index] = Stats()
        return self._slots[index]

    def total(self, now: float) -> Stats:
        """Merged stats of every slot still inside the window at time ``now``."""
        newest = int(now // self.spec.slot_seconds)
        merged = Stats()
        for epoch, stats in zip(self._epochs, self._slots, strict=True):
            if newest - self.spec.slots < epoch <= newest:
                merged.merge(stats)
        return merged
