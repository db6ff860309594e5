"""Real headless Chromium against a real waitress server (selenium, no downloads)."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import pytest
from web_fixtures import (
    CHROMEDRIVER,
    CHROMIUM,
    HOSTILE_ARTICLE,
    PRISONER_PARAGRAPH,
    SEED_ARTICLE,
    LiveServer,
    add_hostile_article,
    build_fake_index,
    headless_chromium,
    make_app,
)

QUERY = "Istanbul talks prisoner exchange"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, "
           "/usr/bin/chromedriver): apt-get install chromium chromium-driver",
)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def server(seed_index, real_encoder):
    app = make_app(seed_index, real_encoder)
    try:
        with LiveServer(app) as live:
            yield live
    finally:
        app.extensions["search"].close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = headless_chromium(tmp_path_factory.mktemp("chromium-profile"), console_log=True)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout: float = 15):
    return WebDriverWait(driver, timeout).until(condition)


def _no_console_errors(driver) -> None:
    """CSP violations and failed loads show up as SEVERE console entries."""
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []


def _no_alert(driver) -> None:
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018


def _javascript_links(driver) -> list[str]:
    hrefs = [a.get_attribute("href") or "" for a in driver.find_elements(By.TAG_NAME, "a")]
    return [href for href in hrefs if href.strip().lower().startswith("javascript:")]


def test_search_highlight_filters_and_article(server, browser, tmp_path):
    browser.get(server.url + "/")
    box = browser.switch_to.active_element
    assert box.get_attribute("id") == "q"  # autofocus
    box.send_keys(QUERY + Keys.ENTER)
    first = _wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, "li.hit")))
    assert "q=Istanbul+talks+prisoner+exchange" in browser.current_url
    paragraph = first.find_element(By.CSS_SELECTOR, "p.paragraph")
    assert PRISONER_PARAGRAPH in paragraph.text
    marked = {m.text.lower() for m in paragraph.find_elements(By.TAG_NAME, "mark")}
    assert any(word.startswith("prisoner") for word in marked)
    assert any(word.startswith("istanbul") for word in marked)
    mark_colour = paragraph.find_element(By.TAG_NAME, "mark").value_of_css_property(
        "background-color")
    assert mark_colour not in ("rgba(0, 0, 0, 0)", "transparent")
    assert "semantic rank" in first.find_element(By.CSS_SELECTOR, ".why").text
    summary = browser.find_element(By.ID, "results-heading").text
    assert "paragraphs for" in summary
    assert "ms" in browser.find_element(By.CSS_SELECTOR, ".took").text
    assert "articles" in browser.find_element(By.CSS_SELECTOR, ".index-status").text
    browser.save_screenshot(str(tmp_path / "results.png"))
    _no_console_errors(browser)

    # Keyword mode, chosen with the keyboard-reachable radio and the search button.
    browser.find_element(By.CSS_SELECTOR, 'input[name="mode"][value="keyword"]').click()
    browser.find_element(By.CSS_SELECTOR, "form.search button[type=submit]").click()
    _wait(browser, ec.url_contains("mode=keyword"))
    assert browser.find_element(
        By.CSS_SELECTOR, 'input[name="mode"][value="keyword"]').is_selected()
    why = browser.find_element(By.CSS_SELECTOR, "li.hit .why").text
    assert "keyword rank 1" in why and "not among the semantic" in why

    # Only German paragraphs.
    browser.find_element(By.CSS_SELECTOR, 'input[name="lang"][value="de"]').click()
    browser.find_element(By.CSS_SELECTOR, "form.search button[type=submit]").click()
    _wait(browser, ec.url_contains("lang=de"))
    langs = {p.get_attribute("lang")
             for p in browser.find_elements(By.CSS_SELECTOR, "li.hit p.paragraph")}
    assert langs == {"de"}
    browser.save_screenshot(str(tmp_path / "results-keyword-de.png"))

    # Back to the first results; open the best hit at its paragraph.
    browser.get(server.url + "/?q=Istanbul+talks+prisoner+exchange")
    link = browser.find_element(By.CSS_SELECTOR, "li.hit h3 a")
    href = link.get_attribute("href")
    assert f"/articles/{SEED_ARTICLE}#p" in href
    link.click()
    _wait(browser, ec.url_contains("/articles/"))
    anchor = href.rsplit("#", 1)[1]
    target = browser.execute_script("return document.querySelector(':target')")
    assert target.get_attribute("id") == anchor
    assert PRISONER_PARAGRAPH in target.text
    other = browser.find_elements(By.CSS_SELECTOR, ".para:not(:target)")[0]
    assert (target.value_of_css_property("background-color")
            != other.value_of_css_property("background-color"))
    top, height = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.top, window.innerHeight]",
        target)
    assert 0 <= top < height  # scrolled into view
    browser.save_screenshot(str(tmp_path / "article.png"))
    _no_console_errors(browser)


def test_each_story_once_with_its_languages_linked_and_facet_counts(server, browser, tmp_path):
    """Page 1 shows each matching paragraph once, the prisoner-exchange paragraph first,
    "also in" its six translations; the links open them; the facets count the matches."""
    browser.get(server.url + "/?" + urllib.parse.urlencode({"q": QUERY}))
    hits = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "ol.hits > li.hit"))
    first = hits[0]
    assert PRISONER_PARAGRAPH in first.find_element(By.CSS_SELECTOR, "p.paragraph").text
    also = first.find_elements(By.CSS_SELECTOR, ".also-in a")
    assert {a.get_attribute("hreflang") for a in also} == {"ar", "de", "es", "fr", "ru", "zh"}
    assert all(a.is_displayed() for a in also)
    # Each story once: no paragraph position (the same text in another language) twice.
    links = [hit.find_element(By.CSS_SELECTOR, "h3 a").get_attribute("href") for hit in hits]
    positions = [href.rsplit("#p", 1)[1] for href in links]
    assert len(set(positions)) == len(positions)
    # Facets beside the filters: a count for every language, over all matches.
    counts = {box.get_attribute("value"): int(box.find_element(
        By.XPATH, "..").find_element(By.CSS_SELECTOR, ".count").text)
        for box in browser.find_elements(By.CSS_SELECTOR, 'input[name="lang"]')}
    assert set(counts) == {"ar", "de", "en", "es", "fr", "ru", "zh"} and counts["en"] >= 1
    total = int(browser.find_element(By.ID, "results-heading").text.split()[0])
    assert sum(counts.values()) == total
    if os.environ.get("SEARCH_SCREENSHOTS"):  # refreshes the README's picture
        browser.save_screenshot(str(Path(os.environ["SEARCH_SCREENSHOTS"]) /
                                    "screenshot-results.png"))
    browser.save_screenshot(str(tmp_path / "grouped.png"))

    german = next(a for a in also if a.get_attribute("hreflang") == "de")
    german.click()
    _wait(browser, ec.url_contains(".de.txt#p4"))
    target = browser.execute_script("return document.querySelector(':target')")
    assert "Gefangenenaustausch" in target.text
    versions = browser.find_elements(By.CSS_SELECTOR, "nav.versions a")
    assert {a.get_attribute("hreflang") for a in versions} == {"ar", "en", "es", "fr", "ru",
                                                               "zh"}
    _no_console_errors(browser)

    # Every language apart: the same paragraph shows in several languages again.
    browser.get(server.url + "/?" + urllib.parse.urlencode({"q": QUERY, "collapse": "none"}))
    hits = browser.find_elements(By.CSS_SELECTOR, "ol.hits > li.hit")
    positions = [hit.find_element(By.CSS_SELECTOR, "h3 a").get_attribute("href")
                 .rsplit("#p", 1)[1] for hit in hits]
    assert len(set(positions)) < len(positions)


def test_phone_width_has_no_sideways_scrolling(server, browser, tmp_path):
    browser.set_window_size(390, 844)
    try:
        browser.get(server.url + "/?q=" + "تبادل الأسرى في إسطنبول" + "&lang=ar")
        paragraphs = browser.find_elements(By.CSS_SELECTOR, "li.hit p.paragraph")
        assert paragraphs
        for paragraph in paragraphs:
            assert paragraph.get_attribute("dir") == "rtl"
            assert paragraph.value_of_css_property("direction") == "rtl"
        wide = browser.execute_script(
            "return document.documentElement.scrollWidth > window.innerWidth")
        assert not wide
        browser.save_screenshot(str(tmp_path / "phone-rtl.png"))
    finally:
        browser.set_window_size(1200, 1000)


def test_hostile_article_renders_as_inert_text(browser, tmp_path, seeds_copy, fake_encoder):
    add_hostile_article(seeds_copy)
    index_dir = build_fake_index(seeds_copy, tmp_path / "index", fake_encoder)
    app = make_app(index_dir, fake_encoder, seeds_copy)
    try:
        with LiveServer(app) as live:
            browser.get(f"{live.url}/articles/{HOSTILE_ARTICLE}")
            _no_alert(browser)
            title = browser.find_element(By.TAG_NAME, "h1").text
            assert title == "Hostile <script>alert(1)</script> headline"
            body = browser.find_element(By.CSS_SELECTOR, "article").text
            assert "<img src=x onerror=alert(1)>" in body
            assert '<a href="javascript:alert(3)">the full story</a>' in body
            assert _javascript_links(browser) == []
            assert browser.find_elements(By.CSS_SELECTOR, "article img, article script") == []
            browser.get(f"{live.url}/?q=markets+weather+elections&mode=keyword")
            _no_alert(browser)
            hit_text = browser.find_element(By.CSS_SELECTOR, "li.hit").text
            assert "<script>alert(1)</script>" in hit_text
            assert browser.find_elements(By.CSS_SELECTOR, "li.hit img, li.hit script") == []
            # The markup in the query itself: echoed in the box and the results, never run.
            hostile_query = '<script>alert(5)</script> <img src=x onerror=alert(6)> markets'
            browser.get(f"{live.url}/?" + urllib.parse.urlencode({"q": hostile_query}))
            _no_alert(browser)
            assert browser.find_element(By.ID, "q").get_attribute("value") == hostile_query
            assert browser.find_elements(By.CSS_SELECTOR, "li.hit") != []
            assert browser.find_elements(By.CSS_SELECTOR, "main img, main script") == []
            assert _javascript_links(browser) == []
            browser.save_screenshot(str(tmp_path / "hostile.png"))
    finally:
        app.extensions["search"].close()


# Two different words of as many letters (no marks) in each script: drawn with the page's font,
# they differ when a font has the script's glyphs, and are the same row of "tofu" boxes when not.
SCRIPT_SAMPLES = {
    "Han (zh)": ("新闻报道", "交换战俘"),
    "Japanese": ("ニュース", "けいざい"),
    "Hangul": ("뉴스기사", "포로교환"),
    "Arabic": ("كتب", "درس"),
    "Devanagari": ("कमल", "नगर"),
    "Thai": ("กขค", "งจฉ"),
    "Cyrillic": ("обмен", "пленн"),
    "Greek": ("ειδήσ", "ανταλ"),
}
DRAWN = """
const font = getComputedStyle(document.body).font;
function pixels(text) {
  const canvas = document.createElement("canvas");
  canvas.width = 240; canvas.height = 60;
  const context = canvas.getContext("2d");
  context.font = font;
  context.fillText(text, 4, 40);
  return Array.from(context.getImageData(0, 0, 240, 60).data).join(",");
}
return [pixels(arguments[0]).length > 0, pixels(arguments[0]) !== pixels(arguments[1]),
        pixels(arguments[0]) !== pixels("")];
"""


def test_pages_have_fonts_for_every_script(server, browser):
    """CJK, Arabic, Devanagari and Thai paragraphs show text, not boxes: Debian's Noto
    fonts (fonts-noto-core, fonts-noto-cjk) must be installed, as .ci/run does."""
    browser.get(server.url + "/")
    missing = []
    for script, (first, second) in SCRIPT_SAMPLES.items():
        drawn, distinct, visible = browser.execute_script(DRAWN, first, second)
        assert drawn
        if not (distinct and visible):
            missing.append(script)
    assert missing == [], (f"no font for {', '.join(missing)}: "
                           "apt-get install fonts-noto-core fonts-noto-cjk")
