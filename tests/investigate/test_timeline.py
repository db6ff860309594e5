"""The timeline of matches: the histogram, /api/search's facets.dates and the page's SVG."""

from __future__ import annotations

import json
from datetime import date

import pytest
from helpers import FakeEncoder, write
from web_fixtures import build_fake_index, make_app

from search.config import Settings
from search.investigate.timeline import Interval, choose_interval, histogram


@pytest.mark.parametrize(("first", "last", "interval"), [
    (date(2025, 1, 1), date(2025, 1, 1), Interval.DAY),
    (date(2025, 1, 1), date(2025, 3, 3), Interval.DAY),
    (date(2025, 1, 1), date(2025, 3, 4), Interval.MONTH),
    (date(2015, 1, 1), date(2024, 12, 31), Interval.MONTH),
    (date(2014, 12, 1), date(2024, 12, 31), Interval.YEAR),
])
def test_the_interval_follows_the_span(first, last, interval):
    assert choose_interval(first, last) is interval


def test_bars_cover_the_span_with_empty_periods_and_undated_apart():
    found = histogram({"2024-01-15": 2, "2024-01-20": 1, "2024-04-02": 4, "none": 3,
                       "2024-13-01": 1})
    assert found.interval is Interval.MONTH
    assert [(b.label, b.count) for b in found.bars] == [
        ("2024-01", 3), ("2024-02", 0), ("2024-03", 0), ("2024-04", 4)]
    assert found.bars[1].first == date(2024, 2, 1) and found.bars[1].last == date(2024, 2, 29)
    assert found.undated == 4  # "none" and the date that does not parse
    assert found.counts() == {"2024-01": 3, "2024-04": 4, "none": 4}
    assert histogram({"2024-01-15": 2}, Interval.YEAR).counts() == {"2024": 2}
    assert histogram({"none": 2}).bars == []


def two_years() -> list[dict]:
    """An article a week over 2023-2024 naming the harbour (more in summer), and some
    undated ones."""
    articles = []
    for n in range(104):
        day = date.fromordinal(date(2023, 1, 2).toordinal() + 7 * n)
        copies = 3 if day.month in (6, 7, 8) else 1
        for c in range(copies):
            articles.append({"id": f"w{n}-{c}", "title": f"Week {n}", "lang": "en",
                             "date": day.isoformat(),
                             "text": f"The harbour report of week {n}, copy {c}, with ferries."})
    articles += [{"id": f"u{n}", "title": "Undated", "lang": "en",
                  "text": "An undated harbour note about the ferries and the tides."}
                 for n in range(3)]
    return articles


def expected_months() -> dict[str, int]:
    months: dict[str, int] = {}
    for article in two_years():
        if "date" in article:
            months[article["date"][:7]] = months.get(article["date"][:7], 0) + 1
    return months


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("timeline")
    write(root / "seeds" / "feed.jsonl", "\n".join(json.dumps(a) for a in two_years()))
    encoder = FakeEncoder()
    build_fake_index(root / "seeds", root / "idx", encoder)
    # Every match counted (the default count window stops at 100 and says "at least").
    app = make_app(root / "idx", encoder, root / "seeds", LOAD_MODEL=False, FOLLOW_INTERVAL=0,
                   SETTINGS=Settings(count_window=1000))
    yield app
    app.extensions["search"].close()


def test_the_api_gives_the_histogram_by_the_interval_asked(app):
    client = app.test_client()
    facets = client.get("/api/search?q=harbour&mode=keyword").get_json()["facets"]
    assert facets["interval"] == "month"
    assert facets["dates"] == expected_months() | {"none": 3}
    by_year = client.get("/api/search?q=harbour&mode=keyword&interval=year").get_json()
    years = {year: sum(n for month, n in expected_months().items() if month.startswith(year))
             for year in ("2023", "2024")}
    assert by_year["facets"]["dates"] == years | {"none": 3}
    assert sum(by_year["facets"]["dates"].values()) == by_year["total"]
    by_day = client.get("/api/search?q=harbour&mode=keyword&interval=day").get_json()
    assert by_day["facets"]["dates"]["2023-01-02"] == 1
    assert client.get("/api/search?q=harbour&interval=week").status_code == 400


def test_the_page_draws_linked_bars_with_their_counts(app):
    html = app.test_client().get("/?q=harbour&mode=keyword").get_data(as_text=True)
    assert html.count('class="timeline-bar"') == 24
    assert "<title>2023-07: 15 matches</title>" in html
    assert "date_from=2023-07-01&amp;date_to=2023-07-31" in html
    assert "Undated: 3 matches" in html
    assert "<script" not in html
    short = app.test_client().get(
        "/?q=harbour&mode=keyword&date_from=2023-07-01&date_to=2023-07-31")
    text = short.get_data(as_text=True)
    assert "Matches by day" in text and "<title>2023-07-03: 3 matches</title>" in text
