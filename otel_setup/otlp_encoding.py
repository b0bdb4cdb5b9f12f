"""OTLP trace and log export requests written straight to protobuf wire bytes.

The SDK's encoder (``opentelemetry.exporter.otlp.proto.common``) builds a
protobuf message object for every span, log record, attribute and value: about
57 µs per server span and 27 µs per log record on our 2-core machine, on the
export thread, holding the GIL the request thread waits for.
:func:`encode_spans` and :func:`encode_logs` write the same requests as bytes
(about 8 µs a span, 6 a log record), and the exporters here
(:class:`GrpcSpanExporter`, :class:`HttpSpanExporter`, :class:`GrpcLogExporter`,
:class:`HttpLogExporter`) have the SDK's exporters send those bytes as they
are. Everything else — channel or session, retries, compression, headers — is
the SDK's.

The bytes decode to exactly the message the SDK's encoder builds, field for
field, for any span or log record the SDK can make:
``tests/otel_setup/test_otlp_encoding.py`` checks that with generated ones, so
an SDK upgrade that changes its encoding fails the tests rather than the collector.

>>> from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
>>> from opentelemetry.sdk.trace import TracerProvider
>>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
>>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
>>> finished = InMemorySpanExporter()
>>> provider = TracerProvider()
>>> provider.add_span_processor(SimpleSpanProcessor(finished))
>>> provider.get_tracer("demo").start_span("GET /health", attributes={"http.route": "/health"}).end()
>>> request = ExportTraceServiceRequest.FromString(encode_spans(finished.get_finished_spans()))
>>> span = request.resource_spans[0].scope_spans[0].spans[0]
>>> span.name, span.attributes[0].value.string_value
('GET /health', '/health')
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from struct import Struct
from typing import Any

import grpc
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http._common import _is_request_too_large
from opentelemetry.exporter.otlp.proto.http._log_exporter import (
    OTLPLogExporter as HttpOTLPLogExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpOTLPSpanExporter,
)
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind, StatusCode

__all__ = [
    "GrpcLogExporter",
    "GrpcSpanExporter",
    "HttpLogExporter",
    "HttpSpanExporter",
    "encode_logs",
    "encode_spans",
]

_log = logging.getLogger(__name__)

_fixed64 = Struct("<Q").pack
_fixed32 = Struct("<I").pack
_double = Struct("<d").pack
_ONE_BYTE = [bytes((n,)) for n in range(128)]
_INT64 = range(-(2**63), 2**63)
#: SpanFlags: the span says whether its parent was remote, and when it was.
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200
#: Short attribute strings and integers recur (methods, routes, scopes, status
#: codes): their encoded key-value pairs are kept, up to this many; the spans
#: reaching the encoder are already scrubbed. Only a ``str`` or an exact ``int``
#: is looked up or kept, so ``True`` never finds the pair of ``1``.
_CACHED_PAIRS = 4096
_CACHED_LENGTH = 64


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _ONE_BYTE[n]
    if n < 0x4000:  # the length of nearly every span: two bytes, without the loop
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the payload's length, the payload."""
    n = len(payload)
    return tag + (_ONE_BYTE[n] if n < 0x80 else _varint(n)) + payload


