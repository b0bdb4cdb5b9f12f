"""Alerts on PRD targets: raised at a factor of the target, resolved with hysteresis.

:class:`AlertBook` keeps the active alert of each category and a bounded
history. :func:`severity_for` decides what a measured value deserves, given
the alert currently active (hysteresis: an alert raised at a threshold stays
until the value is ``hysteresis`` below it, so a value hovering at the line
does not flap). Callbacks run on the grading worker thread, never on the
span path; one that raises is logged and the others still run.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from processors.targets import AlertPolicy, Category

__all__ = ["Alert", "AlertBook", "AlertCallback", "Severity", "severity_for"]

Severity = Literal["warning", "critical"]
_log = logging.getLogger(__name__)


@dataclass
class Alert:
    category: str
    severity: Severity
    #: The measured value (p95 ms, or cache miss rate %) and the threshold it crossed.
    value: float
    threshold: float
    message: str
    raised_at: float
    resolved_at: float | None = None

    @property
    def active(self) -> bool:
        return self.resolved_at is None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "active": self.active}


AlertCallback = Callable[[Alert, Literal["raised", "resolved"]], None]


def thresholds(category: Category, policy: AlertPolicy) -> tuple[float, float]:
    """(warning, critical) thresholds of the value :func:`alert_value` measures."""
    base = category.target if category.lower_is_better else 100.0 - category.target
    return base * policy.warning_factor, base * policy.critical_factor


def severity_for(
    value: float, category: Category, policy: AlertPolicy, active: Severity | None
) -> Severity | None:
    """The severity ``value`` deserves; an ``active`` one holds until ``hysteresis`` below."""
    warning, critical = thresholds(category, policy)
    keep = 1.0 - policy.hysteresis
    if value >= critical or (active == "critical" and value >= critical * keep):
        return "critical"
    if value >= warning or (active is not None and value >= warning * keep):
        return "warning"
    return None


class AlertBook:
    """Active alerts by category, their history (bounded) and the callbacks to tell."""

    def __init__(self, history_size: int = 1000) -> None:
        self.active: dict[str, Alert] = {}
        self.history: deque[Alert] = deque(maxlen=history_size)
        self._callbacks: list[AlertCallback] = []

    def subscribe(self, callback: AlertCallback) -> None:
        self._callbacks.append(callback)

    def _tell(self, alert: Alert, event: Literal["raised", "resolved"]) -> None:
        for callback in self._callbacks:
            try:
                callback(alert, event)
            except Exception:  # one broken callback must not silence the others
                _log.exception("alert callback %r failed", callback)

    def update(
        self,
        category: str,
        severity: Severity | None,
        value: float,
        threshold: float,
        message: str,
        now: float,
    ) -> None:
        """Raise, change or resolve ``category``'s alert to match ``severity``."""
        current = self.active.get(category)
        if current is not None and current.severity == severity:
            current.value = value
            return
        if current is not None:
            current.resolved_at = now
            del self.active[category]
            self._tell(current, "resolved")
        if severity is not None:
            alert = Alert(category, severity, value, threshold, message, raised_at=now)
            self.active[category] = alert
            self.history.append(alert)
            self._tell(alert, "raised")
