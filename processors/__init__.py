"""Custom OpenTelemetry SDK span processors and what they compute.

- :mod:`processors.grading` — PRD grades, compliance, windows, routes, alerts
  (:mod:`~processors.alerts`), health score (:mod:`~processors.health`);
- :mod:`processors.slow_queries` — the sanitised slow-query log;
- :mod:`processors.api` / :mod:`~processors.report` — the performance API;
- :mod:`processors.metrics` — the same results as OTel metrics;
- :mod:`processors.scrub` — the secret-scrubbing rules every exporter applies.

Each processor does O(1) work per span in ``on_end``; everything else runs on
a worker thread. See docs/processors.md.
"""
