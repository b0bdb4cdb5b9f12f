"""Session fixtures that run the real stack: collector, Jaeger, Prometheus, Redis.

The stack gets a throw-away ``OTELPIPE_HOME`` and free ports, so it never
clashes with a stack a developer already runs; binaries come from the shared
cache (``otelpipe stack build`` fills it). If anything cannot start, the
tests fail — a missing backend is never a skip.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator

import pytest

from otelpipe import stack
from otelpipe.demo import GATEWAY_APP, PAYMENTS_APP, ServiceProcess, start_service
from otelpipe.stack.ephemeral import ephemeral_stack
from tests.support import free_port


def _progress(message: str) -> None:
    print(f"[e2e stack] {message}", file=sys.__stderr__, flush=True)


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.StackSettings]:
    # Short flush intervals so data shows up within seconds, not a minute.
    fast = {
        "OTELPIPE_SPANMETRICS_FLUSH_INTERVAL": "2s",
    }
    home = tmp_path_factory.mktemp("otelpipe-home")
    try:
        with ephemeral_stack(home, _progress, fast) as settings:
            yield settings
    except (stack.StackError, stack.BuildError) as exc:
        pytest.fail(f"the e2e stack could not start: {exc}", pytrace=False)


def _service(settings: stack.StackSettings, app: str, name: str, **env: str) -> ServiceProcess:
    """Start a demo service under a name unique to this test session, or fail the test."""
    try:
        return start_service(
            settings, app=app, service=f"{name}-e2e-{uuid.uuid4().hex[:8]}", port=free_port(),
            extra_env=env,
        )  # fmt: skip
    except stack.StackError as exc:
        pytest.fail(f"the demo {name} could not start: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def payments(stack_settings: stack.StackSettings) -> Iterator[ServiceProcess]:
    """The demo payments service; gateways send their checkouts here."""
    running = _service(stack_settings, PAYMENTS_APP, "payments")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def gateway(
    stack_settings: stack.StackSettings, payments: ServiceProcess
) -> Iterator[ServiceProcess]:
    """The demo gateway, calling the session's payments service."""
    running = _service(stack_settings, GATEWAY_APP, "gateway", PAYMENTS_URL=payments.url)
    yield running
    running.stop()
