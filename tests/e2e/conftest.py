"""Session fixtures that run the real stack: collector, Jaeger, Prometheus, Redis.

The stack gets a throw-away ``OTELPIPE_HOME`` and free ports, so it never
clashes with a stack a developer already runs; binaries come from the shared
cache (``otelpipe stack build`` fills it). If anything cannot start, the
tests fail — a missing backend is never a skip.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from otelpipe import stack
from otelpipe.demo import GATEWAY_APP, PAYMENTS_APP, ServiceProcess, start_service
from otelpipe.stack.settings import PORT_DEFAULTS
from tests.support import free_port


def _progress(message: str) -> None:
    print(f"[e2e stack] {message}", file=sys.__stderr__, flush=True)


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.StackSettings]:
    home = tmp_path_factory.mktemp("otelpipe-home")
    env = {
        "OTELPIPE_HOME": str(home),
        "OTELPIPE_CACHE_DIR": os.environ.get("OTELPIPE_CACHE_DIR")
        or str(
            Path(os.environ.get("OTELPIPE_HOME") or Path.home() / ".local/share/otelpipe") / "cache"
        ),
        # Short flush intervals so data shows up within seconds, not a minute.
        "OTELPIPE_SPANMETRICS_FLUSH_INTERVAL": "2s",
        "OTELPIPE_TAIL_SAMPLING_DECISION_WAIT": "1s",
    }
    env.update({f"OTELPIPE_{name.upper()}_PORT": str(free_port()) for name in PORT_DEFAULTS})
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    settings = stack.StackSettings.from_env()
    try:
        try:
            stack.up(settings, _progress)
        except (stack.StackError, stack.BuildError) as exc:
            pytest.fail(f"the e2e stack could not start: {exc}", pytrace=False)
        yield settings
    finally:
        stack.down(settings, _progress)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
