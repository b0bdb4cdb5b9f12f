"""CPU time per thread, read from /proc."""

from __future__ import annotations

import os
import threading
import time

from bench.proc import thread_cpu_seconds


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
