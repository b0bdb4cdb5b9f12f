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
from typing import Any

from processors.targets import Targets

__all__ = ["CATEGORY_ATTRIBUTE", "Classifier"]

CATEGORY_ATTRIBUTE = "otelpipe.category"
_ROUTE_CACHE_LIMIT = 1024


class Classifier:
    """Maps what a span says about itself to a category name of ``targets``, or None."""

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

    def __call__(
        self, server: bool, category: Any, tier: Any, route: Any, database: bool
    ) -> str | None:
        """The category of a span: is it a server span, its ``otelpipe.category``,
        ``cache.tier`` and ``http.route`` attributes, does it carry a database system."""
        if category == "cache":
            category = f"cache_{str(tier or 'L1').lower()}"
        elif category == "http" or (category is None and server):
            category = self.route_category(route) if isinstance(route, str) else None
        elif category is None and database:
            category = "database"
        return category if category in self._categories else None
