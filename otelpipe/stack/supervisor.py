"""Start, stop and inspect the stack's processes.

Each started process gets a pid file under ``<home>/run/`` recording its pid
and its executable; ``down`` signals only a pid whose ``/proc/<pid>/exe`` is
still that executable, so a recycled pid is never killed. (Not the cmdline:
Redis rewrites its process title.) ``up`` is
idempotent: a component that is already running and ready is left alone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otelpipe.stack.build import resolve_binaries
from otelpipe.stack.components import Component, components
from otelpipe.stack.progress import Progress, quiet
from otelpipe.stack.settings import StackSettings

__all__ = [
    "ComponentStatus",
    "StackError",
    "build",
    "down",
    "running_pid",
    "start_component",
    "status",
    "stop_component",
    "up",
]

READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


class StackError(RuntimeError):
    """A component could not be started; the message names it and the cause."""


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    running: bool
    ready: bool
    urls: dict[str, str]
    log: str

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "pid": self.pid,
            "running": self.running,
            "ready": self.ready,
            "urls": self.urls,
            "log": self.log,
        }


def build(settings: StackSettings, progress: Progress = quiet) -> list[Component]:
    """Make sure every binary exists (building the Go ones if needed); return the components."""
    return components(settings, resolve_binaries(settings, progress))


def _pid_file(settings: StackSettings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def _log_file(settings: StackSettings, name: str) -> Path:
    return settings.logs_dir / f"{name}.log"


def _live_record(settings: StackSettings, component: Component) -> dict[str, Any] | None:
    """The component's pid file record if that process is still ours."""
    try:
        record = json.loads(_pid_file(settings, component.name).read_text())
        executable = os.readlink(f"/proc/{int(record['pid'])}/exe")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if executable == record.get("exe") else None


def _live_pid(settings: StackSettings, component: Component) -> int | None:
    """The pid from the component's pid file if that process is still ours."""
    record = _live_record(settings, component)
    return None if record is None else int(record["pid"])


def running_pid(settings: StackSettings, component: Component) -> int | None:
    """The pid of ``component`` if ``up`` started it and it still runs; None if it does not.

    Raises:
        StackError: it was started with another command line than ``settings`` give it
            now (``OTELPIPE_TRACE_SAMPLE_PERCENT`` moved across 100, another config
            directory): taking it as it is would ignore the change without a word.
    """
    record = _live_record(settings, component)
    if record is None:
        return None
    pid = int(record["pid"])
    # The command line it was started with, from its pid file: /proc/<pid>/cmdline
    # will not do, Redis rewrites it.
    started = record.get("argv")
    if started is not None and tuple(started) != component.argv:
        raise StackError(
            f"{component.name}: already running (pid {pid}), started as {' '.join(started)!r}; "
            f"the settings now give {' '.join(component.argv)!r}. "
            "Run `otelpipe stack down`, then `up` again"
        )
    return pid


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
    except OSError:
        return "(no log)"


def start_component(settings: StackSettings, component: Component) -> int:
    """Start ``component`` detached, record its pid file, wait until it is ready.

    Raises:
        StackError: one of its ports is taken, it exited, or it stayed unready.
    """
    for port_name in component.ports:
        port = settings.ports[port_name]
        if port_in_use(settings.host, port):
            raise StackError(
                f"{component.name}: port {port} on {settings.host} is already in use by another "
                f"process; stop it or choose another port with OTELPIPE_{port_name.upper()}_PORT"
            )
    log = _log_file(settings, component.name)
    with log.open("ab") as out:
        process = subprocess.Popen(
            component.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=settings.home,
            env={**os.environ, **settings.process_env()},
            start_new_session=True,
        )
    _pid_file(settings, component.name).write_text(
        json.dumps(
            {
                "pid": process.pid,
                "exe": os.path.realpath(component.argv[0]),
                "argv": list(component.argv),
            }
        )
    )
    _wait_ready(settings, component, process)
    return process.pid


def _wait_ready(
    settings: StackSettings, component: Component, process: subprocess.Popen[bytes] | None = None
) -> None:
    log = _log_file(settings, component.name)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        exited = process.poll() if process is not None else None
        if exited is not None or (process is None and _live_pid(settings, component) is None):
            raise StackError(
                f"{component.name} exited (code {exited}) during start-up; "
                f"last lines of {log}:\n{_tail(log)}"
            )
        if component.ready():
            return
        time.sleep(0.25)
    raise StackError(
        f"{component.name} did not become ready within {READY_TIMEOUT_S:.0f}s; "
        f"last lines of {log}:\n{_tail(log)}"
    )


def up(settings: StackSettings, progress: Progress = quiet) -> list[ComponentStatus]:
    """Build what is missing, start every component that is not running, wait until ready.

    Raises:
        StackError: a port is taken, or a component died or stayed unready; the
            components started before it keep running (``down`` stops them).
        BuildError: a binary could not be built or a Debian package is missing.
    """
    for directory in (
        settings.data_dir / "redis",
        settings.data_dir / "prometheus",
        settings.data_dir / "jaeger" / "keys",
        settings.data_dir / "jaeger" / "values",
        settings.telemetry_logs_dir,
        settings.logs_dir,
        settings.run_dir,
    ):
        directory.mkdir(parents=True, exist_ok=True)
    for component in build(settings, progress):
        if running_pid(settings, component) is not None:
            _wait_ready(settings, component)
            progress(f"{component.name}: already running")
            continue
        started = time.monotonic()
        pid = start_component(settings, component)
        progress(f"{component.name}: ready (pid {pid}, {time.monotonic() - started:.1f}s)")
    return status(settings)


def down(settings: StackSettings, progress: Progress = quiet) -> None:
    """Stop, in reverse start order, exactly the processes ``up`` started."""
    for component in reversed(components(settings)):
        stop_component(settings, component, progress)


def stop_component(
    settings: StackSettings, component: Component, progress: Progress = quiet
) -> None:
    """SIGTERM the component's recorded process (SIGKILL after 15 s); forget its pid file.

    A pid file whose process is gone, or whose pid now belongs to another
    program, is removed without signalling anything.
    """
    pid = _live_pid(settings, component)
    pid_file = _pid_file(settings, component.name)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _live_pid(settings, component) is not None:
        time.sleep(0.1)
    if _live_pid(settings, component) is not None:
        os.kill(pid, signal.SIGKILL)
        progress(f"{component.name}: did not stop in {STOP_TIMEOUT_S:.0f}s, killed")
    else:
        progress(f"{component.name}: stopped (pid {pid})")
    pid_file.unlink(missing_ok=True)


def status(settings: StackSettings) -> list[ComponentStatus]:
    """Each component's pid, liveness, readiness, URLs and log file."""
    result = []
    for component in components(settings):
        pid = _live_pid(settings, component)
        result.append(
            ComponentStatus(
                name=component.name,
                pid=pid,
                running=pid is not None,
                ready=pid is not None and component.ready(),
                urls=dict(component.urls),
                log=str(_log_file(settings, component.name)),
            )
        )
    return result
