"""The timeline in real headless Chromium, with JavaScript off: two years of dated articles
give a bar per month with its count, and clicking a bar narrows the search to that month."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from helpers import FakeEncoder, write
from web_fixtures import (
    CHROMEDRIVER,
    CHROMIUM,
    LiveServer,
    build_fake_index,
    headless_chromium,
    make_app,
)

from search.config import Settings

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver: apt-get install chromium "
           "chromium-driver",
)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def articles() -> list[dict]:
    """An article a week over 2023-2024 about the harbour, three a week in summer."""
    from datetime import date

    found = []
    for n in range(104):
        day = date.fromordinal(date(2023, 1, 2).toordinal() + 7 * n)
        for copy in range(3 if day.month in (6, 7, 8) else 1):
            found.append({"id": f"w{n}-{copy}", "title": f"Week {n} report {copy}",
                          "lang": "en", "date": day.isoformat(),
                          "text": f"The harbour report of week {n}, copy {copy}, ferries."})
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("timeline-browser")
    write(root / "seeds" / "feed.jsonl", "\n".join(json.dumps(a) for a in articles()))
    encoder = FakeEncoder()
    build_fake_index(root / "seeds", root / "idx", encoder)
    app = make_app(root / "idx", encoder, root / "seeds", LOAD_MODEL=False,
                   FOLLOW_INTERVAL=0, SETTINGS=Settings(count_window=1000))
    try:
        with LiveServer(app) as live:
            yield live
    finally:
        app.extensions["search"].close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    # The page must work without JavaScript: the browser runs none.
    driver = headless_chromium(tmp_path_factory.mktemp("chromium-profile"), javascript=False)
    yield driver
    driver.quit()


def test_bars_show_counts_and_a_click_filters_to_that_month(server, browser):
    expected: dict[str, int] = {}
    for article in articles():
        expected[article["date"][:7]] = expected.get(article["date"][:7], 0) + 1
    browser.get(f"{server.url}/?q=harbour&mode=keyword&collapse=none")
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.timeline-chart a.timeline-bar")
    assert len(bars) == 24
    shown = {bar.get_attribute("data-period"): int(bar.get_attribute("data-count"))
             for bar in bars}
    assert shown == expected
    titles = [t.get_attribute("textContent") for t in
              browser.find_elements(By.CSS_SELECTOR, "svg.timeline-chart title")]
    assert f"2023-07: {expected['2023-07']} matches" in titles
    counts = browser.find_elements(By.CSS_SELECTOR, "svg.timeline-chart text")
    assert str(expected["2023-07"]) in {c.text for c in counts}  # readable without hover
    july = next(bar for bar in bars if bar.get_attribute("data-period") == "2023-07")
    july.find_elements(By.CSS_SELECTOR, "rect")[-1].click()  # the drawn bar
    WebDriverWait(browser, 15).until(ec.url_contains("date_from=2023-07-01"))
    query = urllib.parse.parse_qs(urllib.parse.urlparse(browser.current_url).query)
    assert query["date_from"] == ["2023-07-01"] and query["date_to"] == ["2023-07-31"]
    assert query["q"] == ["harbour"] and query["mode"] == ["keyword"]
    dates = {t.get_attribute("datetime") for t in
             browser.find_elements(By.CSS_SELECTOR, ".hits .meta time")}
    assert dates and all(d.startswith("2023-07") for d in dates)
    summary = browser.find_element(By.ID, "results-heading").text
    assert summary.startswith(f"{expected['2023-07']} matching paragraphs")
    # A month is a short span: the narrowed page draws it by day.
    assert "Matches by day" in browser.find_element(By.CSS_SELECTOR, ".timeline figcaption").text
