"""Undecodable request bytes made safe before anything reads them as text.

An ASGI server hands the path over as ``str``, the query string and headers
as ``bytes``. None is guaranteed to be valid UTF-8: a path may carry lone
surrogates (undecodable bytes smuggled into a ``str``), a query string or a
header raw non-UTF-8 bytes. Left alone, reading such a query string or header
as text raises ``UnicodeDecodeError`` (a 500, and no span), FastAPI cannot
render the 422 of such a path (a 500), and the OTLP encoder refuses the span.
:func:`clean_scope`, the first thing the server middleware does, fixes the
scope once, at the edge: lone surrogates in the path become U+FFFD, non-ASCII
bytes of an invalid query string are percent-encoded (``%FF``, what a careful
client would have sent), invalid UTF-8 sequences in a header become U+FFFD.
Valid requests cost an ``isascii()`` per path, query string and header.
"""

from __future__ import annotations

import re
import urllib.parse

from starlette.types import Scope

__all__ = ["clean_scope"]

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


def clean_scope(scope: Scope) -> None:
    """Make the path, query string and headers of an HTTP or WebSocket scope valid UTF-8."""
    path = scope.get("path", "")
    if not path.isascii():
        scope["path"] = _clean_path(path)
    query = scope.get("query_string", b"")
    if not query.isascii():
        scope["query_string"] = _clean_query(query)
    headers = scope.get("headers", ())
    if not all(name.isascii() and value.isascii() for name, value in headers):
        scope["headers"] = _clean_headers(headers)
