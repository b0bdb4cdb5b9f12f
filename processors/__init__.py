"""Custom OpenTelemetry SDK span processors (slow queries, PRD grading, health score).

Each processor has one job and O(1) work per span in ``on_end``; anything
slow runs on a worker thread. See docs/architecture.md.
"""
