"""The demo services' SQL database: a SQLite file of each process's own, removed at exit.

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

__all__ = ["sqlite_engine"]

#: Kept alive for the life of the process; each directory is removed at exit.
_DIRECTORIES: list[tempfile.TemporaryDirectory[str]] = []


def _sleep_ms(ms: float) -> float:
    time.sleep(ms / 1000)
    return ms


def sqlite_engine(name: str, seed: Callable[[sqlalchemy.Connection], None]) -> sqlalchemy.Engine:
    """A SQLAlchemy engine on a fresh database file, created by ``seed`` in one transaction.

    SQLAlchemy pools one connection per thread: sharing one connection between
    threads can deadlock SQLite's mutex against the GIL while a query runs a
    Python function such as ``sleep_ms``.
    """
    directory = tempfile.TemporaryDirectory(prefix=f"otelpipe-{name}-")
    _DIRECTORIES.append(directory)
    engine = sqlalchemy.create_engine(f"sqlite:///{directory.name}/{name}.db")

    @event.listens_for(engine, "connect")
    def add_sleep(connection, _record) -> None:  # type: ignore[no-untyped-def]
        connection.create_function("sleep_ms", 1, _sleep_ms)

    with engine.begin() as conn:
        seed(conn)
    return engine
