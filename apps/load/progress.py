"""A live progress display for a load run, fed one :class:`~apps.load.runner.Tick` at a time."""

from __future__ import annotations

import math
import sys
from typing import TextIO

from apps.load.report import percentile
from apps.load.runner import Tick

__all__ = ["ProgressBar"]


class ProgressBar:
    """Redraws one line in place on a terminal; elsewhere (CI logs, pipes) prints a
    line every ``every_s`` seconds so logs stay short."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 24, every_s: float = 5.0) -> None:
        self._stream = stream
        self._width = width
        self._every_s = every_s
        self._live = stream.isatty()
        self._recent: list[float] = []
        self._next_line_s = every_s

    def __call__(self, tick: Tick) -> None:
        self._recent.extend(tick.recent)
        if not self._live and tick.elapsed_s < self._next_line_s:
            return
        self._next_line_s = tick.elapsed_s + self._every_s
        p95 = percentile(sorted(self._recent), 95.0)
        self._recent.clear()
        filled = round(tick.fraction * self._width)
        # NaN when nothing finished since the last line.
        p95_text = "-" if math.isnan(p95) else f"{p95 * 1000:.1f} ms"
        line = (
            f"[{'#' * filled}{'.' * (self._width - filled)}] {tick.fraction:4.0%} "
            f"{tick.done} requests, {tick.done / max(tick.elapsed_s, 1e-9):.0f} req/s, "
            f"p95 {p95_text}, {tick.errors} errors"
        )
        self._stream.write(f"\r\x1b[2K{line}" if self._live else f"{line}\n")
        self._stream.flush()

    def close(self) -> None:
        """End the in-place line so what follows starts on a fresh one."""
        if self._live:
            self._stream.write("\n")
            self._stream.flush()
