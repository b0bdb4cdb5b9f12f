"""The demo services' SQL database: a SQLite file of each process's own.

Each connection gets ``sleep_ms(n)``, a SQL function that takes as long as it
is asked to, so a service can run a deliberately slow query for the slow-query
log without a real database server.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable

import sqlalchemy
from sqlalchemy import event

__all__ = ["SQLiteDatabase"]


def _sleep_ms(ms: float) -> float:
    time.sleep(ms / 1000)
    return ms


class SQLiteDatabase:
    """A fresh database file, created by ``seed`` in one transaction; ``close()`` removes it.

    Call ``close()`` from the app's lifespan shutdown: uvicorn ends a graceful
    shutdown by re-raising the signal it caught, so the interpreter's exit
    handlers (which would remove the file otherwise) never run under it.

    SQLAlchemy pools one connection per thread: sharing one connection between
    threads can deadlock SQLite's mutex against the GIL while a query runs a
    Python function such as ``sleep_ms``.
    """

    def __init__(self, name: str, seed: Callable[[sqlalchemy.Connection], None]) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix=f"otelpipe-{name}-")
        self.engine = sqlalchemy.create_engine(f"sqlite:///{self._directory.name}/{name}.db")

        @event.listens_for(self.engine, "connect")
        def add_sleep(connection, _record) -> None:  # type: ignore[no-untyped-def]
            connection.create_function("sleep_ms", 1, _sleep_ms)

        with self.engine.begin() as conn:
            seed(conn)

    def close(self) -> None:
        """Close every pooled connection and remove the file; safe to call twice."""
        self.engine.dispose()
        self._directory.cleanup()
