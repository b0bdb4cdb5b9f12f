"""Process supervision with a real stand-in process (python -m http.server)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from otelpipe.stack.components import Component, http_ok
from otelpipe.stack.settings import StackSettings
from otelpipe.stack.supervisor import StackError, running_pid, start_component, stop_component
from tests.support import free_port


@pytest.fixture
def settings(tmp_path: Path) -> StackSettings:
    settings = StackSettings.from_env(
        {"OTELPIPE_HOME": str(tmp_path), "OTELPIPE_REDIS_PORT": str(free_port())}
    )
    for directory in (settings.logs_dir, settings.run_dir):
        directory.mkdir(parents=True)
    return settings


def _web_server(settings: StackSettings, argv0: str = sys.executable) -> Component:
    port = settings.ports["redis"]  # borrow a port slot; the name does not matter here
    return Component(
        name="web",
        argv=(argv0, "-m", "http.server", str(port), "--bind", settings.host),
        ports=("redis",),
        ready=lambda: http_ok(f"http://{settings.host}:{port}/"),
    )


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}/exe").exists()


def test_start_waits_until_ready_and_stop_ends_the_process(settings: StackSettings) -> None:
    web = _web_server(settings)
    pid = start_component(settings, web)
    assert web.ready()
    stop_component(settings, web)
    assert not web.ready()
    assert not _pid_alive(pid)
    assert not (settings.run_dir / "web.pid").exists()


@pytest.fixture
def occupied_port(settings: StackSettings) -> Iterator[int]:
    port = settings.ports["redis"]
    with socket.create_server((settings.host, port)) as server:
        server.listen()
        yield port


def test_busy_port_is_refused_with_the_variable_to_change(
    settings: StackSettings, occupied_port: int
) -> None:
    with pytest.raises(StackError, match=rf"port {occupied_port} .* OTELPIPE_REDIS_PORT"):
        start_component(settings, _web_server(settings))


def test_process_dying_at_start_reports_its_log(settings: StackSettings) -> None:
    broken = Component(
        name="broken",
        argv=(sys.executable, "-c", "raise SystemExit('no config')"),
        ports=(),
        ready=lambda: False,
    )
    with pytest.raises(StackError, match=r"(?s)broken exited.*no config"):
        start_component(settings, broken)


def test_stop_never_signals_a_pid_that_now_belongs_to_another_program(
    settings: StackSettings,
) -> None:
    web = _web_server(settings)
    web_pid = start_component(settings, web)
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        # As after a reboot: the recorded pid now runs another program.
        (settings.run_dir / "web.pid").write_text(
            json.dumps({"pid": stranger.pid, "exe": os.path.realpath(sys.executable)})
        )
        stop_component(settings, web)
        assert stranger.poll() is None, "a process that is not ours was signalled"
        assert not (settings.run_dir / "web.pid").exists()
    finally:
        stranger.kill()
        stranger.wait()
        os.kill(web_pid, signal.SIGTERM)


def test_a_component_running_with_other_settings_is_not_taken_as_it_is(
    settings: StackSettings,
) -> None:
    web = _web_server(settings)
    pid = start_component(settings, web)
    try:
        assert running_pid(settings, web) == pid
        changed = replace(web, argv=(*web.argv, "--directory", str(settings.home)))
        with pytest.raises(StackError, match=r"web: already running \(pid \d+\), started as"):
            running_pid(settings, changed)
    finally:
        stop_component(settings, web)
    assert running_pid(settings, web) is None
