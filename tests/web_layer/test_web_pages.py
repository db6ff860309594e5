"""The HTML pages through Flask's test client: form, results, states, article, escaping."""

from __future__ import annotations

import html
import re

import pytest
from web_fixtures import (
    HOSTILE_ARTICLE,
    PRISONER_PARAGRAPH,
    SEED_ARTICLE,
    add_hostile_article,
    build_fake_index,
    make_app,
)

QUERY = "Istanbul talks prisoner exchange"


@pytest.fixture
def hostile_client(tmp_path, seeds_copy, fake_encoder):
    add_hostile_article(seeds_copy)
    index_dir = build_fake_index(seeds_copy, tmp_path / "index", fake_encoder)
    app = make_app(index_dir, fake_encoder, seeds_copy)
    yield app.test_client()
    app.extensions["search"].close()


def _page(response, status: int = 200) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def _hits(page: str) -> list[str]:
    return re.findall(r'<li class="hit">(.*?)</li>', page, re.S)


def test_empty_search_page_has_the_form_and_index_status(client):
    page = _page(client.get("/"))
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert re.search(r'<form class="search" action="/" method="get" role="search">', page)
    assert '<label for="q">' in page
    assert re.search(r'<input type="search" id="q" name="q" value="" autofocus', page)
    for mode in ["hybrid", "keyword", "semantic"]:
        assert f'name="mode" value="{mode}"' in page
    assert re.search(r'value="hybrid" checked', page)
    assert "<legend>Mode</legend>" in page and "<legend>Languages</legend>" in page
    for code in ["ar", "de", "en", "es", "fr", "ru", "zh"]:
        assert f'type="checkbox" name="lang" value="{code}"' in page
    footer = page[page.index('<footer class="site">'):]
    assert re.search(r'<span class="count">7</span> articles', footer)
    assert "paragraphs" in footer and "7 languages" in footer and "updated <time" in footer
    assert "<script" not in page and "style=" not in page
    assert 'href="/static/style.css"' in page
    assert _hits(page) == []


def test_results_show_the_paragraph_highlighted_with_why_and_a_link(client):
    page = _page(client.get("/", query_string={"q": QUERY}))
    assert f'value="{QUERY}"' in page
    hits = _hits(page)
    assert 3 <= len(hits) <= 10  # the matches only: paragraphs with half the words or close
    first = hits[0]
    assert PRISONER_PARAGRAPH.split()[-1] in html.unescape(re.sub("<[^>]+>", "", first))
    assert "<mark>" in first and "prisoner" in first.lower()
    link = re.search(r'<a dir="auto" href="([^"]+)">([^<]+)</a>', first)
    assert link.group(1).startswith(f"/articles/{SEED_ARTICLE}#p")
    assert link.group(2) == "Zelensky Confirms Fresh Peace Talks with Russia Amid Ongoing Attacks"
    assert "Alliance News" in first and "English" in first
    assert re.search(r'<p class="paragraph" lang="en" dir="auto">', first)
    assert re.search(r"keyword rank \d+", first) and re.search(r"semantic rank \d+", first)
    assert re.search(r"\d+\s+matching paragraphs for", page)
    assert "each story once" in page
    assert re.search(r"\d+ ms</p>", page)
    # Each story once, at its best-ranked language, the others linked under it.
    also = re.search(r'<p class="also-in">Also in:(.*?)</p>', first, re.S).group(1)
    assert set(re.findall(r'hreflang="(\w+)"', also)) == {"ar", "de", "es", "fr", "ru", "zh"}
    assert f'/articles/{SEED_ARTICLE.replace(".txt", ".de.txt")}#p4' in also
    titles = [re.search(r'<a dir="auto" href="[^"]+">([^<]+)</a>', hit).group(1)
              for hit in _hits(page)]
    paragraphs = [re.search(r'href="[^"]+#p(\d+)"', hit).group(1) for hit in _hits(page)]
    assert len(set(paragraphs)) == len(paragraphs) == len(titles)  # no story twice


