"""``peer.service`` on outgoing httpx requests.

The called service is named by the request's ``peer.service`` extension when
the caller gives one, else after the host::

    await client.post("/payments", json=order, extensions={"peer.service": "payments"})
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Span

from otel_setup.instruments import CATEGORY

__all__ = ["httpx_async_request_hook", "httpx_request_hook"]


def _host(url: Any) -> str:
    if isinstance(url, tuple):  # raw (scheme, host, port, path) from the transport API
        return url[1].decode("ascii", "replace")
    return str(url.host)


def _peer_service(request: Any) -> str:
    named = (request.extensions or {}).get("peer.service")
    return named if isinstance(named, str) and named else _host(request.url)


def httpx_request_hook(span: Span, request: Any) -> None:
    """Name the called service (``payments`` for ``http://payments:8000``)."""
    if span.is_recording():
        span.set_attributes({CATEGORY: "http_client", "peer.service": _peer_service(request)})


async def httpx_async_request_hook(span: Span, request: Any) -> None:
    """:func:`httpx_request_hook` for ``httpx.AsyncClient`` (the instrumentation wants a coroutine)."""
    httpx_request_hook(span, request)