def _any_value(value: Any) -> bytes:
    """The fields of an ``AnyValue`` (none for None, as the SDK leaves it empty)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        if value not in _INT64:
            raise ValueError(f"{value} does not fit an int64")
        return b"\x18" + _varint(value & 0xFFFF_FFFF_FFFF_FFFF)
    if isinstance(value, float):
        return b"\x21" + _double(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join([_field(b"\x0a", _any_value(v)) for v in value]))
    if isinstance(value, Mapping):
        pairs = [_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items()]
        return _field(b"\x32", b"".join(pairs))
    raise TypeError(f"Invalid type {type(value)} of value {value!r}")


def _key_value(key: str, value: Any) -> bytes:
    return _field(b"\x0a", key.encode()) + _field(b"\x12", _any_value(value))


class _Attributes:
    """Encodes attribute mappings as repeated ``KeyValue`` fields of one tag."""

    __slots__ = ("_pairs",)

    def __init__(self) -> None:
        self._pairs: dict[tuple[bytes, str, str | int], bytes] = {}

    def __call__(self, tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
        if not attributes:
            return b""
        out, pairs = [], self._pairs
        for key, value in attributes.items():
            kind = type(value)
            cacheable = kind is str or kind is int
            if cacheable and (encoded := pairs.get((tag, key, value))) is not None:
                out.append(encoded)
                continue
            try:
                encoded = _field(tag, _key_value(key, value))
            except Exception:  # as the SDK: the attribute is lost, the span is not
                _log.exception("Failed to encode key %s", key)
                continue
            if cacheable and (kind is int or len(value) <= _CACHED_LENGTH):
                if len(pairs) >= _CACHED_PAIRS:
                    pairs.clear()
                pairs[tag, key, value] = encoded
            out.append(encoded)
        return b"".join(out)


def _plain(attributes: Any) -> Any:
    """The dict inside the SDK's ``BoundedAttributes``, else ``attributes`` as they are.

    A ``BoundedAttributes`` (and ``ReadableSpan.attributes``, a mapping proxy
    over one) yields its items through two Python layers per key, several
    times slower than its dict; a renamed field falls back to the mapping.
    """
    return getattr(attributes, "_dict", attributes)


#: The fields that recur on every span, encoded once: its kind, its status
#: code (none for UNSET), and its flags (whether the parent was remote).
#: Keyed by the member's ``id``: an enum member's ``__hash__`` is a Python call,
#: two of them per span.
_KINDS = {id(kind): b"\x30" + _ONE_BYTE[kind.value + 1] for kind in SpanKind}
_STATUS_CODES = {
    id(code): b"\x18" + _ONE_BYTE[code.value] if code.value else b"" for code in StatusCode
}
_STATUSES = {code: _field(b"\x7a", fields) for code, fields in _STATUS_CODES.items()}
_LOCAL_FLAGS = _fixed32(_HAS_IS_REMOTE)
_REMOTE_FLAGS = _fixed32(_HAS_IS_REMOTE | _IS_REMOTE)


def _flags(context: SpanContext | None) -> bytes:
    # context[2]: is_remote, read without the property's call.
    return _REMOTE_FLAGS if context is not None and context[2] else _LOCAL_FLAGS


def _uint(tag: bytes, n: int) -> bytes:
    return tag + _varint(n) if n else b""


def _string(tag: bytes, text: str | None) -> bytes:
    return _field(tag, text.encode()) if text else b""


#: The resource and scope before the first item: no item's.
_UNSEEN = object()


class _Encoder:
    """Writes an export request of one signal: its items grouped by resource and scope.

    Traces and logs share the request's layout (``Resource*`` field 1 of the
    request; in it ``resource`` 1, ``Scope*`` 2 and ``schema_url`` 3; in a
    ``Scope*``, ``scope`` 1, the items 2 and ``schema_url`` 3); a subclass
    encodes the items. One encoder per export thread: its caches are its own.
    """

    __slots__ = ("_attributes", "_scopes")

    def __init__(self) -> None:
        self._attributes = _Attributes()
        self._scopes: dict[Any, bytes] = {}

    def item(self, item: Any) -> bytes:
        raise NotImplementedError

    def request(self, items: Iterable[Any]) -> bytes:
        # Resource, then instrumentation scope, then items, in the order first
        # seen: the SDK's grouping.
        groups: dict[Any, dict[Any, list[bytes]]] = {}
        # Items come in runs of one resource and scope: looked up (their
        # ``__hash__`` is a Python call) only where a run starts.
        resource = scope = _UNSEEN
        encoded: list[bytes] = []
        for item in items:
            if item.resource is not resource or (item.instrumentation_scope or None) is not scope:
                resource, scope = item.resource, item.instrumentation_scope or None
                encoded = groups.setdefault(resource, {}).setdefault(scope, [])
            encoded.append(_field(b"\x12", self.item(item)))
        attributes = self._attributes
        out = []
        for resource, scopes in groups.items():
            body = [_field(b"\x0a", attributes(b"\x0a", _plain(resource.attributes)))]
            for scope, encoded in scopes.items():
                schema = _string(b"\x1a", scope.schema_url) if scope else b""
                body.append(_field(b"\x12", self._scope(scope) + b"".join(encoded) + schema))
            body.append(_string(b"\x1a", resource.schema_url))
            out.append(_field(b"\x0a", b"".join(body)))
        return b"".join(out)

    def _scope(self, scope: Any) -> bytes:
        """The ``scope`` field of a ``ScopeSpans`` or ``ScopeLogs``; scopes are few, each
        is encoded once."""
        encoded = self._scopes.get(scope)
        if encoded is None:
            fields = b""
            if scope is not None:
                fields = (
                    _string(b"\x0a", scope.name)
                    + _string(b"\x12", scope.version)
                    + self._attributes(b"\x1a", _plain(scope.attributes))
                )
            encoded = _field(b"\x0a", fields)
            if len(self._scopes) < _CACHED_PAIRS:
                self._scopes[scope] = encoded
        return encoded


class _SpanEncoder(_Encoder):
    __slots__ = ()

    def item(self, span: ReadableSpan) -> bytes:
        # The fields as the SDK's ReadableSpan (and so LeanSpan) stores them: its
        # properties, and a SpanContext's, are a Python call each, about 1 µs a
        # span in all. The Hypothesis test holds this to the SDK's encoder.
        trace_id, span_id, _, _, trace_state, _ = span._context  # type: ignore[misc]
        parent, attributes = span._parent, self._attributes
        out = [b"\x0a\x10", trace_id.to_bytes(16, "big"), b"\x12\x08", span_id.to_bytes(8, "big")]
        if trace_state:
            state = ",".join([f"{key}={value}" for key, value in trace_state.items()])
            out.append(_field(b"\x1a", state.encode()))
        if parent is not None:
            out += (b"\x22\x08", parent[1].to_bytes(8, "big"))
        out += (_string(b"\x2a", span._name), _KINDS[id(span._kind)])
        if span._start_time:
            out += (b"\x39", _fixed64(span._start_time))
        if span._end_time:
            out += (b"\x41", _fixed64(span._end_time))
        out.append(attributes(b"\x4a", _plain(span._attributes)))
        if span.dropped_attributes:
            out.append(_uint(b"\x50", span.dropped_attributes))
        for event in span._events:
            fields = (
                (b"\x09" + _fixed64(event.timestamp) if event.timestamp else b"")
                + _string(b"\x12", event.name)
                + attributes(b"\x1a", _plain(event.attributes))
                + _uint(b"\x20", event.dropped_attributes)
            )
            out.append(_field(b"\x5a", fields))
        if span.dropped_events:
            out.append(_uint(b"\x60", span.dropped_events))
        for link in span._links:
            fields = (
                b"\x0a\x10"
                + link.context.trace_id.to_bytes(16, "big")
                + b"\x12\x08"
                + link.context.span_id.to_bytes(8, "big")
                + attributes(b"\x22", _plain(link.attributes))
                + _uint(b"\x28", link.dropped_attributes)
                + b"\x35"
                + _flags(link.context)
            )
            out.append(_field(b"\x6a", fields))
        if span.dropped_links:
            out.append(_uint(b"\x70", span.dropped_links))
        status = span._status
        if status is not None:
            if status.description:
                fields = _string(b"\x12", status.description)
                out.append(_field(b"\x7a", fields + _STATUS_CODES[id(status.status_code)]))
            else:
                out.append(_STATUSES[id(status.status_code)])
        out += (b"\x85\x01", _flags(parent))
        return b"".join(out)


class _LogEncoder(_Encoder):
    __slots__ = ()

    def item(self, readable: ReadableLogRecord) -> bytes:
        record = readable.log_record
        out = [b"\x09" + _fixed64(record.timestamp)] if record.timestamp else []
        severity = getattr(record.severity_number, "value", None)
        if severity:
            out.append(b"\x10" + _varint(severity))
        out += (
            _string(b"\x1a", record.severity_text),
            # Always present, if empty: the SDK encodes a body of None as an empty value.
            _field(b"\x2a", _any_value(record.body)),
            self._attributes(b"\x32", _plain(record.attributes)),
            _uint(b"\x38", readable.dropped_attributes),
        )
        if record.trace_flags:
            out.append(b"\x45" + _fixed32(int(record.trace_flags)))
        if record.trace_id:
            out += (b"\x4a\x10", record.trace_id.to_bytes(16, "big"))
        if record.span_id:
            out += (b"\x52\x08", record.span_id.to_bytes(8, "big"))
        if record.observed_timestamp:
            out.append(b"\x59" + _fixed64(record.observed_timestamp))
        out.append(_string(b"\x62", record.event_name))
        return b"".join(out)


# One per signal: each signal's batches are encoded on that signal's export thread.
_SPANS = _SpanEncoder()
_LOGS = _LogEncoder()


def encode_spans(spans: Iterable[ReadableSpan]) -> bytes:
    """The ``ExportTraceServiceRequest`` of ``spans``, serialized.

    Attributes that cannot be encoded (an int beyond int64, a value of no
    attribute type) are left out and logged, the rest of the span is sent:
    what the SDK's encoder does.
    """
    return _SPANS.request(spans)


def encode_logs(records: Iterable[ReadableLogRecord]) -> bytes:
    """The ``ExportLogsServiceRequest`` of ``records``, serialized.

    Attributes are treated as in :func:`encode_spans`. A body of no attribute
    type fails the whole request, as with the SDK's encoder.
    """
    return _LOGS.request(records)


class _BytesStub:
    """A service stub whose ``Export`` takes the request already serialized."""

    def __init__(self, channel: grpc.Channel, method: str, response: Any) -> None:
        self.Export = channel.unary_unary(
            method,
            request_serializer=None,  # the request is bytes, sent as they are
            response_deserializer=response.FromString,
            _registered_method=True,
        )


class _GrpcBytes:
    """For a subclass of the SDK's OTLP/gRPC exporter of a signal: its requests are
    ``_encode``'s bytes, sent as they are (parsed into the SDK's message and
    serialized again, they cost about 2 µs more per span)."""

    _method: str
    _response: Any
    _encode: Callable[[Sequence[Any]], bytes]
    _channel: grpc.Channel
    _client: Any

    def _initialize_channel_and_stub(self) -> None:
        # Called at construction and by the SDK's reconnection after UNAVAILABLE.
        super()._initialize_channel_and_stub()  # type: ignore[misc]
        self._client = _BytesStub(self._channel, self._method, self._response)

    def _translate_data(self, data: Sequence[Any]) -> bytes:
        return self._encode(data)


class GrpcSpanExporter(_GrpcBytes, OTLPSpanExporter):
    """The SDK's OTLP/gRPC span exporter, its requests encoded by :func:`encode_spans`."""

    _method = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    _response = ExportTraceServiceResponse
    _encode = staticmethod(encode_spans)


