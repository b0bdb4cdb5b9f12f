"""Demo services instrumented only through ``otel_setup``."""
