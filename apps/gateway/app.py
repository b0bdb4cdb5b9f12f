"""Demo API gateway, instrumented by one ``setup_telemetry`` call and the ``track`` helpers.

A look-up of ``/items/{item_id}`` authenticates the caller, then tries an
in-process L1 cache, Redis (L2) and finally a SQL database — so one request
shows every category the processors grade. ``POST /checkout/{item_id}``
authorises, queues the order and pays through the payments service
(``apps.payments``, at ``PAYMENTS_URL``): one distributed trace across both
services. A background job refreshes prices every few seconds. ``/reports/slow``
runs a query that takes ``delay_ms`` (for the slow-query log); ``/error``
always fails.

Run it against the local stack (``otelpipe stack up``)::

    REDIS_URL=redis://127.0.0.1:6379/0 PAYMENTS_URL=http://127.0.0.1:8001 \\
        uvicorn apps.gateway.app:app --port 8000
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
import redis.asyncio as redis
import sqlalchemy
import structlog
from fastapi import FastAPI, HTTPException, Query

from apps.database import SQLiteDatabase
from apps.gateway.instrumentation import instrument
from otel_setup import track

log = structlog.get_logger("apps.gateway")

#: Simulated cost of verifying a token, in seconds (well inside the 30 ms grade-A target).
AUTH_SECONDS = 0.002
L1_SIZE = 100


def _seed(conn: sqlalchemy.Connection) -> None:
    conn.execute(sqlalchemy.text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"))
    conn.execute(
        sqlalchemy.text("INSERT INTO items (id, name) VALUES (:id, :name)"),
        [{"id": i, "name": f"item-{i}"} for i in range(1, 1001)],
    )


@track.job("refresh_prices")
async def refresh_prices() -> None:
    """A background job: reload a few items into the L1 cache."""
    await asyncio.sleep(0.005)
    for item_id in range(1, 6):
        l1_cache[item_id] = await asyncio.to_thread(_load_item, item_id)


async def run_jobs(every_s: float) -> None:
    while True:
        try:
            await refresh_prices()
        except Exception:
            log.exception("refresh_prices failed")
        track.queue_size("orders", len(pending_orders))
        await asyncio.sleep(every_s)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.redis = redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    app.state.payments = httpx.AsyncClient(
        base_url=os.environ.get("PAYMENTS_URL", "http://127.0.0.1:8001"), timeout=5
    )
    jobs = asyncio.create_task(run_jobs(float(os.environ.get("GATEWAY_JOB_INTERVAL", "2"))))
    yield
    jobs.cancel()
    await app.state.redis.aclose()
    await app.state.payments.aclose()
    database.close()
    shutdown_telemetry()


app = FastAPI(title="otel-perf-pipeline demo gateway", lifespan=lifespan)
# otel_setup by default; OTELPIPE_BENCH_MODE=bare|stock gives the benchmark its baselines.
shutdown_telemetry = instrument(app, os.environ.get("OTEL_SERVICE_NAME", "gateway"))
database = SQLiteDatabase("gateway", _seed)
l1_cache: dict[int, str] = {}
pending_orders: list[int] = []


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/items")
async def list_items(limit: Annotated[int, Query(ge=1, le=1000)] = 10) -> list[dict[str, object]]:
    """The first ``limit`` items straight from the database: latency grows with the
    dataset, for reference 004's small/large dataset tests (``otelpipe load -e``)."""
    return await asyncio.to_thread(_list_items, limit)


def _list_items(limit: int) -> list[dict[str, object]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            sqlalchemy.text("SELECT id, name FROM items ORDER BY id LIMIT :limit"), {"limit": limit}
        )
        return [{"id": row.id, "name": row.name} for row in rows]


@app.get("/items/{item_id}")
async def get_item(item_id: int) -> dict[str, object]:
    with track.authentication(method="token"):
        await asyncio.sleep(AUTH_SECONDS)
    with track.cache("L1", name="items") as l1:
        name = l1_cache.get(item_id)
        l1.hit = name is not None
    source = "l1"
    if name is None:
        cache: redis.Redis = app.state.redis
        cached = await cache.get(f"item:{item_id}")
        source = "l2"
        if cached is None:
            name = await asyncio.to_thread(_load_item, item_id)
            await cache.set(f"item:{item_id}", name, ex=60)
            source = "db"
        else:
            name = cached.decode()
        if len(l1_cache) >= L1_SIZE:
            l1_cache.pop(next(iter(l1_cache)))
        l1_cache[item_id] = name
    log.info("item served", item_id=item_id, source=source)
    return {"id": item_id, "name": name, "source": source}


def _load_item(item_id: int) -> str:
    with database.engine.connect() as conn:
        row = conn.execute(
            sqlalchemy.text("SELECT name FROM items WHERE id = :id"), {"id": item_id}
        ).first()
    return row[0] if row else f"item-{item_id}"


@app.post("/checkout/{item_id}")
async def checkout(
    item_id: int,
    fail_rate: Annotated[float | None, Query(ge=0, le=1)] = None,
    delay_ms: Annotated[int | None, Query(ge=0, le=10_000)] = None,
) -> dict[str, object]:
    """Authorise, then pay through the payments service (``fail_rate``/``delay_ms`` go with it)."""
    with track.authentication(method="token"):
        await asyncio.sleep(AUTH_SECONDS)
    with track.authorization("orders", "create"):
        await asyncio.sleep(0.001)
    pending_orders.append(item_id)
    enqueued = time.monotonic()
    payments: httpx.AsyncClient = app.state.payments
    knobs = {"fail_rate": fail_rate, "delay_ms": delay_ms}
    try:
        response = await payments.post(
            "/payments",
            json={"item_id": item_id, "amount_cents": 100 * item_id},
            params={name: value for name, value in knobs.items() if value is not None},
            extensions={"peer.service": "payments"},
        )
    except httpx.HTTPError as exc:
        raise HTTPException(status_code=503, detail=f"payments unavailable: {exc!r}") from None
    finally:
        pending_orders.remove(item_id)
        track.queue_wait("orders", time.monotonic() - enqueued)
    if response.is_error:
        raise HTTPException(
            status_code=502 if response.status_code >= 500 else response.status_code,
            detail=f"payments answered {response.status_code}: {response.text[:200]}",
        )
    return {"id": item_id, "status": "paid", "payment_id": response.json()["payment_id"]}


@app.get("/error")
async def error() -> None:
    """Always answers 500: error rates, error spans and SPM's error series need some errors."""
    raise HTTPException(status_code=500, detail="deliberate failure for the demo")


@app.get("/reports/slow")
def slow_report(delay_ms: Annotated[int, Query(ge=0, le=10_000)] = 1200) -> dict[str, int]:
    with database.engine.connect() as conn:
        conn.execute(sqlalchemy.text("SELECT sleep_ms(:ms), count(*) FROM items"), {"ms": delay_ms})
    return {"delay_ms": delay_ms}
