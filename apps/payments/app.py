"""Demo payments service: the gateway's checkouts end here, one distributed trace per checkout.

``POST /payments`` reserves stock in its own SQL database, charges a simulated
card provider (an external call) and records the payment. It fails or slows
down on demand, so grades, alerts and the slow-query log have something to
show: ``fail_rate`` (0-1) is the chance the provider declines with a 502, and
``delay_ms`` slows the stock query down. Both come from the query string, or
from ``PAYMENTS_FAIL_RATE`` / ``PAYMENTS_DELAY_MS`` when the query says nothing.

    uvicorn apps.payments.app:app --port 8001
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import sqlalchemy
import structlog
from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

from apps.database import SQLiteDatabase
from otel_setup import setup_telemetry, track

log = structlog.get_logger("apps.payments")

#: Simulated latency of the card provider, in seconds.
PROVIDER_SECONDS = 0.02
INITIAL_STOCK = 1_000_000


class CardDeclined(Exception):
    """The (simulated) card provider said no."""


class Payment(BaseModel):
    item_id: Annotated[int, Field(ge=1)]
    amount_cents: Annotated[int, Field(gt=0)]


def _seed(conn: sqlalchemy.Connection) -> None:
    conn.execute(sqlalchemy.text("CREATE TABLE stock (item_id INTEGER PRIMARY KEY, left INTEGER)"))
    conn.execute(
        sqlalchemy.text("INSERT INTO stock (item_id, left) VALUES (:id, :left)"),
        [{"id": i, "left": INITIAL_STOCK} for i in range(1, 1001)],
    )
    conn.execute(
        sqlalchemy.text(
            "CREATE TABLE payments (id INTEGER PRIMARY KEY, item_id INTEGER, amount_cents INTEGER)"
        )
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    database.close()
    telemetry.shutdown()


app = FastAPI(title="otel-perf-pipeline demo payments", lifespan=lifespan)
telemetry = setup_telemetry(app, service_name=os.environ.get("OTEL_SERVICE_NAME", "payments"))
database = SQLiteDatabase("payments", _seed)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def _reserve(item_id: int, delay_ms: int) -> bool:
    with database.engine.begin() as conn:
        reserved = conn.execute(
            sqlalchemy.text(
                # sleep_ms() in the WHERE clause makes this very statement slow on demand.
                "UPDATE stock SET left = left - 1 "
                "WHERE item_id = :id AND left > 0 AND sleep_ms(:ms) >= 0"
            ),
            {"id": item_id, "ms": delay_ms},
        )
        return reserved.rowcount == 1


def _record(payment: Payment) -> int:
    with database.engine.begin() as conn:
        row = conn.execute(
            sqlalchemy.text(
                "INSERT INTO payments (item_id, amount_cents) VALUES (:item, :amount) RETURNING id"
            ),
            {"item": payment.item_id, "amount": payment.amount_cents},
        ).one()
    return int(row[0])


@app.post("/payments", status_code=201)
async def create_payment(
    payment: Payment,
    fail_rate: Annotated[float | None, Query(ge=0, le=1)] = None,
    delay_ms: Annotated[int | None, Query(ge=0, le=10_000)] = None,
) -> dict[str, object]:
    """Reserve stock, charge the card, record the payment."""
    fail_rate = float(os.environ.get("PAYMENTS_FAIL_RATE", "0")) if fail_rate is None else fail_rate
    delay_ms = int(os.environ.get("PAYMENTS_DELAY_MS", "0")) if delay_ms is None else delay_ms
    if not await asyncio.to_thread(_reserve, payment.item_id, delay_ms):
        raise HTTPException(status_code=409, detail=f"item {payment.item_id} is out of stock")
    try:
        with track.external("cardprovider", "charge"):  # a decline marks this span as failed
            await asyncio.sleep(PROVIDER_SECONDS)
            if random.random() < fail_rate:
                raise CardDeclined
    except CardDeclined:
        log.warning("card declined", item_id=payment.item_id)
        raise HTTPException(
            status_code=502, detail="the card provider declined the charge"
        ) from None
    payment_id = await asyncio.to_thread(_record, payment)
    log.info("payment captured", payment_id=payment_id, item_id=payment.item_id)
    return {"payment_id": payment_id, "item_id": payment.item_id, "status": "captured"}
