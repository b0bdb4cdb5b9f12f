"""Which PRD category a span belongs to.

In order:

1. ``otelpipe.category`` set by the ``otel_setup`` helpers and hooks:
   ``cache`` becomes ``cache_l1``/``cache_l2``/``cache_l3`` by ``cache.tier``,
   ``http`` goes to the route rules; any other value is used as it is;
2. a database span by its attributes (``db.system`` or ``db.system.name``);
3. an HTTP server span by the first route rule whose glob matches ``http.route``.

Spans that match nothing (internal spans, HTTP client calls) are not graded.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import SpanKind

from processors.targets import Targets

__all__ = ["CATEGORY_ATTRIBUTE", "Classifier"]

CATEGORY_ATTRIBUTE = "otelpipe.category"
_ROUTE_CACHE_LIMIT = 1024


class Classifier:
    """Maps (kind, attributes) to a category name of ``targets``, or None."""

    __slots__ = ("_categories", "_route_cache", "_routes")

    def __init__(self, targets: Targets) -> None:
        self._categories = targets.categories
        self._routes = targets.routes
        self._route_cache: dict[str, str | None] = {}

    def route_category(self, route: str) -> str | None:
        """The category of an HTTP route template (memoised; templates are few)."""
        if route in self._route_cache:
            return self._route_cache[route]
        found = next(
            (r.category for r in self._routes if fnmatch.fnmatchcase(route, r.match)), None
        )
        if len(self._route_cache) < _ROUTE_CACHE_LIMIT:
            self._route_cache[route] = found
        return found

    def __call__(self, kind: SpanKind, attributes: Mapping[str, Any]) -> str | None:
        category = attributes.get(CATEGORY_ATTRIBUTE)
        if category == "cache":
            category = f"cache_{str(attributes.get('cache.tier', 'L1')).lower()}"
        elif category == "http" or (category is None and kind is SpanKind.SERVER):
            route = attributes.get("http.route")
            category = self.route_category(route) if isinstance(route, str) else None
        elif category is None and ("db.system" in attributes or "db.system.name" in attributes):
            category = "database"
        return category if category in self._categories else None
