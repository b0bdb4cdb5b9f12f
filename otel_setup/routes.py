"""Route labels of server spans and metrics: the template of the route that
served a request (:class:`RouteTemplates`), or a bounded one for a path no
route matched (:class:`UnmatchedRoutes`).

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
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

from starlette.routing import BaseRoute, Match, Mount

from processors.scrub import scrub_text

try:  # FastAPI >= 0.137.2; before it, included routes carry their full path
    from fastapi.routing import iter_route_contexts as _iter_route_contexts
except ImportError:  # pragma: no cover - depends on the installed FastAPI
    _iter_route_contexts = None

__all__ = ["UNMATCHED", "RouteTemplates", "UnmatchedRoutes"]

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


def _contexts(routes: Iterable[BaseRoute]) -> Iterator[Any]:
    if _iter_route_contexts is None:
        return iter(routes)
    return _iter_route_contexts(list(routes))


def _own_path(route: Any) -> str | None:
    return getattr(route, "path_format", None) or getattr(route, "path", None)


class RouteTemplates:
    """Callable giving the full path template of the route that served a request.

    Routing leaves the matched route in ``scope["route"]`` and the app that
    routed it in ``scope["app"]``; each Mount on the way grew ``root_path`` by
    its prefix. Since FastAPI 0.137, a route of an included router is left
    there with its own path, without the prefixes it was included under: the
    full template comes from the app's route contexts
    (``fastapi.routing.iter_route_contexts``), looked up once per route and
    kept, so a request costs a dictionary look-up, not a second route match.

    >>> from fastapi import APIRouter, FastAPI
    >>> app, router = FastAPI(), APIRouter(prefix="/users")
    >>> _ = router.get("/{user_id}")(lambda user_id: None)
    >>> app.include_router(router, prefix="/v1")
    >>> (route,) = [c.original_route for c in _contexts(app.routes) if c.name == "<lambda>"]
    >>> RouteTemplates()({"app": app, "route": route, "root_path": ""}, root_path="")
    '/v1/users/{user_id}'
    """

    __slots__ = ("_index",)

    #: Routes are few; an app that made new route objects per request must not
    #: grow this without end.
    MAX_ROUTES = 4096

    def __init__(self) -> None:
        # id(route) -> (route, its template or, for a router included more than
        # once, its candidate routes): routes compare by value and are unhashable;
        # the route is kept so that its id stays its own.
        self._index: dict[int, tuple[object, str | tuple[Any, ...] | None]] = {}

    def __call__(self, scope: MutableMapping[str, Any], root_path: str) -> str | None:
        """The template, or None when no route or mount matched.

        Args:
            scope: the ASGI scope after the app handled the request.
            root_path: ``scope["root_path"]`` before the app handled it.
        """
        route = scope.get("route")
        mounted = scope.get("root_path", "")[len(root_path) :]
        if route is None or isinstance(route, Mount):
            # Served by a mounted app without routes (static files, …), or by none.
            return f"{mounted}/{{path}}" if mounted else None
        known = self._index.get(id(route))
        if known is None or known[0] is not route:
            candidates = self._full_templates(scope.get("app"), route)
            known = (route, _own_path(candidates[0]) if len(candidates) == 1 else candidates)
            if len(self._index) >= self.MAX_ROUTES:
                self._index.clear()
            self._index[id(route)] = known
        path = known[1]
        if type(path) is tuple:  # one router included twice: whichever matches this request
            path = next(
                (_own_path(c) for c in path if c.matches(scope)[0] is Match.FULL),
                _own_path(route),
            )
        return None if path is None else mounted + path

    @staticmethod
    def _full_templates(app: Any, route: object) -> tuple[Any, ...]:
        contexts = tuple(c for c in _contexts(getattr(app, "routes", ())) if _original(c) is route)
        return contexts or (route,)


def _original(context: Any) -> object:
    return getattr(context, "original_route", context)