def test_the_linked_paragraph_is_the_one_shown(client):
    first = _hits(_page(client.get("/", query_string={"q": QUERY})))[0]
    href = re.search(r'href="([^"]+)"', first).group(1)
    path, anchor = href.split("#")
    article = _page(client.get(path))
    target = re.search(rf'<div class="para" id="{anchor}">\s*<a[^>]*>¶</a>\s*<p[^>]*>(.*?)</p>',
                       article, re.S)
    assert PRISONER_PARAGRAPH in html.unescape(target.group(1))


def test_mode_and_language_filters_are_kept_in_the_form_and_applied(client):
    args = [("q", QUERY), ("mode", "semantic"), ("lang", "de"), ("lang", "fr")]
    page = _page(client.get("/", query_string=args))
    assert re.search(r'value="semantic" checked', page)
    assert re.search(r'value="de" checked', page) and re.search(r'value="fr" checked', page)
    assert not re.search(r'value="en" checked', page)
    langs = set(re.findall(r'<p class="paragraph" lang="(\w+)"', page))
    assert langs and langs <= {"de", "fr"}
    assert "Semantic search" in page


def test_right_to_left_paragraphs_are_marked_rtl(client):
    page = _page(client.get("/", query_string={"q": "تبادل الأسرى", "lang": "ar"}))
    hits = _hits(page)
    assert hits
    for hit in hits:
        assert '<p class="paragraph" lang="ar" dir="rtl">' in hit
    article = _page(client.get("/articles/000_7c2908e13247d0b5.ar.txt"))
    assert '<article class="article" lang="ar">' in article
    assert re.search(r'<p lang="ar" dir="rtl">', article)


def test_pagination_keeps_the_query(client):
    page = _page(client.get("/", query_string=[("q", QUERY), ("mode", "keyword"),
                                               ("size", "2")]))
    nav = re.search(r'<nav class="pagination" aria-label="Result pages">(.*?)</nav>', page, re.S)
    assert nav and '<span aria-current="page">1</span>' in nav.group(1)
    following = re.search(r'<a rel="next" href="([^"]+)">', nav.group(1)).group(1)
    following = html.unescape(following)
    assert "page=2" in following and "mode=keyword" in following and "size=2" in following
    second = _page(client.get(following))
    assert '<span aria-current="page">2</span>' in second
    assert '<ol class="hits" start="3">' in second
    assert 'rel="prev"' in second


def test_unknown_parameters_are_ignored_and_not_carried_over(client):
    args = [("q", QUERY), ("size", "2"), ("endpoint", "x"), ("_external", "1"),
            ("_scheme", "ftp"), ("_anchor", "top")]
    page = _page(client.get("/", query_string=args))
    following = html.unescape(re.search(r'<a rel="next" href="([^"]+)">', page).group(1))
    assert following == "/?q=Istanbul+talks+prisoner+exchange&size=2&page=2"


def test_no_results_state(client):
    page = _page(client.get("/", query_string={"q": "zzqxjw", "mode": "keyword"}))
    assert "No results for" in page and "Nothing in the index matches" in page
    assert _hits(page) == [] and "Closest paragraphs" not in page  # no word of it anywhere


def test_blank_query_asks_for_words(client):
    page = _page(client.get("/", query_string={"q": "   ", "mode": "keyword"}))
    assert "Type a few words" in page and _hits(page) == []


@pytest.mark.parametrize("args", [
    {"q": "x" * 10_000}, {"q": QUERY, "page": "0"}, {"q": QUERY, "page": "abc"},
    {"q": QUERY, "size": "1000"}, {"q": QUERY, "mode": "bogus"}, {"q": QUERY, "lang": "xx"},
    {"q": QUERY, "alpha": "2"}, {"q": QUERY, "fusion": "bogus"},
    {"q": QUERY, "date_from": "yesterday"},
])
def test_bad_parameters_show_the_error_state(client, args):
    page = _page(client.get("/", query_string=args), 400)
    assert '<div class="notice error" role="alert">' in page
    assert "That search cannot be run" in page
    assert '<form class="search"' in page  # the form stays, to fix the search