class GrpcLogExporter(_GrpcBytes, OTLPLogExporter):
    """The SDK's OTLP/gRPC log exporter, its requests encoded by :func:`encode_logs`."""

    _method = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
    _response = ExportLogsServiceResponse
    _encode = staticmethod(encode_logs)


class _HttpBytes:
    """For a subclass of the SDK's OTLP/HTTP exporter of a signal: ``export`` posts
    ``_encode``'s bytes.

    The SDK's transport, headers, compression, timeout and request-size limit
    are kept; its own export counters are not (``otel_setup`` counts export
    outcomes itself).
    """

    _items: str
    _result: Any
    _encode: Callable[[Sequence[Any]], bytes]
    _shutdown: bool
    _max_request_size: int | None
    _client: Any

    def export(self, batch: Sequence[Any]) -> Any:
        failure = self._result.FAILURE
        if self._shutdown:
            _log.warning("Exporter already shutdown, ignoring batch")
            return failure
        try:
            request = self._encode(batch)
        except Exception:  # as the SDK: the batch is lost, the export thread is not
            _log.exception("Failed to encode a batch of %d %s", len(batch), self._items)
            return failure
        if _is_request_too_large(request, self._max_request_size):
            _log.warning(
                "Dropping a batch of %d %s: its request is %d bytes, over max_request_size %d",
                len(batch),
                self._items,
                len(request),
                self._max_request_size,
            )
            return failure
        return self._result.SUCCESS if self._client.export(request).success else failure


class HttpSpanExporter(_HttpBytes, HttpOTLPSpanExporter):
    """The SDK's OTLP/HTTP span exporter, its requests encoded by :func:`encode_spans`.

    With the SDK's own encoder an export cost about 46 µs a span on our
    machine, with ours about 12.
    """

    _items = "spans"
    _result = SpanExportResult
    _encode = staticmethod(encode_spans)


class HttpLogExporter(_HttpBytes, HttpOTLPLogExporter):
    """The SDK's OTLP/HTTP log exporter, its requests encoded by :func:`encode_logs`."""

    _items = "log records"
    _result = LogRecordExportResult
    _encode = staticmethod(encode_logs)
