"""What to send: endpoints with weights, how many, how fast, for how long."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

__all__ = ["HTTP_METHODS", "Endpoint", "LoadPlan", "PlanError", "parse_endpoint"]

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_SPEC = re.compile(r"^(?:(?P<method>[A-Za-z]+)\s+)?(?P<path>/\S*?)(?:@(?P<weight>[^@/]+))?$")


class PlanError(ValueError):
    """A load plan option is invalid; the message names the option and the value."""


@dataclass(frozen=True)
class Endpoint:
    """One kind of request. ``{id}`` in ``path`` becomes a random id for each request."""

    method: str
    path: str
    weight: float = 1.0

    @property
    def name(self) -> str:
        """How reports name it: ``GET /items/{id}``."""
        return f"{self.method} {self.path}"

    @property
    def route(self) -> str:
        """The path without its query string, as the server's route rules see it."""
        return self.path.split("?", 1)[0]

    def render(self, rng: random.Random, ids: tuple[int, int]) -> str:
        if "{id}" not in self.path:
            return self.path
        return self.path.replace("{id}", str(rng.randint(*ids)))


def parse_endpoint(spec: str) -> Endpoint:
    """``"[METHOD ]/path[@weight]"``, e.g. ``"POST /checkout/{id}?fail_rate=0.1@2"``.

    The method defaults to GET and the weight (relative share of requests) to 1.

    Raises:
        PlanError: the spec does not parse, names an unknown method or a bad weight.
    """
    match = _SPEC.match(spec.strip())
    if match is None:
        raise PlanError(
            f"--endpoint {spec!r}: expected '[METHOD ]/path[@weight]', e.g. 'GET /items/{{id}}@3'"
        )
    method = (match["method"] or "GET").upper()
    if method not in HTTP_METHODS:
        raise PlanError(
            f"--endpoint {spec!r}: unknown method {method!r}; "
            f"expected one of {', '.join(sorted(HTTP_METHODS))}"
        )
    weight = 1.0
    if match["weight"] is not None:
        try:
            weight = float(match["weight"])
        except ValueError:
            weight = math.nan
        if not (math.isfinite(weight) and weight > 0):
            raise PlanError(f"--endpoint {spec!r}: weight {match['weight']!r} is not a number > 0")
    return Endpoint(method, match["path"], weight)


@dataclass(frozen=True)
class LoadPlan:
    """A validated load run.

    The run stops after ``requests`` requests or ``duration_s`` seconds,
    whichever comes first (at least one of them is set). With ``rate``
    (requests/s over all endpoints) request *i* is due at ``start + i / rate``
    and its latency counts from then, however late a free caller picks it up.
    """

    base_url: str
    endpoints: tuple[Endpoint, ...]
    requests: int | None = None
    duration_s: float | None = None
    concurrency: int = 10
    rate: float | None = None
    timeout_s: float = 10.0
    ids: tuple[int, int] = (1, 200)
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise PlanError(f"url {self.base_url!r}: expected http://host:port or https://...")
        if not self.endpoints:
            raise PlanError("--endpoint: give at least one endpoint")
        if self.requests is None and self.duration_s is None:
            raise PlanError("give --requests or --duration (or both: whichever ends first)")
        checks = {
            "--requests": (self.requests, 1, 10_000_000),
            "--duration": (self.duration_s, 0.1, 86_400),
            "--concurrency": (self.concurrency, 1, 10_000),
            "--rate": (self.rate, 0.1, 1_000_000),
            "--timeout": (self.timeout_s, 0.01, 3_600),
        }
        for option, (value, low, high) in checks.items():
            if value is not None and not (low <= value <= high):  # NaN fails too
                raise PlanError(f"{option} {value!r}: expected a number in [{low:g}, {high:g}]")
        low, high = self.ids
        if not 0 <= low <= high:
            raise PlanError(f"--ids {low}-{high}: expected LOW-HIGH with 0 <= LOW <= HIGH")

    @property
    def open_loop(self) -> bool:
        return self.rate is not None
