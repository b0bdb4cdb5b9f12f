"""The heap the app starts with is frozen once, when it has started: full collections skip it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from otel_setup import heap
from otel_setup.instrument import fastapi as fastapi_instrumentation


@pytest.fixture
def unfrozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A process whose heap was never frozen, restored afterwards so nothing is kept."""
    gc.unfreeze()
    monkeypatch.setattr(heap, "_frozen", False)
    yield
    gc.unfreeze()


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ping": "pong"}

    return app


def _tracked(obj: object) -> bool:
    """Whether the collector still traverses ``obj`` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


@pytest.mark.usefixtures("unfrozen")
def test_the_startup_heap_is_frozen_once_the_app_has_started(instrument) -> None:
    app = _app()
    instrument(app, gc_freeze=True)
    from_startup = [object()]
    assert gc.get_freeze_count() == 0, "not at setup: the app has not started yet"
    with TestClient(app) as client:
        assert gc.get_freeze_count() > 0
        assert not _tracked(from_startup)
        made_later = [object()]
        assert _tracked(made_later)
        assert client.get("/ping").json() == {"ping": "pong"}
    assert heap.freeze_startup_heap() is False, "once per process"


@pytest.mark.usefixtures("unfrozen")
def test_gc_freeze_false_leaves_the_heap_alone(instrument) -> None:
    app = _app()
    instrument(app, gc_freeze=False)
    with TestClient(app) as client:
        assert client.get("/ping").status_code == 200
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("unfrozen")
def test_a_failing_startup_hook_never_stops_the_app(
    instrument, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> bool:
        raise RuntimeError("no freezing today")

    monkeypatch.setattr(fastapi_instrumentation, "freeze_startup_heap", broken)
    app = _app()
    instrument(app, gc_freeze=True)
    with TestClient(app) as client:
        assert client.get("/ping").status_code == 200
    assert "the startup hook of the telemetry failed" in caplog.text
