"""A collector that holds every export never holds a request: export runs beside the service.

No timing is asserted: the exports are stuck for the whole test (their timeout
is ten minutes), so a request that waited for one would never be answered.
"""

from __future__ import annotations

import threading

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient

from otelpipe.stack.ephemeral import BlackHole
from tests.support import eventually

#: Enough for several export batches of spans and of log records.
REQUESTS = 1_500
#: Only a request stuck behind an export could take this long; it fails the test, not CI's clock.
HANG_S = 120.0


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        structlog.get_logger("shop").info("item served", item_id=item_id)
        return {"id": item_id}

    return app


def test_requests_are_answered_while_a_black_hole_holds_every_export(
    instrument, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "600")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    monkeypatch.setenv("OTEL_BLRP_SCHEDULE_DELAY", "50")
    app = _app()
    with BlackHole() as hole:
        telemetry, _ = instrument(app, otlp_endpoint=hole.url)
        statuses: list[int] = []

        def serve() -> None:
            with TestClient(app) as client:
                client.get("/items/0")
                # From here on an export is in flight and cannot finish.
                eventually(lambda: hole.accepted, timeout_s=30, what="an export to the black hole")
                statuses.extend(client.get(f"/items/{i}").status_code for i in range(REQUESTS))

        requests = threading.Thread(target=serve, daemon=True)
        requests.start()
        requests.join(HANG_S)
        assert not requests.is_alive(), f"requests stuck: {len(statuses)} of {REQUESTS} answered"
        counts = telemetry.export_counts()

    assert statuses == [200] * REQUESTS
    spans, logs = counts["spans"], counts["log_records"]
    # Still stuck, not given up: every item is queued, in the stuck export, or dropped.
    assert spans.exported == spans.failed == logs.exported == logs.failed == 0, counts
    assert spans.unsent + spans.dropped_queue_full == REQUESTS + 1  # one server span each
    assert logs.unsent + logs.dropped_queue_full >= REQUESTS + 1  # "item served", at least
