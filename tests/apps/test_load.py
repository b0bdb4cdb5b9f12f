"""``otelpipe load`` against a local server whose latencies are known."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st

from apps.load import LoadPlan, PlanError, build_report, parse_endpoint, percentile, run_load
from otelpipe.cli import main as otelpipe
from processors.targets import load_targets
from tests.support import free_port


class _KnownLatencies:
    """``/sleep/<ms>`` answers after ``ms``; ``/fail`` answers 503; ``/stall`` holds its
    first request for one second and answers every later one at once."""

    def __init__(self) -> None:
        self.stalled = False

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        path = scope["path"]
        status = 200
        if path.startswith("/sleep/"):
            await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
        elif path == "/fail":
            status = 503
        elif path == "/stall" and not self.stalled:
            self.stalled = True
            await asyncio.sleep(1.0)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def server() -> Iterator[str]:
    port = free_port()
    # log_config=None: leave the process's logging (other tests check it) as it is.
    config = uvicorn.Config(_KnownLatencies(), port=port, log_config=None, lifespan="off")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    while not running.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(5)


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, p) for p in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=200), st.floats(0.1, 100))
def test_percentile_has_p_percent_at_or_below_it(values: list[float], p: float) -> None:
    ordered = sorted(values)
    value = percentile(ordered, p)
    assert value in ordered
    assert sum(v <= value for v in ordered) >= p / 100 * len(ordered)
    assert sum(v < value for v in ordered) < p / 100 * len(ordered)


@pytest.mark.parametrize(
    ("spec", "method", "path", "weight"),
    [
        ("/items/{id}", "GET", "/items/{id}", 1.0),
        ("post /checkout/{id}@2.5", "POST", "/checkout/{id}", 2.5),
        ("GET /search?q=a@b@3", "GET", "/search?q=a@b", 3.0),
    ],
)
def test_endpoint_specs(spec: str, method: str, path: str, weight: float) -> None:
    endpoint = parse_endpoint(spec)
    assert (endpoint.method, endpoint.path, endpoint.weight) == (method, path, weight)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("items", "expected '[METHOD ]/path[@weight]'"),
        ("FETCH /items", "unknown method 'FETCH'"),
        ("/items@0", "weight '0' is not a number > 0"),
        ("/items@nan", "weight 'nan' is not a number > 0"),
    ],
)
def test_bad_endpoint_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(PlanError, match=message.replace("[", r"\[").replace("?", r"\?")):
        parse_endpoint(spec)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "--concurrency 0"),
        ({"rate": float("nan")}, "--rate nan"),
        ({"duration_s": None}, "give --requests or --duration"),
        ({"base_url": "localhost:8000"}, "url 'localhost:8000'"),
        ({"ids": (5, 1)}, "--ids 5-1"),
    ],
)
def test_bad_plans_name_the_option(options: dict, message: str) -> None:
    plan = {"base_url": "http://x", "endpoints": (parse_endpoint("/"),), "duration_s": 1.0}
    with pytest.raises(PlanError, match=message):
        LoadPlan(**{**plan, **options})


def test_percentiles_match_the_servers_known_latencies(server: str) -> None:
    plan = LoadPlan(
        base_url=server,
        endpoints=(parse_endpoint("/sleep/20"), parse_endpoint("/sleep/80")),
        requests=80,
        concurrency=8,
        seed=1,
    )
    report = build_report(asyncio.run(run_load(plan)), load_targets())
    by_name = {e["endpoint"]: e for e in report["endpoints"]}
    assert sum(e["requests"] for e in by_name.values()) == 80
    for name, delay in (("GET /sleep/20", 20), ("GET /sleep/80", 80)):
        latency = by_name[name]["latency_ms"]
        # Never faster than the server's sleep; on a busy 2-core box allow generous slack above.
        assert delay <= latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
        assert latency["p50"] < delay + 60, latency
        assert by_name[name]["slo"]["category"] == "http_public"
        assert by_name[name]["slo"]["compliance"] == 100.0


def test_open_loop_counts_the_stall_against_the_requests_it_delayed(server: str) -> None:
    """Coordinated omission: one caller, 40 req/s, the first request stalls for 1 s.
    ~40 requests were due during the stall; their latency includes the wait."""
    plan = LoadPlan(
        base_url=server,
        endpoints=(parse_endpoint("/stall"),),
        duration_s=2.0,
        concurrency=1,
        rate=40.0,
    )
    (samples,) = asyncio.run(run_load(plan)).samples.values()
    assert samples.count >= 60  # the plan catches up after the stall instead of skipping
    # Due at 0-1 s, answered just after 1 s: half of those waited more than 0.5 s ...
    assert sum(latency > 0.5 for latency in samples.latencies) >= 12
    # ... while, timed from their actual send, only the stalled request itself was slow.
    assert sum(service > 0.5 for service in samples.service_times) == 1


def _run(tmp_path: Path, *argv: str) -> tuple[int, dict]:
    report = tmp_path / "report.json"
    code = otelpipe(["load", *argv, "--no-progress", "--report", str(report)])
    return code, json.loads(report.read_text()) if report.exists() else {}


def test_exit_code_is_zero_when_every_slo_is_met(server: str, tmp_path: Path, capsys) -> None:
    code, report = _run(tmp_path, server, "-e", "/sleep/1", "-n", "30")
    assert code == 0
    assert report["slo_met"] and report["totals"]["requests"] == 30
    assert "SLOs met" in capsys.readouterr().out


def test_slow_endpoint_violates_its_target_and_exits_1(server: str, tmp_path: Path) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text(
        "categories:\n"
        "  http_public: {kind: latency, target: 100, error_rate: 1, grades: {A: 5, B: 6, C: 100, D: 150}}\n"
        "routes:\n  - {match: '*', category: http_public}\n"
    )
    code, report = _run(
        tmp_path,
        server,
        "-e",
        "/sleep/100",
        "-e",
        "/sleep/0",
        "-n",
        "20",
        "-c",
        "2",
        "--targets",
        str(targets),
    )
    assert code == 1
    slow, fast = report["endpoints"]
    assert slow["slo"]["met"] is False and slow["slo"]["violations"][0].startswith("p95 ")
    assert slow["slo"]["compliance"] == 0.0
    assert fast["slo"]["met"] is True


def test_server_errors_violate_the_error_rate_objective(server: str, tmp_path: Path) -> None:
    code, report = _run(tmp_path, server, "-e", "/fail", "-n", "10")
    assert code == 1
    (failing,) = report["endpoints"]
    assert failing["statuses"] == {"503": 10} and failing["error_rate"] == 100.0
    assert "error rate 100.00% > objective 0.5%" in failing["slo"]["violations"]


def test_unreachable_target_and_bad_options_exit_2(tmp_path: Path, capsys) -> None:
    code, report = _run(tmp_path, f"http://127.0.0.1:{free_port()}", "-e", "/", "-n", "3")
    assert code == 2
    assert report["endpoints"][0]["failures"] == {"ConnectError": 3}
    assert "never answered" in capsys.readouterr().err
    assert otelpipe(["load", "-e", "FETCH /", "-n", "1"]) == 2
    assert "unknown method 'FETCH'" in capsys.readouterr().err
