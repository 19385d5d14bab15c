"""The web view in a real browser: Debian's headless Chromium driven by Selenium through its chromedriver,
against the app served by waitress on loopback over a store filled by the real pipeline.

`.ci/run` installs `chromium` and `chromium-driver`; elsewhere these tests skip when they are missing.
With MONITOR_SCREENSHOTS=1 the pages are also saved under docs/screenshots/ for docs/web.md.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from web_support import NOW, ROOT, Filled, filled_store

from monitor.web import WebContext, WebServer, create_app

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI"):
        raise RuntimeError("CI must have chromium and chromium-driver (see .ci/run)")
    pytest.skip("Debian's chromium and chromium-driver are not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Filled]]:
    with filled_store(tmp_path_factory.mktemp("browser")) as filled:
        app = create_app(WebContext(filled.settings, filled.store, lambda: filled.rules, now=lambda: NOW))
        with WebServer(app, "127.0.0.1", 0) as server:
            yield server.url, filled


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def visit(browser: Any, url: str, screenshot: str | None = None) -> None:
    browser.get(url)
    if screenshot and os.environ.get("MONITOR_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, min(max(int(height) + 40, 600), 2400))
        browser.save_screenshot(str(SCREENSHOTS / f"{screenshot}.png"))
        browser.set_window_size(1280, 900)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors  # a CSP violation or a failed load shows here


def seed_event_id(browser: Any, base: str) -> str:
    visit(browser, f"{base}/?q=25%2C000")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.events tbody tr")
    link = next(r for r in rows if "(2 reports)" not in r.text and "NHK" in r.text).find_element(By.CSS_SELECTOR,
                                                                                                  "td a")
    return str(link.get_attribute("href")).rsplit("/", 1)[1]


def test_the_events_page_shows_the_seed_story_and_its_plot(site: tuple[str, Filled], browser: Any) -> None:
    base, _ = site
    visit(browser, f"{base}/", "events")
    assert "DPRK may send 25,000 workers to Russia" in browser.find_element(By.TAG_NAME, "main").text
    plot = browser.find_element(By.CSS_SELECTOR, "section.plotbox svg.plot")
    assert plot.is_displayed() and plot.find_elements(By.CSS_SELECTOR, "rect.s0")
    Select(browser.find_element(By.NAME, "severity")).select_by_visible_text("critical")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    WebDriverWait(browser, 10).until(lambda b: "severity=critical" in b.current_url)
    assert all("critical" in row.text for row in browser.find_elements(By.CSS_SELECTOR, "table.events tbody tr"))


def test_the_event_page_shows_its_sources_in_order(site: tuple[str, Filled], browser: Any) -> None:
    base, _ = site
    visit(browser, f"{base}/events/{seed_event_id(browser, base)}", "event")
    reports = [r.find_element(By.TAG_NAME, "strong").text for r in browser.find_elements(By.CSS_SELECTOR,
                                                                                         "li.report")]
    assert reports == ["seed-feed", "seed-feed"]
    titles = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "li.report .title")]
    assert titles[0].startswith("NHK: DPRK may send") and titles[1].startswith("North may send 25,000")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.timeline circle")
    assert browser.find_elements(By.CSS_SELECTOR, "blockquote.sentence mark")


def test_sources_and_rules_pages(site: tuple[str, Filled], browser: Any) -> None:
    base, _ = site
    visit(browser, f"{base}/sources", "sources")
    names = [r.find_element(By.TAG_NAME, "td").text for r in browser.find_elements(By.CSS_SELECTOR,
                                                                                   "table.sources tbody tr")]
    assert names[0] == "never-polled" and set(names) == {"never-polled", "seed-feed", "hostile-feed"}
    visit(browser, f"{base}/rules", "rules")
    assert "dprk-workers-drone-plant" in browser.find_element(By.CSS_SELECTOR, "table.rules").text
    visit(browser, f"{base}/rules/dprk-troops-russia")
    browser.find_element(By.NAME, "text").send_keys("North Korean troops are fighting in Kursk.")
    browser.find_element(By.CSS_SELECTOR, "form.try button").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".explain"))
    assert "dprk-troops-russia: MATCH" in browser.find_element(By.CSS_SELECTOR, ".explain").text
    visit(browser, browser.current_url, "rule")


def test_hostile_headlines_run_no_script_and_link_nowhere(site: tuple[str, Filled], browser: Any) -> None:
    base, _ = site
    visit(browser, f"{base}/?q=script")
    [row] = browser.find_elements(By.CSS_SELECTOR, "table.events tbody tr")
    assert "<script>" in row.text and "<img src=x" in row.text  # shown as text
    row.find_element(By.CSS_SELECTOR, "td a").click()
    WebDriverWait(browser, 10).until(lambda b: "/events/" in b.current_url)
    for page in (f"{base}/", browser.current_url, f"{base}/sources"):
        visit(browser, page)
        assert browser.title != "pwned"
        assert browser.execute_script("return document.scripts.length") == 0
        hrefs = [a.get_attribute("href") or "" for a in browser.find_elements(By.TAG_NAME, "a")]
        assert not [h for h in hrefs if not h.startswith(("http://", "https://"))], hrefs
