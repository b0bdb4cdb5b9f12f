"""``otelpipe dashboard``'s app: the page behind ``/``, data from Prometheus alone."""

from __future__ import annotations

from fastapi.testclient import TestClient

from otelpipe.dashboard import dashboard_app
from tests.support import free_port


def test_standalone_app_leads_to_the_page_and_says_when_prometheus_is_missing() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = TestClient(dashboard_app(url))
    home = client.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (307, "/dashboard")
    chosen = client.get("/?service=orders", follow_redirects=False)
    assert chosen.headers["location"] == "/dashboard?service=orders"
    assert "<title>Performance dashboard" in client.get("/dashboard").text
    body = client.get("/dashboard/data", params={"window": "30d"}).json()
    assert (body["mode"], body["window"], body["prometheus"]["ok"]) == ("standalone", "30d", False)
    assert body["grades"] is None and body["alerts"] is None