def test_article_page_shows_every_paragraph_in_order(client):
    page = _page(client.get(f"/articles/{SEED_ARTICLE}"))
    assert "<h1 dir=\"auto\">Zelensky Confirms Fresh Peace Talks" in page
    ids = [int(n) for n in re.findall(r'<div class="para" id="p(\d+)">', page)]
    assert ids == sorted(ids) and len(ids) > 5
    assert PRISONER_PARAGRAPH in html.unescape(page)


def test_unknown_article_is_a_friendly_404(client):
    page = _page(client.get("/articles/world/nowhere.txt"), 404)
    assert "Not found" in page and "no article" in page
    assert _page(client.get("/no/such/page"), 404)


def test_seed_text_is_escaped_everywhere(hostile_client):
    page = _page(hostile_client.get("/", query_string={"q": "markets weather elections",
                                                      "mode": "keyword"}))
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    article = _page(hostile_client.get(f"/articles/{HOSTILE_ARTICLE}"))
    assert "<script>" not in article and "<img" not in article
    assert "&lt;img src=x onerror=alert(1)&gt;" in article
    assert "Hostile &lt;script&gt;alert(1)&lt;/script&gt; headline" in article
    query_echo = _page(hostile_client.get("/", query_string={"q": "<script>alert(2)</script>"}))
    assert "<script>alert(2)" not in query_echo
    assert 'value="&lt;script&gt;alert(2)&lt;/script&gt;"' in query_echo


def test_results_show_facet_counts_beside_the_filters_and_the_order_controls(client):
    page = _page(client.get("/", query_string={"q": QUERY}))
    counts = dict(re.findall(
        r'name="lang" value="(\w+)"[^>]*>[^<]*<span class="code">\w+</span> '
        r'<span class="count" title="matching paragraphs">(\d+)</span>', page))
    total = int(re.search(r"(\d+)\s+matching paragraphs? for", page).group(1))
    assert sum(map(int, counts.values())) == total and int(counts["en"]) >= 1
    assert '<option value="translations" selected>' in page
    assert re.search(r'name="source" value="Alliance News"> Alliance News\s*'
                     r'<span class="count" title="matching paragraphs">\d+</span>', page)
    assert re.search(r'<select id="sort" name="sort">', page)
    assert '<option value="relevance" selected>' in page
    assert re.search(r'<input type="number" id="recency" name="recency"', page)
    assert "undated" in page  # the seed datelines have no year: one month facet, undated
    assert "<script" not in page


def test_sort_and_recency_are_kept_in_the_form(client):
    page = _page(client.get("/", query_string={"q": QUERY, "sort": "date", "recency": "30"}))
    assert '<option value="date" selected>' in page and 'value="30"' in page
    assert _hits(page)


def test_an_empty_recency_field_means_no_boost(client):
    assert _hits(_page(client.get("/", query_string={"q": QUERY, "recency": ""})))


def test_an_absent_topic_shows_no_results_and_the_closest_paragraphs_apart(client):
    page = _page(client.get("/", query_string={"q": "earthquake in Japan tsunami warning",
                                                "mode": "semantic"}))
    assert "No results for" in page and "Nothing in the index matches" in page
    assert '<h2 id="closest-heading">Closest paragraphs (not matches)</h2>' in page
    results = page[:page.index('class="closest"')]
    assert _hits(results) == []
    assert 1 <= len(_hits(page[page.index('class="closest"'):])) <= 10


def test_month_facets_link_to_a_date_range(tmp_path, seeds_copy, fake_encoder):
    (seeds_copy / "dated.json").write_text(
        '{"title": "Prisoner exchange", "date": "2025-07-22", "source": "Wire", "text": '
        '"Istanbul talks prisoner exchange agreed by both sides on Wednesday evening."}',
        encoding="utf-8")
    index_dir = build_fake_index(seeds_copy, tmp_path / "index", fake_encoder)
    app = make_app(index_dir, fake_encoder, seeds_copy)
    try:
        page = _page(app.test_client().get("/", query_string={"q": QUERY}))
    finally:
        app.extensions["search"].close()
    link = re.search(r'<a href="([^"]+)">2025-07 <span class="count">1</span></a>', page)
    assert link and "date_from=2025-07-01" in html.unescape(link.group(1))
    assert "date_to=2025-07-31" in html.unescape(link.group(1))
