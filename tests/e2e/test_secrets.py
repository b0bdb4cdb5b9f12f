"""Secrets sent everywhere reach no backend: Jaeger, Prometheus, log storage, every file.

A careless service (``careless_app.py``) gets passwords, bearer tokens, a JWT,
API keys, a session cookie and e-mail addresses in query strings, headers
(captured on the spans), SQL literals, bound SQL parameters, log fields and
messages, exception messages, span, event, link and metric attributes, a 404 path,
its resource attributes and its OTLP export headers; its access log is on.
Each value is a sentinel unique to the run, shaped the way the real secret is
(``password=…``, ``Authorization: Bearer …``, ``sk_live_…``, an e-mail).

After a graceful stop everything is read back and searched for every sentinel
and for any fragment of one (the run id they share): every trace of the
service from Jaeger's API, every series, label name and label value from
Prometheus' API, every file in log storage and every log file of the stack
(the service's stdout and access log, the slow-query log, the collector's,
Jaeger's, Prometheus' and Redis' own), and the raw bytes of Jaeger's,
Prometheus' and the collector's storage. The collector's ``redaction``
processor is a second line of defence, so a secret it masked (``****``) in a
value of an ordinary key counts as a leak too: the SDK must scrub before
export. The scan is shown to look at the right data: the run's traces, series
and log records are there, with ``[REDACTED]`` and ``[email]`` where the
secrets were.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from otelpipe import stack
from otelpipe.demo import start_service
from otelpipe.queries import iter_log_records, jaeger_traces, prometheus_query
from tests.support import eventually, free_port

pytestmark = pytest.mark.e2e

CARELESS_APP = "tests.e2e.careless_app:app"
#: Requests the service traces (its /health, called from /login, is not traced).
TRACED_REQUESTS = 7


@dataclass(frozen=True)
class Sentinels:
    """Secret values unique to one run, each containing :attr:`run`, shaped like the real thing."""

    run: str

    @property
    def values(self) -> dict[str, str]:
        run = self.run
        return {
            "password": f"pw-SENTINEL-{run}",
            "token": f"tok-SENTINEL-{run}",
            "jwt": f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZW50aW5lbCJ9.jwtSENTINEL{run}",
            "api key": f"sk_live_SENTINEL{run}",
            "cookie": f"cookie-SENTINEL-{run}",
            # Short enough (33 characters) to survive as a path segment of a 404's route.
            "email": f"sentinel.{run}@example.com",
            "owner email": f"owner.{run}@example.com",
            "OTLP header": f"otlp-SENTINEL-{run}",
        }

    def __getitem__(self, name: str) -> str:
        return self.values[name]


@dataclass(frozen=True)
class Run:
    service: str
    sentinels: Sentinels
    service_log: Path
    slow_query_log: Path


def _drive(url: str, s: Sentinels) -> None:
    credentials = {"email": s["email"], "password": s["password"]}
    headers = {
        "Authorization": f"Bearer {s['jwt']}",
        "Cookie": f"session={s['cookie']}",
        "X-Api-Key": s["api key"],
        "X-User-Email": s["email"],
    }
    with httpx.Client(base_url=url, timeout=10) as client:
        login = client.get(
            "/login",
            params={"user": "ann", **credentials, "api_key": s["api key"], "token": s["token"]},
            headers=headers,
        )
        assert login.status_code == 200, login.text
        assert client.get("/reports/slow", params=credentials).status_code == 200
        statuses = [client.get("/register", params=credentials).json()["status"] for _ in "12"]
        assert statuses == ["created", "exists"]
        assert client.get("/audit", params=credentials).json()["status"] == "failed"
        assert client.get(f"/users/{s['email']}/reset").status_code == 404
        # Last: the server closes the connection after an unhandled exception.
        crash = client.get("/crash", params={**credentials, "token": s["token"]})
        assert crash.status_code == 500


@pytest.fixture(scope="module")
def careless_run(stack_settings: stack.StackSettings) -> Iterator[Run]:
    """Start the careless service, send it every secret, stop it gracefully (flushing)."""
    sentinels = Sentinels(uuid.uuid4().hex[:12])
    service = f"careless-e2e-{uuid.uuid4().hex[:8]}"
    slow_query_log = stack_settings.logs_dir / f"{service}-slow-queries.jsonl"
    running = start_service(
        stack_settings,
        app=CARELESS_APP,
        service=service,
        port=free_port(),
        access_log=True,  # a line per request, query string and all
        extra_env={
            # Careless configuration too: every request and response header on the spans.
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": ".*",
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": ".*",
            "OTEL_RESOURCE_ATTRIBUTES": f"service.owner={sentinels['owner email']}",
            "OTEL_EXPORTER_OTLP_HEADERS": f"x-api-key={sentinels['OTLP header']}",
            "OTELPIPE_SLOW_QUERY_LOG": str(slow_query_log),
            "OTELPIPE_SLOW_QUERY_THRESHOLD": "0.2",
        },
    )
    try:
        _drive(running.url, sentinels)
    finally:
        # uvicorn ends a graceful shutdown by re-raising the signal it caught.
        stopped = running.stop()
        assert stopped in (0, -signal.SIGTERM), f"{service} did not stop cleanly; see {running.log}"
    yield Run(service, sentinels, running.log, slow_query_log)


#: Anything else in an excerpt (binary storage files) is shown as a dot.
_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def _leaks(text: str, sentinels: Sentinels, where: str) -> list[str]:
    """One line per sentinel found in ``text`` (case-insensitive), with what surrounds it;
    a fragment of one (the run id) is reported when no whole sentinel is found."""
    found = []
    needles = [*sentinels.values.items(), ("fragment (run id)", sentinels.run)]
    for name, value in needles:
        if found and name.startswith("fragment"):
            break
        match = re.search(re.escape(value), text, re.IGNORECASE)
        if match:
            excerpt = _PRINTABLE.sub("·", text[max(0, match.start() - 120) : match.end() + 60])
            found.append(f"sentinel {name} ({value}) in {where}: …{excerpt}…")
    return found


def _assert_clean(text: str, sentinels: Sentinels, where: str) -> None:
    leaks = _leaks(text, sentinels, where)
    assert not leaks, "\n".join(leaks)


#: What the collector's redaction processor puts in place of what it masks.
COLLECTOR_MASK = "****"
#: Keys wrapping an OTLP/JSON attribute value: the value belongs to the enclosing "key".
_VALUE_WRAPPERS = frozenset({"value", "values", "stringValue", "arrayValue", "kvlistValue"})


def _collector_blocked_keys(settings: stack.StackSettings) -> re.Pattern[str]:
    config = yaml.safe_load((settings.config_dir / "otelcol.yaml").read_text())
    return re.compile("|".join(config["processors"]["redaction"]["blocked_key_patterns"]))


def _collector_masked(data: Any, blocked_keys: re.Pattern[str], owner: str = "") -> list[str]:
    """``key=value`` of every value the collector's redaction processor had to mask itself.

    The collector is the second line of defence: it masks every value of a key
    like ``password`` (already ``[REDACTED]`` by the SDK), and secrets it
    recognises in any other value. A mask in a value of any other key means a
    secret got past the SDK's scrubbing, which the project rule forbids even
    when the collector catches it. Walks Jaeger's and OTLP/JSON's ``{"key": …,
    "value": …}`` lists and Prometheus' label sets alike.
    """
    if isinstance(data, str):
        if COLLECTOR_MASK in data and not blocked_keys.fullmatch(owner):
            return [f"{owner}={data[:300]}"]
        return []
    if isinstance(data, list):
        return [hit for item in data for hit in _collector_masked(item, blocked_keys, owner)]
    if isinstance(data, dict):
        key = data.get("key")
        owner = key if isinstance(key, str) else owner
        return [
            hit
            for name, value in data.items()
            if name != "key"
            for hit in _collector_masked(
                value, blocked_keys, owner if name in _VALUE_WRAPPERS else name
            )
        ]
    return []


def _assert_scrubbed_before_export(data: Any, settings: stack.StackSettings, where: str) -> None:
    masked = sorted(set(_collector_masked(data, _collector_blocked_keys(settings))))
    assert not masked, f"secrets got past the SDK, the collector masked them in {where}:\n" + (
        "\n".join(masked[:10])
    )


# Jaeger ------------------------------------------------------------------------------


def _requests(traces: list[dict[str, Any]]) -> list[str]:
    """The root span names of the traces of HTTP requests (not of the start-up SQL)."""
    roots = (span for trace in traces for span in trace["spans"] if not span["references"])
    return sorted(span["operationName"] for span in roots if "GET" in span["operationName"])


def _jaeger_export(settings: stack.StackSettings, service: str) -> list[dict[str, Any]]:
    """Every trace of ``service`` once all :data:`TRACED_REQUESTS` have arrived."""
    base = settings.url("jaeger_query")
    return eventually(
        lambda: (
            traces
            if len(_requests(traces := jaeger_traces(base, service, limit=1000))) >= TRACED_REQUESTS
            else None
        ),
        timeout_s=30,
        what=f"{TRACED_REQUESTS} request traces of {service} in Jaeger",
    )


def test_jaeger_holds_no_secret(stack_settings: stack.StackSettings, careless_run: Run) -> None:
    traces = _jaeger_export(stack_settings, careless_run.service)
    base = stack_settings.url("jaeger_query")
    operations = httpx.get(f"{base}/api/services/{careless_run.service}/operations", timeout=10)
    services = httpx.get(f"{base}/api/services", timeout=10)
    text = json.dumps(traces) + operations.text + services.text
    spans = [span for trace in traces for span in trace["spans"]]
    print(f"Jaeger: {len(traces)} traces, {len(spans)} spans, {len(text):,} characters scanned")

    requests = _requests(traces)
    assert len(requests) == TRACED_REQUESTS, requests
    _assert_clean(text, careless_run.sentinels, "Jaeger")
    _assert_scrubbed_before_export(traces, stack_settings, "Jaeger")

    # Where the secrets were, the markers are.
    assert {"GET /login", "GET /reports/slow", "GET /register", "GET /audit", "GET /crash"} <= set(
        requests
    )
    assert "GET /users/{secret}/reset" in requests  # the 404 for /users/<e-mail>/reset
    tags = [(tag["key"], tag["value"]) for span in spans for tag in span["tags"]]
    assert (
        "url.query",
        "user=ann&email=[email]&password=[REDACTED]&api_key=[REDACTED]&token=[REDACTED]",
    ) in tags
    assert ("app.credentials", "[REDACTED]") in tags  # a key the collector lets through
    assert ("http.request.header.x_user_email", '["[email]"]') in tags
    assert "[parameters: [REDACTED]]" in text  # the failed insert's bound parameters


# Prometheus --------------------------------------------------------------------------


def _prometheus_export(
    settings: stack.StackSettings, service: str
) -> tuple[list[dict[str, str]], dict[str, list[str]]]:
    """Every series, and every label name with all its values, once the run's metrics are in."""
    base = settings.url("prometheus")
    for metric in ("careless_logins_total", "traces_span_metrics_calls_total"):
        eventually(
            lambda metric=metric: prometheus_query(base, f'{metric}{{service_name="{service}"}}'),
            timeout_s=30,
            what=f"{metric} of {service} in Prometheus",
        )

    def get(path: str, **params: str) -> Any:
        response = httpx.get(f"{base}{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()["data"]

    series = get("/api/v1/series", **{"match[]": '{__name__=~".+"}'})
    return series, {name: get(f"/api/v1/label/{name}/values") for name in get("/api/v1/labels")}


def test_prometheus_holds_no_secret(stack_settings: stack.StackSettings, careless_run: Run) -> None:
    series, labels = _prometheus_export(stack_settings, careless_run.service)
    text = json.dumps(series) + json.dumps(labels)
    ours = [s for s in series if s.get("service_name") == careless_run.service]
    values = sum(len(v) for v in labels.values())
    print(
        f"Prometheus: {len(series)} series ({len(ours)} of the run), {len(labels)} label names, "
        f"{values} label values scanned"
    )

    assert ours
    _assert_clean(text, careless_run.sentinels, "Prometheus")
    _assert_scrubbed_before_export(ours, stack_settings, "Prometheus")

    labels_of = {s["__name__"]: s for s in ours}
    # The e-mail the service counted logins by, named a queue after, and gave as its owner.
    assert labels_of["careless_logins_total"]["user_email"] == "[email]"
    assert labels_of["otelpipe_queue_size"]["otelpipe_queue_name"] == "welcome-mails:[email]"
    assert all(s["service_owner"] == "[email]" for s in ours)


# Log storage and every log file --------------------------------------------------------


def _log_files(settings: stack.StackSettings) -> list[Path]:
    """Log storage (the collector's file exporter) and every component's and service's log."""
    return sorted(
        path
        for directory in (settings.telemetry_logs_dir, settings.logs_dir)
        for path in directory.rglob("*")
        if path.is_file()
    )


def _run_records(settings: stack.StackSettings, service: str) -> list[dict[str, Any]]:
    records = [
        r for r in iter_log_records(settings.telemetry_logs_dir) if r["service.name"] == service
    ]
    bodies = {r.get("body", {}).get("stringValue") for r in records}
    return records if {"login", "register failed", "login crashed"} <= bodies else []


def test_logs_hold_no_secret(stack_settings: stack.StackSettings, careless_run: Run) -> None:
    records = eventually(
        lambda: _run_records(stack_settings, careless_run.service),
        timeout_s=30,
        what=f"the log records of {careless_run.service} in log storage",
    )
    time.sleep(1.5)  # the file exporter flushes every second: let the last batch land
    files = _log_files(stack_settings)
    stdout_lines = careless_run.service_log.read_text().splitlines()
    slow_queries = careless_run.slow_query_log.read_text().splitlines()
    leaks, lines = [], 0
    for path in files:
        text = path.read_text(errors="replace")
        lines += text.count("\n")
        leaks += _leaks(text, careless_run.sentinels, str(path))
    print(
        f"logs: {len(files)} files, {lines} lines scanned; {len(records)} log records, "
        f"{len(stdout_lines)} stdout lines, {len(slow_queries)} slow queries of the run"
    )

    assert careless_run.service_log in files and careless_run.slow_query_log in files
    assert not leaks, "\n".join(leaks)
    _assert_scrubbed_before_export(records, stack_settings, "log storage")

    assert len(slow_queries) == 1 and "WHERE email = ? AND password = ?" in slow_queries[0]
    assert sum('"level": "info"' in line for line in stdout_lines) >= 5
    bodies = {r["body"].get("stringValue") for r in records}
    assert "login for [email] with password=[REDACTED]" in bodies  # a %s-formatted message


# The backends' own storage, byte by byte ------------------------------------------------

#: Storage directories under ``<home>/data`` of the telemetry backends. Redis is left
#: out: it is the careless service's own cache, where it stored a token as a key.
STORAGE = ("jaeger", "prometheus", "collector")


CHUNK = 1 << 20


def _data_extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each part of the file that holds data: badger preallocates its
    value log and memtables as sparse files of up to 2 GB, nearly all holes."""
    position = 0
    while position < size:
        try:
            start = os.lseek(fd, position, os.SEEK_DATA)
        except OSError:  # no data after position
            return
        position = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, position


def _stored_bytes(path: Path) -> bytes:
    """What ``path`` holds, without its holes and runs of zeros (the NUL between parts
    keeps a needle from being pieced together across a gap)."""
    parts = []
    with path.open("rb") as file:
        for start, end in _data_extents(file.fileno(), os.fstat(file.fileno()).st_size):
            file.seek(start)
            for offset in range(start, end, CHUNK):
                chunk = file.read(min(CHUNK, end - offset))
                if chunk.count(0) != len(chunk):
                    parts.append(chunk)
    return b"\0".join(parts)


def _storage_bytes(settings: stack.StackSettings, backend: str) -> dict[Path, bytes]:
    directory = settings.data_dir / backend
    return {path: _stored_bytes(path) for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("backend", STORAGE)
def test_storage_files_hold_no_secret(
    stack_settings: stack.StackSettings, careless_run: Run, backend: str
) -> None:
    """Jaeger's badger files, Prometheus' TSDB and WAL, the collector's sending queue and
    log storage, read as raw bytes: what the APIs show is not all a backend keeps."""
    service = careless_run.service.encode()
    files = eventually(
        lambda: (
            (found := _storage_bytes(stack_settings, backend))
            and any(service in data for data in found.values())
            and found
        ),
        timeout_s=30,
        what=f"{careless_run.service} in the raw storage files of {backend}",
    )
    scanned = sum(map(len, files.values()))
    print(f"{backend} storage: {len(files)} files, {scanned:,} bytes of data scanned")
    leaks = [
        leak
        for path, data in files.items()
        for leak in _leaks(data.decode("latin-1"), careless_run.sentinels, str(path))
    ]
    assert not leaks, "\n".join(leaks)
