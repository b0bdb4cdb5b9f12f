"""CPU time per thread, read from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from bench.proc import preemptions, thread_cpu_seconds


def test_a_busy_threads_time_is_counted_under_its_own_id() -> None:
    """A thread spins 0.3 s of CPU while the main thread waits: the split says so."""
    pid = os.getpid()
    spun: dict[int, float] = {}
    done = threading.Event()
    ready = threading.Event()

    def spin() -> None:
        end = time.thread_time() + 0.3
        while time.thread_time() < end:
            pass
        spun.update(thread_cpu_seconds(pid))
        ready.set()
        done.wait(5)

    before = thread_cpu_seconds(pid)
    worker = threading.Thread(target=spin)
    worker.start()
    assert ready.wait(10)
    done.set()
    worker.join()
    # Clock ticks are 10 ms: 0.3 s of spinning reads as at least 0.25 s.
    assert spun[worker.native_id] >= 0.25
    assert spun[pid] - before[pid] < 0.15, "the waiting main thread was charged"


def test_a_thread_sharing_its_core_with_a_busy_process_is_counted_preempted() -> None:
    """The main thread spins 0.3 s of CPU on one core beside a process spinning on the same
    core: the kernel takes turns between them, each turn one preemption."""
    cpu = min(os.sched_getaffinity(0))
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(spinner.pid, {cpu})
        allowed = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})  # this thread only
        try:
            before = preemptions(os.getpid(), threading.get_native_id())
            end = time.thread_time() + 0.3
            while time.thread_time() < end:
                pass
            taken = preemptions(os.getpid(), threading.get_native_id()) - before
        finally:
            os.sched_setaffinity(0, allowed)
    finally:
        spinner.kill()
        spinner.wait()
    # The scheduler's slices are a few ms: 0.3 s of turns is dozens of them.
    assert taken >= 10, taken


def test_a_thread_alone_on_an_idle_core_is_hardly_preempted() -> None:
    """A thread that gives up its core (30 sleeps) was not preempted: those switches
    were its own."""
    before = preemptions(os.getpid())
    for _ in range(30):
        time.sleep(0.01)
    assert preemptions(os.getpid()) - before <= 2
