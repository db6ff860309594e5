"""Article dates: from JSON, front matter, HTML metadata and datelines, a yearless dateline
taking its year from the metadata."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from search.ingest.datelines import in_year_of, take_dateline
from search.ingest.seeds import Article, SeedFile, read_articles

DATELINE = "KYIV, Jul 22 (Alliance News): Ukraine and Russia will meet again in Istanbul."
REST = "The negotiations will likely center on further prisoner exchanges."


def read(root: Path, relative: str, content: str) -> Article:
    path = root / relative
    path.write_text(content, encoding="utf-8")
    [article] = read_articles(root, SeedFile(relative, hashlib.sha256(
        path.read_bytes()).hexdigest()))
    return article


@pytest.mark.parametrize(("month_day", "reference", "expected"), [
    ((7, 22), "2025-07-23", "2025-07-22"),
    ((7, 22), "2025-07-23T08:00:00Z", "2025-07-22"),
    ((12, 31), "2026-01-01", "2025-12-31"),  # published just after New Year
    ((1, 2), "2025-12-30", "2026-01-02"),
    ((2, 29), "2025-03-01", "2024-02-29"),  # the only nearby year with that day
    ((7, 22), "not a date", None),
])
def test_a_yearless_date_takes_the_nearest_year(month_day, reference, expected):
    assert in_year_of(month_day, reference) == expected


def test_a_dateline_without_a_year_and_no_metadata_stays_undated():
    opening = take_dateline(f"{DATELINE}\n\n{REST}")
    assert opening.date is None and opening.place == "KYIV"
    assert opening.source == "Alliance News" and opening.body.startswith("Ukraine and")


def test_a_dated_dateline_wins_and_metadata_fills_in_when_there_is_none():
    dated = take_dateline("LONDON, March 3, 2024 (Reuters) - Markets fell.", "2024-03-04")
    assert dated.date == "2024-03-03"
    assert take_dateline("No dateline here at all.", "2024-03-04").date == "2024-03-04"


def test_json_date_gives_a_yearless_dateline_its_year(tmp_path):
    article = read(tmp_path, "feed.json", json.dumps(
        {"title": "Talks", "date": "2025-07-23T06:00:00Z", "text": f"{DATELINE}\n\n{REST}"}))
    assert article.date == "2025-07-22" and article.place == "KYIV"
    assert article.source == "Alliance News" and article.text.startswith("Ukraine and")


def test_json_without_a_date_keeps_a_yearless_dateline_undated(tmp_path):
    article = read(tmp_path, "feed.json", json.dumps({"title": "Talks",
                                                       "text": f"{DATELINE}\n\n{REST}"}))
    assert article.date is None and article.place == "KYIV"


def test_markdown_front_matter_date_gives_the_dateline_its_year(tmp_path):
    article = read(tmp_path, "talks.md",
                   f"---\ntitle: Talks\ndate: 2025-07-23\n---\n\n{DATELINE}\n\n{REST}\n")
    assert article.date == "2025-07-22" and article.source == "Alliance News"


@pytest.mark.parametrize("head", [
    '<meta property="article:published_time" content="2025-07-23T09:15:00+03:00">',
    '<meta name="date" content="2025-07-23">',
    '<meta itemprop="datePublished" content="2025-07-23">',
])
def test_html_metadata_dates_an_article(tmp_path, head):
    page = (f"<html><head><title>Talks</title>{head}</head><body><article>"
            f"<p>{DATELINE}</p><p>{REST}</p></article></body></html>")
    article = read(tmp_path, "talks.html", page)
    assert article.date == "2025-07-22" and article.place == "KYIV"
    assert article.text.startswith("Ukraine and")


def test_html_time_element_dates_an_article_without_a_dateline(tmp_path):
    page = ("<html><head><title>Talks</title></head><body><article>"
            '<p>Published <time datetime="2025-06-01">June 1</time></p>'
            f"<p>{REST}</p></article></body></html>")
    assert read(tmp_path, "talks.html", page).date == "2025-06-01"


def test_html_without_any_date_is_undated(tmp_path):
    page = f"<html><head><title>Talks</title></head><body><p>{REST}</p></body></html>"
    assert read(tmp_path, "talks.html", page).date is None
