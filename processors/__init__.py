"""Custom OpenTelemetry SDK span processors and what they compute.

- :mod:`processors.off_thread` — runs the others (and the export processor)
  on a worker thread: the request thread only queues the span;
- :mod:`processors.grading` — PRD grades, compliance, windows, routes, alerts
  (:mod:`~processors.alerts`), health score (:mod:`~processors.health`);
- :mod:`processors.slow_queries` — the sanitised slow-query log;
- :mod:`processors.api` / :mod:`~processors.report` — the performance API;
- :mod:`processors.metrics` — the same results as OTel metrics;
- :mod:`processors.scrub` — the secret-scrubbing rules every exporter applies.

Each processor does O(1) work per span in ``on_end``, on the off-thread
worker; file writes and alert evaluation have threads of their own. See
docs/processors.md.
"""
