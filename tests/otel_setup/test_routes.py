"""Unmatched paths become a bounded set of route templates."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_setup.routes import UNMATCHED, UnmatchedRoutes


def test_ids_uuids_and_tokens_are_templated() -> None:
    routes = UnmatchedRoutes()
    assert routes("/users/8412/orders/77") == "/users/{id}/orders/{id}"
    assert routes("/files/3f2a9c0e-7b1d-4c8e-9a2f-1b2c3d4e5f60") == "/files/{uuid}"
    assert routes("/reset/4f9a8b7c6d5e4f3a2b1c") == "/reset/{token}"
    assert routes("/reset/Zm9vYmFyYmF6cXV4MTIzNDU2") == "/reset/{token}"
    assert routes("/") == "/"


def test_segments_holding_a_secret_are_replaced() -> None:
    # A route becomes a span name and a metric label: no e-mail or token may stay in it.
    routes = UnmatchedRoutes()
    assert routes("/users/ann@example.com/reset") == "/users/{secret}/reset"
    assert routes("/login/password=hunter2") == "/login/{secret}"
    assert routes("/search/q=shoes") == "/search/q=shoes"


def test_non_printable_and_long_segments_are_replaced() -> None:
    routes = UnmatchedRoutes()
    assert routes("/a/\udcff\x00b") == "/a/{segment}"
    assert routes("/" + "x" * 500) == "/{segment}"
    assert routes("/a" * 50) == UNMATCHED


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=60), min_size=200, max_size=200))
def test_any_paths_give_at_most_max_labels_plus_one(paths: list[str]) -> None:
    routes = UnmatchedRoutes(max_labels=20)
    labels = {routes("/" + path) for path in paths}
    assert len(labels) <= 21


def test_ten_thousand_random_paths_stay_bounded() -> None:
    import random
    import string

    rng = random.Random(7)
    routes = UnmatchedRoutes(max_labels=20)
    labels = {
        routes(
            "/"
            + "/".join(
                "".join(rng.choices(string.ascii_letters + string.digits, k=8))
                for _ in range(rng.randint(1, 4))
            )
        )
        for _ in range(10_000)
    }
    assert len(labels) <= 21
    assert UNMATCHED in labels
