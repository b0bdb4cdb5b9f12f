"""Record into the SDK's own aggregation of an attribute set, past the SDK's measurement path.

``Histogram.record`` (opentelemetry-sdk 1.45) costs about 10 µs a measurement:
the attributes are cleaned, copied, filtered by each view and hashed
recursively, a frozen ``Measurement`` is built and checked, and the exemplar
filter is asked, before the set's aggregation adds the value in under 2 µs.
Every request records its duration under one of a few attribute sets (method,
route, status). :class:`DirectHistogram` records the first measurement of each
set through the SDK, which makes the set's aggregation in every reader's
storage, then hands later measurements straight to those aggregations' own
``aggregate``. The readers collect what they always collect — the SDK's
aggregations, with its buckets, timestamps and temporality — at about 2 µs a
measurement.

It leans on SDK internals (the measurement consumer's reader storages, their
view matches and attribute hashing). Wherever they are not what it expects —
another SDK, a no-op meter, a view it cannot match — and whenever exemplars
may be sampled (the exemplar filter decides per measurement, with its
context), measurements go through ``record`` as usual: slower, never wrong.

>>> from opentelemetry.sdk.metrics import MeterProvider
>>> from opentelemetry.sdk.metrics.export import InMemoryMetricReader
>>> reader = InMemoryMetricReader()
>>> provider = MeterProvider(metric_readers=[reader], exemplar_filter=AlwaysOffExemplarFilter())
>>> meter = provider.get_meter("demo")
>>> durations = DirectHistogram(meter.create_histogram("request.duration", unit="s"))
>>> for seconds in (0.004, 0.2, 3.0):
...     durations.record(seconds, {"http.route": "/items"})
>>> metric = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0]
>>> (point,) = metric.data.data_points
>>> point.count, point.sum, point.min, point.max
(3, 3.204, 0.004, 3.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import Histogram
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter
from opentelemetry.sdk.metrics import Histogram as SdkHistogram
from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes
from opentelemetry.sdk.metrics._internal.measurement import Measurement
from opentelemetry.sdk.metrics._internal.measurement_consumer import (
    SynchronousMeasurementConsumer,
)

__all__ = ["DirectHistogram"]

#: Attribute sets whose aggregations are kept; further sets go through ``record``.
MAX_ATTRIBUTE_SETS = 2000
_NO_CONTEXT = Context()
_UNSEEN: Any = object()


class DirectHistogram:
    """Wraps an SDK histogram; :meth:`record` as the histogram's, for str, int,
    float and bool attribute values (what the SDK keeps of others differs).

    Thread-safe, as the SDK's aggregations are.
    """

    __slots__ = ("_aggregations", "_consumer", "_histogram", "_storages")

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        consumer = getattr(histogram, "_measurement_consumer", None)
        direct = (
            isinstance(histogram, SdkHistogram)
            and isinstance(consumer, SynchronousMeasurementConsumer)
            and isinstance(consumer._sdk_config.exemplar_filter, AlwaysOffExemplarFilter)
        )
        self._consumer = consumer if direct else None
        #: The reader storages the aggregations below belong to: a reader added
        #: or removed replaces them, and the aggregations are looked up again.
        self._storages: object = None
        #: Per attribute set (its items): its aggregations, one per view match of
        #: each reader, or None when they could not be matched.
        self._aggregations: dict[tuple[tuple[str, Any], ...], tuple[Any, ...] | None] = {}

    def record(
        self, amount: float, attributes: Mapping[str, Any], context: Context | None = None
    ) -> None:
        """Record ``amount`` (finite, non-negative) under ``attributes``."""
        consumer = self._consumer
        if consumer is not None:
            if consumer._reader_storages is not self._storages:
                self._aggregations, self._storages = {}, consumer._reader_storages
            key = tuple(attributes.items())
            try:
                aggregations = self._aggregations.get(key, _UNSEEN)
            except TypeError:  # an unhashable value (a list): the SDK's path
                aggregations = None
            if aggregations is _UNSEEN:
                # The SDK makes the set's aggregations as it records the first measurement.
                self._histogram.record(amount, attributes, context)
                if len(self._aggregations) < MAX_ATTRIBUTE_SETS:
                    self._aggregations[key] = self._find(attributes)
                return
            if aggregations is not None:
                measurement = Measurement(amount, 0, self._histogram, _NO_CONTEXT)
                for aggregation in aggregations:
                    aggregation.aggregate(measurement, False)
                return
        self._histogram.record(amount, attributes, context)

    def _find(self, attributes: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The aggregations that recorded ``attributes``: as the SDK's view matches
        find them (the view's attribute keys, then the hashed attributes)."""
        found = []
        try:
            for storage in self._storages.values():  # type: ignore[attr-defined]
                for match in storage._instrument_view_instrument_matches[self._histogram]:
                    keys = match._view._attribute_keys
                    kept = {k: v for k, v in attributes.items() if keys is None or k in keys}
                    found.append(match._attributes_aggregation[_hash_attributes(kept)])
        except (AttributeError, KeyError, TypeError):
            return None
        return tuple(found)
