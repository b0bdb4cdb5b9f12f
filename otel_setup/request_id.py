"""X-Request-ID: accept the client's, or make one.

The server middleware (:mod:`otel_setup.instrument.http_server`) calls
:func:`accept_or_make` on the request's header, echoes the result in the
response, puts it on the server span as ``request.id`` and binds it into
structlog's context variables for the request, so every log line of the
request carries it.

>>> accept_or_make(b"req-7.a:b")
'req-7.a:b'
>>> len(accept_or_make(b"has space"))
32
"""

from __future__ import annotations

import random
import re

__all__ = ["accept_or_make"]

#: A client-supplied id is kept only if it is short and plain; anything else
#: (too long, spaces, control or non-ASCII bytes) is replaced by a new id.
_VALID_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
#: An id names a request, it guards nothing: a fast generator will do (the
#: SDK's trace ids come from the same one), no system call per request.
_random_bits = random.getrandbits


def accept_or_make(incoming: bytes | None) -> str:
    """The client's id if it is plain (``[A-Za-z0-9._:-]``, 1 to 128 characters),
    else a new one of 32 hex digits."""
    if incoming and _VALID_ID.fullmatch(incoming):
        return incoming.decode("ascii")
    return _random_bits(128).to_bytes(16, "big").hex()
