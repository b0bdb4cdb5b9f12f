"""Undecodable request bytes made safe before anything reads them as text.

An ASGI server hands the path over as ``str``, the query string and headers
as ``bytes``. None is guaranteed to be valid UTF-8: a path may carry lone
surrogates (undecodable bytes smuggled into a ``str``), a query string or a
header raw non-UTF-8 bytes. Left alone, the OTel ASGI instrumentation raises
``UnicodeDecodeError`` on such a query string or header (a 500, and no span),
FastAPI cannot render the 422 of such a path (a 500), and the OTLP encoder
refuses the span. :class:`CleanScopeMiddleware` fixes the scope once, at the
edge: lone surrogates in the path become U+FFFD, non-ASCII bytes of an
invalid query string are percent-encoded (``%FF``, what a careful client
would have sent), invalid UTF-8 sequences in a header become U+FFFD. Valid
requests cost an ``isascii()`` per path, query string and header.
"""

from __future__ import annotations

import re
import urllib.parse

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["CleanScopeMiddleware"]

_SURROGATES = re.compile("[\ud800-\udfff]")
#: Every ASCII byte stays as it is; only bytes >= 0x80 are percent-encoded.
_ASCII = bytes(range(128))


def _clean_path(path: str) -> str:
    return _SURROGATES.sub("\ufffd", path)


def _clean_query(query: bytes) -> bytes:
    try:
        query.decode("utf-8")
    except UnicodeDecodeError:
        return urllib.parse.quote_from_bytes(query, safe=_ASCII).encode("ascii")
    return query


def _clean_header(item: bytes) -> bytes:
    return item if item.isascii() else item.decode("utf-8", "replace").encode("utf-8")


def _clean_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(_clean_header(name), _clean_header(value)) for name, value in headers]


class CleanScopeMiddleware:
    """Make the path, query string and headers of HTTP and WebSocket scopes valid UTF-8."""

    # ``app``: FastAPI walks ``.app`` down the stack (see request_id.py).
    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = scope.get("path", "")
            if not path.isascii():
                scope["path"] = _clean_path(path)
            query = scope.get("query_string", b"")
            if not query.isascii():
                scope["query_string"] = _clean_query(query)
            headers = scope.get("headers", ())
            if not all(name.isascii() and value.isascii() for name, value in headers):
                scope["headers"] = _clean_headers(headers)
        await self.app(scope, receive, send)
