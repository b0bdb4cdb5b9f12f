"""A throw-away stack: its own state directory and free ports, stopped on exit.

For whatever must not clash with a stack a developer already runs — the
end-to-end tests and ``otelpipe bench``. Binaries come from the shared cache,
so nothing is rebuilt.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType

from otelpipe.stack.progress import Progress, quiet
from otelpipe.stack.settings import PORT_DEFAULTS, StackSettings
from otelpipe.stack.supervisor import down, up

__all__ = ["BlackHole", "ephemeral_stack", "free_port", "free_ports"]


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback TCP ports nothing listens on right now.

    Every probe stays bound until all are picked: released one at a time, the
    kernel may hand the same port out twice.
    """
    with contextlib.ExitStack() as probes:
        ports = []
        for _ in range(count):
            probe = probes.enter_context(socket.socket())
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
        return ports


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    return free_ports(1)[0]


class BlackHole:
    """An endpoint that accepts connections and never answers: the worst broken collector.

    A dead collector refuses the connection at once; this one lets every call
    wait for its own timeout. Connections are held until the block ends.

    >>> with BlackHole() as hole:
    ...     hole.url.startswith("http://127.0.0.1:"), hole.accepted
    (True, 0)
    """

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self.port: int = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def accepted(self) -> int:
        """Connections accepted so far: a client that connected is now waiting on it."""
        return len(self._held)

    def _accept(self) -> None:
        while True:
            try:
                self._held.append(self._server.accept()[0])
            except OSError:  # closed on exit
                return

    def __enter__(self) -> BlackHole:
        threading.Thread(target=self._accept, name="black-hole", daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.close()
        for connection in self._held:
            connection.close()


@contextlib.contextmanager
def ephemeral_stack(
    home: Path, progress: Progress = quiet, extra_env: Mapping[str, str] | None = None
) -> Iterator[StackSettings]:
    """Start a stack under ``home`` on free ports; yield its settings; stop it on exit.

    While it runs, ``os.environ`` holds its ``OTELPIPE_*`` variables (and
    ``extra_env``, e.g. shorter collector flush intervals), so code that reads
    :meth:`StackSettings.from_env` finds this stack; they are restored on exit.

    Raises:
        StackError, BuildError: as :func:`~otelpipe.stack.up`; what started is stopped.
    """
    env = {
        "OTELPIPE_HOME": str(home),
        "OTELPIPE_CACHE_DIR": str(StackSettings.from_env().cache_dir),
        **(extra_env or {}),
    }
    ports = zip(PORT_DEFAULTS, free_ports(len(PORT_DEFAULTS)), strict=True)
    env.update({f"OTELPIPE_{name.upper()}_PORT": str(port) for name, port in ports})
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    settings = StackSettings.from_env()
    try:
        up(settings, progress)
        yield settings
    finally:
        down(settings, progress)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
