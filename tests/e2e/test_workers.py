"""Under ``uvicorn --workers 2`` each worker reports its own, consistent series."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from otelpipe import stack
from otelpipe.demo import GATEWAY_APP, ServiceProcess, start_service
from otelpipe.queries import prometheus_query
from tests.support import eventually, free_port

pytestmark = pytest.mark.e2e
REQUESTS = 60


GUNICORN = ("gunicorn", "-k", "uvicorn_worker.UvicornWorker")


@pytest.fixture(params=[("uvicorn",), GUNICORN], ids=["uvicorn", "gunicorn"])
def two_workers(
    request: pytest.FixtureRequest, stack_settings: stack.StackSettings
) -> Iterator[ServiceProcess]:
    service = start_service(
        stack_settings,
        app=GATEWAY_APP,
        port=free_port(),
        workers=2,
        server=request.param,
        service=f"workers-e2e-{uuid.uuid4().hex[:8]}",
    )
    # start_service returns when the first worker answers; until the second has
    # started too, the first accepts every connection.
    eventually(
        lambda: service.log.read_text().count("Application startup complete") >= 2,
        timeout_s=30,
        what="both workers started",
    )
    yield service
    service.stop()


def test_gunicorn_preload_is_called_out_in_each_worker(stack_settings: stack.StackSettings) -> None:
    service = start_service(
        stack_settings,
        app=GATEWAY_APP,
        port=free_port(),
        workers=2,
        server=(*GUNICORN, "--preload"),
        service=f"preload-e2e-{uuid.uuid4().hex[:8]}",
    )
    service.stop()
    warnings = [
        line
        for line in service.log.read_text().splitlines()
        if "before this worker" in line and "--preload" in line
    ]
    assert len(warnings) == 2, "one warning per forked worker"


def test_each_worker_has_one_series_and_together_they_count_every_request(
    stack_settings: stack.StackSettings, two_workers: ServiceProcess
) -> None:
    def fetch(i: int) -> int:  # a new connection each time, so both workers accept some
        return httpx.get(
            f"{two_workers.url}/items/{i}", headers={"Connection": "close"}
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(fetch, range(REQUESTS))) == {200}

    query = (
        f'http_server_request_duration_seconds_count{{service_name="{two_workers.name}", '
        'http_route="/items/{item_id}"}'
    )

    def series() -> list[dict] | None:
        vector = prometheus_query(stack_settings.url("prometheus"), query)
        total = sum(float(s["value"][1]) for s in vector)
        return vector if total >= REQUESTS else None

    vector = eventually(series, what=f"{REQUESTS} requests counted across workers")
    instances = [s["metric"]["service_instance_id"] for s in vector]
    pids = {s["metric"]["process_pid"] for s in vector}
    assert len(instances) == len(set(instances)) == len(pids) == 2, vector
    assert sum(float(s["value"][1]) for s in vector) == REQUESTS
