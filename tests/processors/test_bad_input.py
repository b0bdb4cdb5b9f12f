"""Bad input to the processors: clear errors or bounded behaviour, never a crash or a stall."""

from __future__ import annotations

import copy
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.trace import SpanKind

from processors import report
from processors.api import PREFIX, performance_app
from processors.classify import CATEGORY_ATTRIBUTE
from processors.grading import GradingProcessor
from processors.scrub import scrub_attributes, scrub_text
from processors.targets import DEFAULT_TARGETS_FILE, TargetsError, load_targets, parse_targets
from tests.processors.spans import span


@pytest.mark.parametrize(
    "text",
    [
        "a" * 200_000,  # one long run of key characters, no sensitive word
        "q=" + "a" * 200_000,
        "x@" * 100_000,  # e-mail local parts without a domain
        "password" * 25_000,  # sensitive words without a separator
        "eyJ" * 70_000,
        "x%40" * 50_000,  # percent-encoded at-signs
        "a%40b." * 35_000,
        "[SQL: " * 35_000,  # statements that never end
        "[SQL: ]" * 30_000,
    ],
    ids=[
        "letters",
        "query",
        "at-signs",
        "words",
        "jwt-prefixes",
        "encoded-at-signs",
        "encoded-addresses",
        "sql",
        "sql-ends",
    ],
)
def test_scrubbing_takes_linear_time(text: str) -> None:
    # Before: quadratic-or-worse backtracking; 16 kB of letters took 49 s.
    started = time.perf_counter()
    scrub_text(text)
    assert time.perf_counter() - started < 2.0


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0xFFFF)))
def test_scrubbed_text_always_encodes_as_utf8(text: str) -> None:
    # A lone surrogate (an undecodable byte smuggled into a str) makes the
    # OTLP encoder raise, and the batch exporter then drops the whole batch.
    scrub_text(text).encode("utf-8")


def test_surrogates_become_replacement_characters() -> None:
    assert scrub_text("/x\udcff/y") == "/x\ufffd/y"
    assert scrub_attributes({"url.path": "/x\udcff"}) == {"url.path": "/x\ufffd"}


# -- malformed targets files -----------------------------------------------------------------
yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10))
yaml_documents = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=20,
)
#: The shipped document with one field replaced, at any depth: wrong types where they hurt.
_SHIPPED = yaml.safe_load(DEFAULT_TARGETS_FILE.read_text())


