"""Hostile requests: any query string sent to GET /api/search, the search page and the article
routes, as raw bytes (so also bytes that are not UTF-8, percent-escapes of lone surrogates, NUL,
repeated and unknown parameters). The only acceptable answers are results or a clear 4xx
error, in JSON for the API and in HTML for the pages, and never markup from the request.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest
from helpers import SEEDS, FakeEncoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hostile_input import PIECES, WORDY
from web_fixtures import HOSTILE_ARTICLE, add_hostile_article, build_fake_index, make_app

PARAMETERS = ["q", "mode", "lang", "query_lang", "page", "size", "fusion", "alpha",
              "date_from", "date_to", "one_per_article"]
VALUES = st.one_of(
    WORDY,
    st.sampled_from(["hybrid", "keyword", "semantic", "HYBRID", "en", "de", "zh", "xx", "1", "0",
                     "-1", "100", "101", "1e309", "nan", "inf", "0.5", "2025-07-22", "2025-02-30",
                     "true", "false", "rrf", "weighted", "", "Istanbul prisoner exchange"]),
    st.integers(-(10**30), 10**30).map(str),
)
# Raw pieces of a query string: escapes that decode to invalid UTF-8 or to surrogates, bare
# separators, overlong and stray percent signs.
RAW = st.sampled_from(["%FF", "%ED%A0%80", "%C0%AF", "%00", "%", "%zz", "&&", "==", ";", "+",
                       "%E2%80%AE", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "#frag"])


def encode(value: str) -> str:
    return urllib.parse.quote(value.encode("utf-8", "surrogatepass"), safe="")


@st.composite
def query_strings(draw) -> str:
    pairs = draw(st.lists(st.tuples(st.one_of(st.sampled_from(PARAMETERS), WORDY), VALUES),
                          max_size=6))
    parts = [f"{encode(name)}={encode(value)}" for name, value in pairs]
    parts += draw(st.lists(RAW, max_size=3))
    draw(st.randoms()).shuffle(parts)
    return "&".join(parts)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-requests")
    seeds = root / "seeds"
    seeds.mkdir()
    for path in SEEDS.iterdir():
        (seeds / path.name).write_bytes(path.read_bytes())
    add_hostile_article(seeds)
    encoder = FakeEncoder()
    app = make_app(build_fake_index(seeds, root / "index", encoder), encoder, seeds)
    yield app.test_client()
    app.extensions["search"].close()


_MARK = re.compile(r"</?mark>")


def check_api(response) -> None:
    assert response.status_code in (200, 400, 404), response.status_code
    body = response.get_json()
    if response.status_code == 200:
        for hit in body.get("results", []):
            assert "<" not in _MARK.sub("", hit["highlighted"])
            assert "<" not in _MARK.sub("", hit["snippet"])
    else:
        assert body["error"] and "\n" not in body["error"]


def check_page(response) -> None:
    assert response.status_code in (200, 400, 404), response.status_code
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<script>alert" not in html and "onerror=" not in html.replace("onerror=alert", "")


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(query_string=query_strings())
def test_any_query_string_is_answered_or_refused_clearly(client, query_string):
    check_api(client.get("/api/search?" + query_string))
    check_page(client.get("/?" + query_string))


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(article_id=st.one_of(WORDY, PIECES, st.sampled_from(
    ["../../etc/passwd", "..%2F..%2Fmanifest.json", "/etc/passwd", "%00", "CURRENT",
     "generations/g000001/manifest.json", HOSTILE_ARTICLE, HOSTILE_ARTICLE + "/..", "."])))
def test_any_article_id_is_an_article_or_a_404(client, article_id):
    path = urllib.parse.quote(article_id.encode("utf-8", "surrogatepass"), safe="/%")
    for prefix, check in (("/api/articles/", check_api), ("/articles/", check_page)):
        response = client.get(prefix + path)
        if response.status_code == 308:  # "a//b" and the like: redirected to "a/b"
            assert urllib.parse.urlsplit(response.location).path.startswith(prefix)
            continue
        check(response)
        if response.status_code == 200 and prefix == "/api/articles/":
            assert response.get_json()["id"] in INDEXED


INDEXED = {path.name for path in SEEDS.iterdir()} | {HOSTILE_ARTICLE}
