"""Free ports for a throw-away stack: distinct, so no two components are given the same one."""

from __future__ import annotations

import socket

from otelpipe.stack.ephemeral import free_ports


def test_free_ports_are_distinct_and_free() -> None:
    # Ports probed one at a time repeat: among 500, nearly always (a CI run got
    # one port for two components of a stack of 11).
    ports = free_ports(500)
    assert len(set(ports)) == len(ports)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", ports[0]))