def _paths(node: object, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(node, dict):
        found += [p for key, child in node.items() for p in _paths(child, (*path, key))]
    elif isinstance(node, list):
        found += [p for index, child in enumerate(node) for p in _paths(child, (*path, index))]
    return found


def _replaced(path: tuple, value: object) -> object:
    document = copy.deepcopy(_SHIPPED)
    if not path:
        return value
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return document


edited_documents = st.builds(_replaced, st.sampled_from(_paths(_SHIPPED)), yaml_documents)


def _assert_named_error_or_valid(file: Path) -> None:
    try:
        load_targets(file)
    except TargetsError as error:
        assert str(error).startswith(f"{file.name}: ") or str(error).startswith(f"{file}: ")


@settings(max_examples=150, deadline=None)
@given(content=st.binary(max_size=300))
def test_random_bytes_are_a_targets_error_naming_the_file(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        file = Path(directory, "targets.yaml")
        file.write_bytes(content)
        _assert_named_error_or_valid(file)


@settings(max_examples=300, deadline=None)
@given(document=st.one_of(yaml_documents, edited_documents))
@example(document=_replaced(("routes",), 5))
@example(document=_replaced(("categories",), 5))
@example(document=_replaced(("routes", 0, "category"), []))
@example(document=_replaced(("alerts", "window"), []))
def test_any_yaml_document_is_valid_or_a_targets_error_naming_the_field(document: object) -> None:
    # Before: ``routes: 5`` or ``categories: 5`` raised TypeError.
    try:
        parse_targets(document, source="targets.yaml")
    except TargetsError as error:
        assert re.match(r"targets\.yaml: \S.*=.*: ", str(error), re.DOTALL), str(error)


def test_undecodable_targets_file_is_a_targets_error(tmp_path: Path) -> None:
    # Before: UnicodeDecodeError escaped load_targets.
    file = tmp_path / "targets.yaml"
    file.write_bytes(b"categories:\n  caf\xe9: {}\n")
    with pytest.raises(TargetsError, match=r"targets\.yaml: not UTF-8 text"):
        load_targets(file)


# -- unknown categories ----------------------------------------------------------------------
attribute_values = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.lists(st.text(max_size=5), max_size=3),
    st.sampled_from(["cache", "http", "database", "Database", "cache_l9", ""]),
)


@settings(max_examples=100, deadline=None)
@given(
    spans=st.lists(
        st.fixed_dictionaries(
            {
                CATEGORY_ATTRIBUTE: attribute_values,
                "cache.tier": attribute_values,
                "cache.hit": attribute_values,
                "http.route": attribute_values,
            }
        ),
        min_size=1,
        max_size=30,
    ),
    server=st.booleans(),
)
def test_unknown_categories_are_not_graded_and_break_nothing(
    spans: list[dict], server: bool
) -> None:
    grading = GradingProcessor(interval_s=3600)
    kind = SpanKind.SERVER if server else SpanKind.INTERNAL
    for attributes in spans:
        # Lists as tuples, as the SDK stores them.
        stored = {k: tuple(v) if isinstance(v, list) else v for k, v in attributes.items()}
        grading.on_end(span(5.0, end_s=time.time(), kind=kind, **stored))
    try:
        document = grading.read(
            lambda state, now: report.report_document(state, now, "1m", 10, None)
        )
        graded = grading.read(lambda state, now: state.categories("1m", now))
    finally:
        grading.shutdown()
    assert {r.category for r in graded} <= set(grading.state.targets.categories)
    assert document["executive_summary"]["requests"] <= len(spans)


# -- bad query parameters on the performance API ---------------------------------------------
@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    grading = GradingProcessor(interval_s=3600)
    app = FastAPI()
    app.mount(PREFIX, performance_app(grading))
    with TestClient(app) as client:
        yield client
    grading.shutdown()


_ENDPOINT_PARAMETERS = {
    "/metrics": ("window",),
    "/health": ("window",),
    "/report": ("window", "limit"),
    "/prd-compliance": ("window",),
    "/alerts": ("limit",),
    "/routes": ("limit",),
}


def _accepted(name: str, value: str) -> bool:
    """Whether ``value`` can be a valid ``name``: a window, or a limit 1-100 (``"7.0"`` is
    one to pydantic, ``"7e0"`` is not: only the first matters here)."""
    if name == "window":
        return value in ("1m", "5m", "1h", "1d")
    try:
        number = float(value)
    except ValueError:
        return False
    return number.is_integer() and 1 <= number <= 100


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    endpoint=st.sampled_from(sorted(_ENDPOINT_PARAMETERS)),
    value=st.one_of(
        st.text(max_size=30),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.floats().map(str),
        st.sampled_from(["", " 5m", "5M", "0", "101", "1e2", "10.0", "\x00", "%ff"]),
    ),
)
def test_bad_parameters_are_422_naming_the_parameter(
    api: TestClient, endpoint: str, value: str
) -> None:
    for name in _ENDPOINT_PARAMETERS[endpoint]:
        response = api.get(f"{PREFIX}{endpoint}", params={name: value})
        # Never a 500; a 200 only for a value that reads as valid; a 422 names the parameter.
        if response.status_code != 422:
            assert response.status_code == 200 and _accepted(name, value), (name, value)
        else:
            assert [e["loc"] for e in response.json()["detail"]] == [["query", name]]
