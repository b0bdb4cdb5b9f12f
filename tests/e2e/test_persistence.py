"""Jaeger keeps traces on badger (ephemeral: false): a restart loses none."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from otelpipe import stack
from otelpipe.demo import GATEWAY_APP, ServiceProcess, start_service
from otelpipe.queries import jaeger_traces
from otelpipe.stack.build import resolve_binaries
from otelpipe.stack.components import components
from otelpipe.stack.supervisor import start_component, stop_component
from tests.support import eventually, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def gateway(stack_settings: stack.StackSettings) -> Iterator[ServiceProcess]:
    """A gateway of its own: this test's requests change no other test's counts."""
    service = start_service(
        stack_settings,
        app=GATEWAY_APP,
        port=free_port(),
        service=f"persist-e2e-{uuid.uuid4().hex[:8]}",
    )
    yield service
    service.stop()


def test_traces_survive_a_jaeger_restart(
    stack_settings: stack.StackSettings, gateway: ServiceProcess
) -> None:
    httpx.get(f"{gateway.url}/items/11", timeout=10).raise_for_status()
    query = stack_settings.url("jaeger_query")
    before = eventually(lambda: jaeger_traces(query, gateway.name, limit=1000),
                        what="the gateway's traces in Jaeger")  # fmt: skip
    trace_ids = {t["traceID"] for t in before}

    (jaeger,) = [c for c in components(stack_settings, resolve_binaries(stack_settings))
                 if c.name == "jaeger"]  # fmt: skip
    stop_component(stack_settings, jaeger)
    assert not jaeger.ready()
    start_component(stack_settings, jaeger)

    for trace_id in trace_ids:
        response = httpx.get(f"{query}/api/traces/{trace_id}", timeout=10)
        assert response.status_code == 200, f"trace {trace_id} lost in the restart"
        assert response.json()["data"][0]["traceID"] == trace_id
