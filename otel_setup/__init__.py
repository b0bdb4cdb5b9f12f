"""otel_setup: one call gives a Python web service traces, metrics and logs over OTLP.

>>> from fastapi import FastAPI
>>> from otel_setup import setup_telemetry
>>> app = FastAPI()
>>> telemetry = setup_telemetry(app, service_name="orders")  # doctest: +SKIP
>>> telemetry.shutdown()  # doctest: +SKIP
"""

from otel_setup.config import ConfigError, Settings
from otel_setup.telemetry import Telemetry, setup_telemetry

__all__ = ["ConfigError", "Settings", "Telemetry", "setup_telemetry"]
