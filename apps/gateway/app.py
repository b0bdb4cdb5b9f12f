"""Demo API gateway: item look-ups cached in Redis, instrumented by one ``setup_telemetry`` call.

Run it against the local stack (``otelpipe stack up``)::

    REDIS_URL=redis://127.0.0.1:6379/0 uvicorn apps.gateway.app:app --port 8000
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as redis
import structlog
from fastapi import FastAPI

from otel_setup import setup_telemetry

log = structlog.get_logger("apps.gateway")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.redis = redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    yield
    await app.state.redis.aclose()
    telemetry.shutdown()


app = FastAPI(title="otel-perf-pipeline demo gateway", lifespan=lifespan)
telemetry = setup_telemetry(app, service_name=os.environ.get("OTEL_SERVICE_NAME", "gateway"))


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/items/{item_id}")
async def get_item(item_id: int) -> dict[str, object]:
    cache: redis.Redis = app.state.redis
    key = f"item:{item_id}"
    cached = await cache.get(key)
    if cached is None:
        await cache.set(key, f"item-{item_id}", ex=60)
    log.info("item served", item_id=item_id, cache_hit=cached is not None)
    return {"id": item_id, "name": f"item-{item_id}", "cache_hit": cached is not None}
