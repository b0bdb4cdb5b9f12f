"""The dashboard page in a real headless Chromium: real numbers, sorting, windows, no errors.

Debian's ``chromium`` and ``chromium-driver`` (``scripts/setup.sh`` installs
them) driven by selenium. A screenshot of each page is kept in the test's
output directory; its path is printed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from otelpipe import stack
from otelpipe.demo import GATEWAY_APP, ServiceProcess, drive_load, start_service
from otelpipe.queries import prometheus_query
from processors.api import OWN_ROUTES, PREFIX
from tests.support import eventually, free_port

pytestmark = pytest.mark.e2e
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.TemporaryDirectory(prefix="otelpipe-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1400,1900", f"--user-data-dir={profile.name}"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    except WebDriverException as exc:
        pytest.fail(f"headless Chromium could not start (scripts/setup.sh installs it): {exc}")
    yield driver
    driver.quit()
    profile.cleanup()


def _console_errors(driver: WebDriver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _open(driver: WebDriver, url: str, state: str = "ready") -> None:
    driver.get(url)
    _wait_for(driver, state)


def _wait_for(driver: WebDriver, state: str, window: str | None = None) -> None:
    def settled(d: WebDriver) -> bool:
        body = d.find_element(By.TAG_NAME, "body")
        return body.get_attribute("data-state") == state and (
            window is None or body.get_attribute("data-window") == window
        )

    WebDriverWait(driver, 30).until(settled, f"the page never reached state {state!r}")


def _screenshot(driver: WebDriver, path: Path) -> None:
    driver.save_screenshot(str(path))
    # Past pytest's capture, so CI's log names the file to keep as an artifact.
    print(f"dashboard screenshot: {path}", file=sys.__stderr__, flush=True)


def _text(driver: WebDriver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def _first_column(driver: WebDriver) -> list[str]:
    return [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#routes tbody td:first-child")]


@pytest.fixture(scope="module")
def loaded(
    stack_settings: stack.StackSettings, payments: ServiceProcess
) -> Iterator[ServiceProcess]:
    """A gateway of its own (demo load fills the shared one's L1 cache) after a burst of
    demo load, once Prometheus has it all."""
    gateway = start_service(stack_settings, app=GATEWAY_APP, port=free_port(),
                            service=f"dash-page-e2e-{uuid.uuid4().hex[:8]}",
                            extra_env={"PAYMENTS_URL": payments.url})  # fmt: skip
    sent = drive_load(gateway.url, 10, show_progress=False)["totals"]["requests"] + 1
    prometheus = stack_settings.url("prometheus")
    counted = f'sum(http_server_request_duration_seconds_count{{service_name="{gateway.name}"}})'

    def all_counted() -> bool:
        vector = prometheus_query(prometheus, counted)
        return bool(vector) and float(vector[0]["value"][1]) >= sent

    eventually(all_counted, what=f"{sent} requests of {gateway.name} in Prometheus")
    trend = f'service:http_server_request_duration_seconds:mean_5m{{service_name="{gateway.name}"}}'
    eventually(lambda: prometheus_query(prometheus, trend), what="the trend's recording rule")
    yield gateway
    gateway.stop()


def test_page_shows_prometheus_figures_sorts_and_switches_window(
    browser: WebDriver, stack_settings: stack.StackSettings, loaded: ServiceProcess,
    tmp_path: Path,
) -> None:  # fmt: skip
    _open(browser, f"{loaded.url}{PREFIX}/dashboard")
    shown = int(_text(browser, "total-requests").replace(",", ""))
    # The gateway started within the hour: all it counted is the hour's requests.
    total = prometheus_query(
        stack_settings.url("prometheus"),
        "sum(http_server_request_duration_seconds_count"
        f'{{service_name="{loaded.name}", http_route!~"{OWN_ROUTES}"}})',
    )
    assert shown == round(float(total[0]["value"][1]))
    assert _text(browser, "health-grade") in {"A+", "A", "B+", "B", "C+", "C", "D", "F"}
    assert browser.find_elements(By.CSS_SELECTOR, "#trend .uplot canvas")
    assert browser.find_elements(By.CSS_SELECTOR, "#grades .letter")

    by_p95 = _first_column(browser)
    assert len(by_p95) >= 3 and "/reports/slow" in by_p95  # drive_load's 1.2 s report
    assert _text(browser, "slowest-route") == by_p95[0]
    route_header = browser.find_element(By.CSS_SELECTOR, '#routes th[data-key="route"]')
    route_header.click()
    assert _first_column(browser) == sorted(by_p95) != by_p95
    assert route_header.get_attribute("aria-sort") == "ascending"
    route_header.click()
    assert _first_column(browser) == sorted(by_p95, reverse=True)

    hour_points = browser.find_element(By.ID, "trend").get_attribute("data-points")
    browser.find_element(By.CSS_SELECTOR, '#windows button[data-window="24h"]').click()
    _wait_for(browser, "ready", window="24h")
    trend = browser.find_element(By.ID, "trend")
    assert (hour_points, trend.get_attribute("data-points")) == ("61", "97")
    assert "window 24h" in _text(browser, "updated")
    assert browser.find_elements(By.CSS_SELECTOR, "#trend .uplot canvas")
    browser.find_element(By.CSS_SELECTOR, '#windows button[data-window="1h"]').click()
    _wait_for(browser, "ready", window="1h")
    _screenshot(browser, tmp_path / "dashboard.png")
    assert _console_errors(browser) == []


@pytest.fixture
def standalone() -> Iterator[Callable[[str, Path], str]]:
    """``otelpipe dashboard`` on a free port; yields its URL and where its output goes."""

    def start(prometheus: str, log: Path) -> str:
        port = free_port()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "otelpipe.cli", "dashboard", "--port", str(port),
                 "--prometheus", prometheus], stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/dashboard", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                time.sleep(0.2)
        pytest.fail(f"otelpipe dashboard did not start; see {log}")

    started: list[subprocess.Popen[bytes]] = []
    yield start
    for process in started:
        process.terminate()
        process.wait(10)


def test_standalone_page_reads_prometheus_alone(
    browser: WebDriver, stack_settings: stack.StackSettings, loaded: ServiceProcess,
    standalone: Callable[[str, Path], str], tmp_path: Path,
) -> None:  # fmt: skip
    url = standalone(stack_settings.url("prometheus"), tmp_path / "dashboard.log")
    _open(browser, f"{url}/?service={loaded.name}")
    assert browser.current_url.startswith(f"{url}/dashboard")
    assert loaded.name in _text(browser, "service-name")
    assert int(_text(browser, "total-requests").replace(",", "")) > 0
    assert "/reports/slow" in _first_column(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "#grades .letter")  # from the gauges
    _screenshot(browser, tmp_path / "standalone.png")
    assert _console_errors(browser) == []


def test_unreachable_prometheus_is_a_clear_message_not_an_error(
    browser: WebDriver,
    standalone,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    url = standalone(dead, tmp_path / "dashboard.log")
    _open(browser, f"{url}/dashboard", state="prometheus-down")
    banner = _text(browser, "banner")
    assert f"Prometheus at {dead} is unreachable" in banner
    assert "otelpipe stack up" in banner
    assert _text(browser, "total-requests") == "\u2013"  # en dash: no figure
    assert browser.find_element(By.ID, "routes-empty").is_displayed()
    _screenshot(browser, tmp_path / "unreachable.png")
    assert _console_errors(browser) == []
