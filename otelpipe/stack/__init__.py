"""The local backend stack (collector, Jaeger, Prometheus, Redis), run natively."""

from otelpipe.stack.build import BuildError
from otelpipe.stack.settings import StackConfigError, StackSettings
from otelpipe.stack.supervisor import ComponentStatus, StackError, build, down, status, up

__all__ = [
    "BuildError",
    "ComponentStatus",
    "StackConfigError",
    "StackError",
    "StackSettings",
    "build",
    "down",
    "status",
    "up",
]
