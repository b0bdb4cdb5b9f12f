"""A process's resident memory and CPU time, read from ``/proc`` (Linux)."""

from __future__ import annotations

import os

__all__ = ["cpu_seconds", "preemptions", "rss_mb", "thread_cpu_seconds"]

_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (``VmRSS``)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time ``pid`` has used so far."""
    return _stat_cpu_seconds(f"/proc/{pid}/stat")


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User plus system CPU time each live thread of ``pid`` has used so far, by thread id
    (the main thread's id is ``pid``)."""
    seconds = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            seconds[int(tid)] = _stat_cpu_seconds(f"/proc/{pid}/task/{tid}/stat")
        except (FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            continue
    return seconds


def preemptions(pid: int, tid: int | None = None) -> int:
    """How often the kernel has taken the core from thread ``tid`` of ``pid`` (the main
    thread by default) while it could still run (``nonvoluntary_ctxt_switches``).

    A thread preempted while it holds the interpreter lock stops every thread of
    its process: none of them can run Python until it is back on a core.
    """
    path = f"/proc/{pid}/task/{tid or pid}/status"
    with open(path) as status:
        for line in status:
            if line.startswith("nonvoluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise RuntimeError(f"{path} has no nonvoluntary_ctxt_switches line")


def _stat_cpu_seconds(path: str) -> float:
    with open(path) as stat:
        # The command name (field 2) may hold spaces; the fields after it may not.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS
