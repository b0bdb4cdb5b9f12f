"""otelpipe: the command line of otel-perf-pipeline (local stack, demo, load, benchmarks)."""
