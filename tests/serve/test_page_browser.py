"""The search page in a real browser: headless Chromium (Debian's chromium + chromium-driver)
driven by Selenium against the real server on a loopback socket.

Skipped, with the reason, where no browser or driver is installed (``make test`` installs them
when it can). Screenshots go to the test's own folder under pytest's basetemp (printed) and to
``bench/out/screenshots/`` (git-ignored), a stable place to look at them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.serve.conftest import KNOWN_ID, make_app
from tests.serve.live import live_server

REPO = Path(__file__).resolve().parents[2]
STABLE_SCREENSHOTS = REPO / "bench" / "out" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "no headless browser: install Debian's chromium and chromium-driver "
        "(apt-get install -y chromium chromium-driver; `make test` does it when it can)",
        allow_module_level=True,
    )

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

QUERY = "10k 0402 resistor 1%"


@pytest.fixture(scope="module")
def base_url(store: Path) -> Iterator[str]:
    with live_server(make_app(store)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1200,1400",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except Exception as exc:  # a browser that is installed but cannot start here
        pytest.skip(f"headless chromium did not start: {exc!r}"[:500])
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def shoot(driver: WebDriver, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    STABLE_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, STABLE_SCREENSHOTS / path.name)
    print(f"screenshot: {path} (and {STABLE_SCREENSHOTS / path.name})")
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    return path


def wait_for(driver: WebDriver, css: str) -> None:
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def test_search_from_the_form(browser: WebDriver, base_url: str, snapshot_id: str,
                              screenshots: Path) -> None:
    browser.get(base_url + "/")
    box = browser.find_element(By.ID, "q")
    box.send_keys(QUERY)
    browser.find_element(By.ID, "go").click()
    wait_for(browser, "#hits li.hit")

    # a shareable URL: the query is in it
    url = urlparse(browser.current_url)
    assert url.path == "/"
    assert parse_qs(url.query)["q"] == [QUERY]
    hits = browser.find_elements(By.CSS_SELECTOR, "#hits li.hit")
    assert len(hits) == 10
    first = hits[0]
    assert first.get_attribute("data-id") == KNOWN_ID
    assert "0402" in first.find_element(By.CSS_SELECTOR, "h2").text
    reasons = [li.text for li in first.find_elements(By.CSS_SELECTOR, ".reasons li")]
    assert {"package 0402", "resistance 10k", "tolerance 1%"} <= set(reasons)
    assert first.find_element(By.CSS_SELECTOR, ".score").text == "1.00"
    bar = first.find_element(By.CSS_SELECTOR, ".bar span")
    assert bar.value_of_css_property("width") != "0px"
    assert {"dense", "lexical"} <= {e.text.split()[0] for e in first.find_elements(
        By.CSS_SELECTOR, ".scores > div:not(.bar)") if e.text.split()[0] != "score"}
    assert "match good" in browser.find_element(By.ID, "summary").text
    footer = browser.find_element(By.ID, "footer")
    assert snapshot_id in footer.text and "built 2024-05-01" in footer.text
    link = browser.find_element(By.ID, "snapshot-link")
    assert urlparse(link.get_attribute("href") or "").path == "/v1/snapshot"
    shoot(browser, screenshots, "search-page")

    # the next page keeps the query, and the ranking goes on
    browser.find_element(By.ID, "next").click()
    wait_for(browser, "#hits li.hit")
    assert parse_qs(urlparse(browser.current_url).query)["offset"] == ["10"]
    assert browser.find_element(By.CSS_SELECTOR, "#hits .rank").text == "11."

    # a result links to its record's page
    browser.get(base_url + "/?q=" + QUERY.replace(" ", "+").replace("%", "%25"))
    wait_for(browser, "#hits li.hit")
    browser.find_element(By.CSS_SELECTOR, "#hits li.hit a.title").click()
    wait_for(browser, "#record-title")
    assert browser.find_element(By.ID, "record-title").text.startswith(KNOWN_ID)
    assert "0402WGF1002TCE" in browser.find_element(By.CSS_SELECTOR, "table.record").text
    shoot(browser, screenshots, "record-page")


def test_filters_are_in_the_url_and_hold(browser: WebDriver, base_url: str,
                                         screenshots: Path) -> None:
    browser.get(base_url + "/?q=resistor")
    wait_for(browser, "#hits li.hit")
    browser.find_element(By.ID, "f-package").send_keys("0402")
    browser.find_element(By.ID, "f-in_stock").click()
    library = browser.find_element(By.ID, "f-library_type")
    library.find_element(By.CSS_SELECTOR, "option[value=Basic]").click()
    browser.find_element(By.ID, "go").click()
    wait_for(browser, "#hits li.hit")

    params = parse_qs(urlparse(browser.current_url).query)
    assert params["package"] == ["0402"] and params["in_stock"] == ["true"]
    assert params["library_type"] == ["Basic"]
    for hit in browser.find_elements(By.CSS_SELECTOR, "#hits li.hit"):
        assert "0402" in hit.text and "Basic" in hit.text
    # the form shows the filters it ran with
    assert browser.find_element(By.ID, "f-in_stock").is_selected()
    shoot(browser, screenshots, "search-page-filtered")


def test_honest_states(browser: WebDriver, base_url: str, screenshots: Path) -> None:
    browser.get(base_url + "/?q=zzzzqqqq&mode=lexical")
    wait_for(browser, "#no-match")
    assert "No match" in browser.find_element(By.ID, "no-match").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#hits li.hit")

    browser.get(base_url + "/?q=resistor&stock_min=lots")
    wait_for(browser, "#problem")
    problem = browser.find_element(By.ID, "problem").text
    assert "stock_min" in problem and "'lots'" in problem
    assert browser.find_element(By.ID, "f-stock_min").get_attribute("value") == ""  # number box
    shoot(browser, screenshots, "search-page-problem")
