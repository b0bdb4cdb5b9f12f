"""Benchmarks of otel-perf-pipeline; results are ratios against a baseline of the same run."""
