"""X-Request-ID: accept the client's, or make one; echo it and put it on the span and logs.

:class:`RequestIdMiddleware` is a plain ASGI middleware placed *outside* the
whole FastAPI stack (so even the 500 page of an unhandled exception carries
the header). It binds ``request_id`` into structlog's context variables for
the request, so every log line of the request has it, and leaves it in the
ASGI scope for the server span (see :func:`request_id_from_scope`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import MutableMapping
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SCOPE_KEY", "RequestIdMiddleware", "request_id_from_scope"]

SCOPE_KEY = "otelpipe.request_id"
#: A client-supplied id is kept only if it is short and plain; anything else
#: (too long, spaces, control or non-ASCII bytes) is replaced by a new id.
_VALID_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def request_id_from_scope(scope: MutableMapping[str, Any]) -> str | None:
    return scope.get(SCOPE_KEY)


class RequestIdMiddleware:
    """Give every HTTP request an id, echoed in the response header ``header``."""

    # ``app`` (not ``_app``): FastAPI walks ``.app`` down the built stack to
    # find the contrib OpenTelemetryMiddleware and, finding it, switches its
    # own native telemetry off instead of tracing every request twice.
    __slots__ = ("_header", "_header_key", "app")

    def __init__(self, app: ASGIApp, header: str = "X-Request-ID") -> None:
        self.app = app
        self._header = header
        self._header_key = header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((value for key, value in scope["headers"] if key == self._header_key), b"")
        request_id = incoming.decode("ascii") if _VALID_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope[SCOPE_KEY] = request_id
        encoded = request_id.encode("ascii")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != self._header_key]
                headers.append((self._header_key, encoded))
                message["headers"] = headers
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
