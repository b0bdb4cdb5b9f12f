"""Small helpers shared by unit and end-to-end tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from otelpipe.stack.ephemeral import free_port

__all__ = ["black_hole", "eventually", "free_port"]

T = TypeVar("T")


@contextlib.contextmanager
def black_hole() -> Iterator[str]:
    """An endpoint that accepts connections and never answers: the worst broken collector."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for conn in held:
            conn.close()


def eventually(probe: Callable[[], T], *, timeout_s: float = 60.0, what: str) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: nothing after {timeout_s:.0f}s")
        time.sleep(1.0)
