"""A service that handles secrets carelessly, for the secrets scan (test_secrets.py).

Instrumented the way a user's app is: one :func:`otel_setup.setup_telemetry`
call, the ``track`` helpers and the OpenTelemetry API. Everything else is what
a careless author writes: credentials in query strings, logged headers, SQL
built with f-strings, exception messages quoting the credentials, secrets as
span and metric attributes. Only the telemetry library stands between these
secrets and the backends.

Run by the test through :func:`otelpipe.demo.start_service`; ``REDIS_URL``
points at the stack's Redis.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import redis.asyncio as redis
import sqlalchemy
import structlog
from fastapi import FastAPI, Request, Response
from opentelemetry import metrics, trace

from apps.database import SQLiteDatabase
from otel_setup import setup_telemetry, track

log = structlog.get_logger("careless")
stdlib_log = logging.getLogger("careless.stdlib")


class LoginFailed(Exception):
    """A login that went wrong, saying far too much about why."""


def _seed(conn: sqlalchemy.Connection) -> None:
    conn.execute(
        sqlalchemy.text(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE, password TEXT)"
        )
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.redis = redis.from_url(os.environ["REDIS_URL"])
    app.state.http = httpx.AsyncClient(timeout=5)
    yield
    await app.state.redis.aclose()
    await app.state.http.aclose()
    database.close()
    telemetry.shutdown()


app = FastAPI(title="careless", lifespan=lifespan)
telemetry = setup_telemetry(app)
database = SQLiteDatabase("careless", _seed)
logins = metrics.get_meter("careless").create_counter("careless.logins", unit="{login}")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/login")
async def login(
    request: Request, user: str, email: str, password: str, api_key: str, token: str
) -> Response:
    """Every careless habit at once; answers 200 and sets a session cookie."""
    span = trace.get_current_span()
    span.set_attribute("user.password", password)
    span.set_attribute("enduser.email", email)
    span.set_attribute("app.credentials", f"email={email} password={password}")
    span.add_event(f"login attempt by {email}", {"api_key": api_key, "detail": f"token={token}"})
    audit_link = trace.Link(
        span.get_span_context(), {"enduser.email": email, "note": f"password={password}"}
    )
    trace.get_tracer(__name__).start_span("login audit", links=[audit_link]).end()
    authenticating = track.authentication(
        method="password", **{"enduser.id": email, "auth.token": token}
    )
    with authenticating, database.engine.connect() as conn:
        conn.execute(
            sqlalchemy.text(
                f"SELECT id FROM users WHERE email = '{email}' AND password = '{password}'"
            )
        )
    cache: redis.Redis = app.state.redis
    await cache.set(f"session:{token}", email, ex=60)
    await cache.get(f"api_key:{api_key}")
    with track.external("self", "health"):
        await app.state.http.get(
            f"{request.base_url}health", params={"token": token, "api_key": api_key}
        )
    logins.add(1, {"user.email": email, "login.method": "password"})
    track.queue_size(f"welcome-mails:{email}", 1)
    log.info("login", user=user, password=password, user_email=email, token=token)
    log.info(f"login attempt for {email} with password={password} and api_key={api_key}")
    log.info("login for %s with password=%s", email, password)
    log.info("request headers", headers=dict(request.headers), cookies=dict(request.cookies))
    stdlib_log.info("api key %s, authorization %s", api_key, request.headers["authorization"])
    response = Response("welcome")
    response.set_cookie("session", request.cookies.get("session", token))
    return response


@app.get("/reports/slow")
def slow_report(email: str, password: str) -> dict[str, str]:
    """A slow query with the credentials as literals: it lands in the slow-query log."""
    with database.engine.connect() as conn:
        conn.execute(
            sqlalchemy.text(
                "SELECT sleep_ms(300), (SELECT id FROM users "
                f"WHERE email = '{email}' AND password = '{password}')"
            )
        )
    return {"status": "done"}


@app.get("/register")
def register(email: str, password: str) -> dict[str, str]:
    """Insert a user; the second registration of an e-mail fails, and says with what."""
    try:
        with database.engine.begin() as conn:
            conn.execute(
                sqlalchemy.text("INSERT INTO users (email, password) VALUES (:email, :password)"),
                {"email": email, "password": password},
            )
    except sqlalchemy.exc.IntegrityError as exc:
        trace.get_current_span().record_exception(exc)
        log.exception("register failed", email=email)
        log.warning("register failed", error=exc)
        return {"status": "exists"}
    return {"status": "created"}


@app.get("/audit")
def audit(email: str, password: str) -> dict[str, str]:
    """An insert built with literals into a table that is not there: SQLAlchemy's error
    message quotes the statement, literals and all."""
    try:
        with database.engine.begin() as conn:
            conn.execute(
                sqlalchemy.text(
                    f"INSERT INTO audit (email, password) VALUES ('{email}', '{password}')"
                )
            )
    except sqlalchemy.exc.OperationalError as exc:
        trace.get_current_span().record_exception(exc)
        log.exception("audit failed")
        return {"status": "failed"}
    return {"status": "written"}


@app.get("/crash")
async def crash(email: str, password: str, token: str) -> None:
    """An unhandled exception quoting the credentials: a 500, and a traceback in the logs."""
    try:
        raise LoginFailed(f"no user {email} with password={password}")
    except LoginFailed as exc:
        log.exception("login crashed", token=token)
        log.warning("login crashed", error=exc)
    raise LoginFailed(f"login failed for {email}: password={password}, Bearer {token}")
