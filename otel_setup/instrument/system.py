"""Which host and process metrics ``SystemMetricsInstrumentor`` collects.

A deliberate subset of the instrumentor's defaults: CPU, memory, disk,
threads and file descriptors — what the reference dashboards show — without
per-interface network series that multiply cardinality.
"""

from __future__ import annotations

__all__ = ["SYSTEM_METRICS"]

SYSTEM_METRICS: dict[str, list[str] | None] = {
    "system.cpu.utilization": ["idle", "user", "system", "irq"],
    "system.memory.usage": ["used", "free", "cached"],
    "system.memory.utilization": ["used", "free", "cached"],
    "system.disk.io": ["read", "write"],
    "system.disk.operations": ["read", "write"],
    "process.cpu.utilization": ["user", "system"],
    "process.memory.usage": None,
    "process.memory.virtual": None,
    "process.open_file_descriptor.count": None,
    "process.thread.count": None,
    "process.disk.io": ["read", "write"],
}
