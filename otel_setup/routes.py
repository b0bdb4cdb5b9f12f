"""Bounded route labels for requests that matched no route.

A 404 for ``/users/8412/orders`` must not create a new span name and metric
series per id. :class:`UnmatchedRoutes` turns the path into a template —
numbers become ``{id}``, UUIDs ``{uuid}``, long hex/base64-like segments
``{token}``, segments holding a secret (an e-mail address, ``password=…``)
``{secret}`` — and keeps at most ``max_labels`` distinct templates; every
further one is reported as ``/{unmatched}``. Memory and label count stay
bounded whatever paths clients send.

>>> routes = UnmatchedRoutes(max_labels=2)
>>> routes("/users/8412/orders"), routes("/files/3f2a9c0e-7b1d-4c8e-9a2f-1b2c3d4e5f60")
('/users/{id}/orders', '/files/{uuid}')
>>> routes("/anything/else")
'/{unmatched}'
"""

from __future__ import annotations

import re
import threading

from processors.scrub import scrub_text

__all__ = ["UNMATCHED", "UnmatchedRoutes"]

UNMATCHED = "/{unmatched}"
_MAX_SEGMENTS = 8
_MAX_SEGMENT_LENGTH = 40

_RULES = (
    (re.compile(r"\d+"), "{id}"),
    (
        re.compile(
            r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
        ),
        "{uuid}",
    ),
    (re.compile(r"[0-9a-fA-F]{16,}|(?=[^/]*\d)[A-Za-z0-9_~+=-]{20,}"), "{token}"),
)
_PRINTABLE = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%-]+")


def _segment(segment: str) -> str:
    for pattern, template in _RULES:
        if pattern.fullmatch(segment):
            return template
    if len(segment) > _MAX_SEGMENT_LENGTH or not _PRINTABLE.fullmatch(segment):
        return "{segment}"
    if scrub_text(segment) != segment:
        return "{secret}"
    return segment


class UnmatchedRoutes:
    """Callable mapping an unmatched path to one of at most ``max_labels`` templates."""

    __slots__ = ("_lock", "_max_labels", "_seen")

    def __init__(self, max_labels: int = 20) -> None:
        self._max_labels = max_labels
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, path: str) -> str:
        segments = [s for s in path.split("/") if s]
        if len(segments) > _MAX_SEGMENTS:
            return UNMATCHED
        template = "/" + "/".join(_segment(s) for s in segments)
        if template in self._seen:
            return template
        with self._lock:
            if len(self._seen) < self._max_labels:
                self._seen.add(template)
                return template
        return UNMATCHED
