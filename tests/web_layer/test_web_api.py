"""The JSON API through Flask's test client; reindex jobs; the seeds watcher under load."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from web_fixtures import (
    PRISONER_PARAGRAPH,
    SEED_ARTICLE,
    LiveServer,
    build_fake_index,
    make_app,
    wait_for,
)

import web.services
from search.errors import IndexBusy
from search.index.updater import IndexSummary
from search.ranking.query import Mode, Query
from search.records import Filters
from search.serialize import article_to_dict, page_to_dict, stats_to_dict
from web import SECURITY_HEADERS, create_app
from web.jobs import GenerationFollower, Reindexer, SeedsWatcher, seeds_signature
from web.services import get_services

QUERY = "Istanbul talks prisoner exchange"


@pytest.fixture
def fake_app(tmp_path, seeds_copy, fake_encoder):
    """An app over a writable copy of seeds/ indexed with the fake encoder."""
    index_dir = build_fake_index(seeds_copy, tmp_path / "index", fake_encoder)
    app = make_app(index_dir, fake_encoder, seeds_copy)
    yield app
    app.extensions["search"].close()


def _error(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert list(body) == ["error"] and body["error"]
    return body["error"]


def _without_timing(page: dict) -> dict:
    """The page as JSON gives it (tuples become lists), without the time taken."""
    return {key: value for key, value in json.loads(json.dumps(page)).items()
            if key != "took_ms"}


# -- search ------------------------------------------------------------------------------


def test_search_returns_the_engine_page_as_page_to_dict(app, client):
    response = client.get("/api/search", query_string={"q": QUERY})
    assert response.status_code == 200
    body = response.get_json()
    expected = page_to_dict(services_of(app).engine.search(Query(QUERY)))
    assert _without_timing(body) == _without_timing(expected)
    first = body["results"][0]
    assert first["article_id"] == SEED_ARTICLE
    assert PRISONER_PARAGRAPH in first["text"]
    assert "<mark>" in first["highlighted"]
    assert body["took_ms"] >= 0


def services_of(app):
    with app.app_context():
        return get_services()


def test_search_parameters_reach_the_engine(app, client):
    args = [("q", "обмен пленными"), ("mode", "hybrid"), ("lang", "en"), ("lang", "de"),
            ("page", "1"), ("size", "3"), ("fusion", "rrf"), ("alpha", "0.3"),
            ("query_lang", "ru"), ("one_per_article", "true")]
    body = client.get("/api/search?" + urllib.parse.urlencode(args)).get_json()
    query = body["query"]
    assert query["mode"] == "hybrid" and query["fusion"] == "rrf" and query["alpha"] == 0.3
    assert query["lang"] == "ru" and query["lang_detected"] is False
    assert query["filters"]["languages"] == ["en", "de"]
    assert query["one_per_article"] is True
    shown = body["results"] or body["closest"]  # a Russian query may match nothing in en, de
    assert body["size"] == 3 and 1 <= len(shown) <= 3 and len(body["results"]) <= 2
    assert {hit["lang"] for hit in shown} <= {"en", "de"}
    assert len({hit["article_id"] for hit in body["results"]}) == len(body["results"])
    expected = services_of(app).engine.search(Query(
        "обмен пленными", Mode.HYBRID, "ru",
        Filters(languages=("en", "de")), size=3, fusion="rrf", alpha=0.3, one_per_article=True))
    assert _without_timing(body) == _without_timing(page_to_dict(expected))


def test_date_filters_reach_the_engine(client):
    # The seed datelines ("Jul 22") have no year, so the articles have no date to match.
    body = client.get("/api/search", query_string={
        "q": QUERY, "date_from": "2020-01-01", "date_to": "2030-12-31"}).get_json()
    filters = body["query"]["filters"]
    assert (filters["date_from"], filters["date_to"]) == ("2020-01-01", "2030-12-31")
    assert body["total"] == 0 and body["results"] == []


@pytest.mark.parametrize("mode", ["keyword", "semantic"])
def test_search_modes(client, mode):
    body = client.get("/api/search", query_string={"q": QUERY, "mode": mode}).get_json()
    assert body["query"]["mode"] == mode
    assert body["results"][0]["article_id"] == SEED_ARTICLE
    explain = body["results"][0]["explain"]
    other = "semantic" if mode == "keyword" else "keyword"
    assert explain[f"{mode}_rank"] == 1 and explain[f"{other}_rank"] is None


def test_second_page_continues_the_first(client):
    both = client.get("/api/search", query_string={"q": QUERY, "size": 4}).get_json()
    second = client.get("/api/search", query_string={"q": QUERY, "size": 2, "page": 2}).get_json()
    assert [h["paragraph_id"] for h in second["results"]] == [
        h["paragraph_id"] for h in both["results"][2:4]]
    far = client.get("/api/search", query_string={"q": QUERY, "page": 1000}).get_json()
    assert far["results"] == [] and far["total"] > 0


BAD_SEARCHES = [
    ({}, "q is required"),
    ({"q": ""}, "empty"),
    ({"q": "   "}, "empty"),
    ({"q": "x" * 10_000}, "the limit is 2000"),
    ({"q": "x" * 2001}, "the limit is 2000"),
    ({"page": "0"}, "page must be between 1 and 1000"),
    ({"page": "-1"}, "page must be between 1 and 1000"),
    ({"page": "abc"}, "page must be a whole number"),
    ({"page": "1.5"}, "page must be a whole number"),
    ({"page": "9" * 5000}, "page must be a whole number"),
    ({"page": "1001"}, "page must be between 1 and 1000"),
    ({"size": "0"}, "size must be between 1 and 100"),
    ({"size": "1000"}, "size must be between 1 and 100"),
    ({"size": ""}, "size must be a whole number"),
    ({"mode": "bogus"}, "mode must be one of"),
    ({"mode": ""}, "mode must be one of"),
    ({"alpha": "2"}, "alpha must be a number between 0 and 1"),
    ({"alpha": "-0.1"}, "alpha must be a number between 0 and 1"),
    ({"alpha": "abc"}, "alpha must be a number between 0 and 1"),
    ({"alpha": "nan"}, "alpha must be a number between 0 and 1"),
    ({"fusion": "bogus"}, "fusion must be one of weighted, rrf"),
    ({"lang": "xx"}, "no paragraphs in language xx"),
    ({"lang": ""}, "lang must be a language code"),
    ({"lang": "<script>"}, "lang must be a language code"),
    ({"query_lang": "english!"}, "query_lang must be a language code"),
    ({"date_from": "bad"}, "date_from must be a date like 2025-07-22"),
    ({"date_from": "2025-13-01"}, "date_from must be a date"),
    ({"date_to": "20250722"}, "date_to must be a date"),
    ({"one_per_article": "maybe"}, "one_per_article must be true or false"),
]


@pytest.mark.parametrize(("args", "message"), BAD_SEARCHES)
def test_bad_search_parameters_get_400_saying_what_is_wrong(client, args, message):
    query = args if "q" in args or not args else {"q": QUERY, **args}
    error = _error(client.get("/api/search", query_string=query), 400)
    assert message in error


def test_odd_but_valid_text_is_searched(client):
    for text in ["\x00", "<script>alert(1)</script>", "?*:\"AND OR NOT", "🙂" * 50,
                 "a" * 2000, "\u202eright to left override"]:
        response = client.get("/api/search", query_string={"q": text})
        assert response.status_code == 200, (text, response.get_data(as_text=True))


# -- articles, stats, health -------------------------------------------------------------


def test_article_is_article_to_dict(app, client):
    body = client.get(f"/api/articles/{SEED_ARTICLE}").get_json()
    assert body == article_to_dict(services_of(app).engine.article(SEED_ARTICLE))
    positions = [p["position"] for p in body["paragraphs"]]
    assert positions == sorted(positions) and len(positions) > 3


def test_unknown_article_and_route_are_json_404(client):
    assert "no article" in _error(client.get("/api/articles/nope/missing.txt"), 404)
    assert "no such endpoint" in _error(client.get("/api/nothing-here"), 404)
    assert _error(client.get("/api"), 404)


def test_wrong_method_is_json_405(client):
    response = client.post("/api/search")
    _error(response, 405)
    assert "GET" in response.headers["Allow"]


def test_stats_and_health(app, client):
    stats = client.get("/api/stats").get_json()
    assert stats == stats_to_dict(services_of(app).engine.stats())
    assert stats["articles"] == 7 and set(stats["languages"]) >= {"en", "ar", "zh"}
    health = client.get("/api/health").get_json()
    assert health == {
        "status": "ok", "generation": stats["generation"], "created": stats["created"],
        "model": stats["model"], "articles": stats["articles"],
        "paragraphs": stats["paragraphs"], "languages": len(stats["languages"]),
    }


def test_security_headers_on_every_response(client):
    for path in ["/api/health", "/api/search?q=", "/api/nowhere", "/", "/static/style.css",
                 "/articles/missing"]:
        with client.get(path) as response:
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (path, name)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp


def test_unexpected_errors_become_json_500_and_are_logged(app, client, monkeypatch, caplog):
    def explode(query):
        raise RuntimeError("boom")

    monkeypatch.setattr(services_of(app).engine, "search", explode)
    error = _error(client.get("/api/search", query_string={"q": "x"}), 500)
    assert "boom" not in error and "unexpected" in error
    assert "unexpected error on GET /api/search" in caplog.text
    page = client.get("/", query_string={"q": "x"})
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert "Something went wrong" in page.get_data(as_text=True)


def test_overlong_body_is_refused_with_413(client):
    response = client.post("/api/reindex", data=b"x" * (64 * 1024),
                           content_type="application/octet-stream")
    assert "larger than" in _error(response, 413)


# -- reindex -----------------------------------------------------------------------------


def _poll(client, url: str, **kwargs) -> dict:
    def finished():
        body = client.get(url, **kwargs).get_json()
        return body if body["status"] in ("done", "failed") else None

    return wait_for(finished, timeout=20)


def test_reindex_from_loopback_runs_a_job(fake_app, seeds_copy):
    client = fake_app.test_client()
    (seeds_copy / "world").mkdir()
    (seeds_copy / "world" / "kyiv.txt").write_text(
        "Ferry strike\n\nDockworkers in Odesa stopped the zebrafinch ferries for two days.\n",
        encoding="utf-8")
    response = client.post("/api/reindex")
    assert response.status_code == 202
    job = response.get_json()
    assert job["status"] in ("queued", "running", "done") and job["trigger"] == "api"
    assert response.headers["Location"] == job["status_url"] == f"/api/reindex/{job['id']}"
    done = _poll(client, job["status_url"])
    assert done["status"] == "done", done
    assert done["summary"]["added"] == 1 and done["error"] is None
    hits = client.get("/api/search", query_string={"q": "zebrafinch", "mode": "keyword"})
    assert hits.get_json()["results"][0]["article_id"] == "world/kyiv.txt"
    article = client.get("/api/articles/world/kyiv.txt").get_json()
    assert article["id"] == "world/kyiv.txt"
    assert "no reindex job" in _error(client.get("/api/reindex/unknown"), 404)


def test_reindex_without_token_refuses_remote_callers(fake_app):
    client = fake_app.test_client()
    for address in ["10.1.2.3", "192.168.0.7", "2001:db8::1"]:
        response = client.post("/api/reindex", environ_base={"REMOTE_ADDR": address})
        assert "only from this machine" in _error(response, 403)
    for address in ["127.0.0.1", "127.8.9.10", "::1"]:
        response = client.post("/api/reindex", environ_base={"REMOTE_ADDR": address})
        assert response.status_code in (202, 409), address
        services_of(fake_app).reindexer.wait()


def test_reindex_token_rules(tmp_path, seeds_copy, fake_encoder, monkeypatch):
    index_dir = build_fake_index(seeds_copy, tmp_path / "index", fake_encoder)
    monkeypatch.setenv("SEARCH_REINDEX_TOKEN", "s3cret-token")
    app = create_app({"TESTING": True, "INDEX_DIR": index_dir, "SEEDS_DIR": seeds_copy,
                      "ENCODER_FACTORY": lambda model: fake_encoder})
    monkeypatch.delenv("SEARCH_REINDEX_TOKEN")  # read once, when the app was made
    assert app.config["REINDEX_TOKEN"] == "s3cret-token"
    client = app.test_client()
    release = threading.Event()
    real_update = web.services.update_index

    def slow_update(*args, **kwargs):
        release.wait(10)
        return real_update(*args, **kwargs)

    monkeypatch.setattr(web.services, "update_index", slow_update)
    try:
        missing = client.post("/api/reindex")
        assert "Authorization: Bearer" in _error(missing, 401)
        assert missing.headers["WWW-Authenticate"].lower().startswith("bearer")
        for header in ["Bearer wrong", "Bearer s3cret-token-x", "Basic s3cret-token",
                       "Bearer", "Bearer ünïcode"]:
            response = client.post("/api/reindex", headers={"Authorization": header})
            assert "wrong" in _error(response, 403), header
        good = {"Authorization": "Bearer s3cret-token"}
        # With a token, remote callers are fine.
        first = client.post("/api/reindex", headers=good, environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert first.status_code == 202
        second = client.post("/api/reindex", headers=good)
        assert "already running" in _error(second, 409)
        running = client.get(first.get_json()["status_url"]).get_json()
        assert running["status"] == "running"
        release.set()
        assert _poll(client, first.get_json()["status_url"])["status"] == "done"
        assert client.post("/api/reindex", headers=good).status_code == 202
    finally:
        release.set()
        app.extensions["search"].close()


def test_failed_reindex_reports_its_error(fake_app, seeds_copy):
    client = fake_app.test_client()
    shutil.rmtree(seeds_copy)
    job = client.post("/api/reindex").get_json()
    done = _poll(client, job["status_url"])
    assert done["status"] == "failed" and "does not exist" in done["error"]
    assert done["summary"] is None
    assert client.get("/api/health").status_code == 200  # still serving the old generation


# -- the seeds watcher -------------------------------------------------------------------


def test_watcher_survives_errors_and_retries_when_busy(tmp_path, caplog):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    outcomes = iter([RuntimeError("disk on fire"), IndexBusy("busy"), None])
    runs = []

    def update():
        runs.append(seeds_signature(seeds))
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        return IndexSummary(generation="g000001")

    reindexer = Reindexer(update)
    watcher = SeedsWatcher(seeds, reindexer, interval=0.02)
    assert watcher.poll().status == "failed"  # unexpected error: logged, job failed
    assert watcher.poll() is None  # same files: nothing to do until they change
    (seeds / "a.txt").write_text("Title\n\nBody text here.", encoding="utf-8")
    assert watcher.poll().busy  # another writer: retried at the next poll
    assert watcher.poll().status == "done"
    assert len(runs) == 3
    assert "failed unexpectedly" in caplog.text


def test_follower_survives_errors(caplog):
    calls = []

    def broken_refresh():
        calls.append(1)
        raise OSError("index folder vanished")

    follower = GenerationFollower(broken_refresh, interval=0.01)
    follower.start()
    wait_for(lambda: len(calls) >= 5)
    assert follower._thread.is_alive()  # errors are logged, the thread keeps polling
    follower.stop()
    assert not follower._thread.is_alive()
    assert caplog.text.count("generation-follower: poll failed") == 1  # once, not each poll


def test_server_keeps_its_generation_when_a_newer_one_is_damaged(
        tmp_path, seeds_copy, fake_encoder, caplog):
    index_dir = build_fake_index(seeds_copy, tmp_path / "index", fake_encoder)
    app = make_app(index_dir, fake_encoder, seeds_copy, FOLLOW_INTERVAL=0.05)
    try:
        client = app.test_client()
        before = client.get("/api/search", query_string={"q": "Istanbul"}).get_json()
        (seeds_copy / "extra.txt").write_text("Extra\n\nA new paragraph about Istanbul.\n",
                                             encoding="utf-8")
        newer = build_fake_index(seeds_copy, index_dir, fake_encoder)
        manifest = newer / "generations" / "g000002" / "manifest.json"
        manifest.write_text(manifest.read_text()[:50])  # damaged after it was published
        wait_for(lambda: "trying again every" in caplog.text)  # one line, no traceback
        assert not any(record.exc_info for record in caplog.records)
        after = client.get("/api/search", query_string={"q": "Istanbul"}).get_json()
        assert after["generation"] == before["generation"] == "g000001"
        assert after["results"] == before["results"]
        assert str(index_dir) in caplog.text and "search index --rebuild" in caplog.text
    finally:
        app.extensions["search"].close()


def test_watcher_makes_new_seeds_searchable_under_steady_queries(
        tmp_path, seeds_copy, fake_encoder):
    index_dir = build_fake_index(seeds_copy, tmp_path / "index", fake_encoder)
    app = make_app(index_dir, fake_encoder, seeds_copy, WATCH=True, WATCH_INTERVAL=0.2)
    failures: list[str] = []
    seen_new = threading.Event()
    requests = 0
    counting = threading.Lock()
    try:
        with LiveServer(app, threads=4) as server:
            url = server.url + "/api/search?" + urllib.parse.urlencode(
                {"q": "quokka harbour referendum", "mode": "hybrid", "size": 5})
            stop = time.monotonic() + 30

            def query_steadily():
                nonlocal requests
                generations = []
                while not seen_new.is_set() and time.monotonic() < stop:
                    with counting:
                        if requests >= 1500:
                            return
                        requests += 1
                    time.sleep(0.01)  # answers come from the result cache in microseconds
                    try:
                        with urllib.request.urlopen(url, timeout=10) as response:
                            body = json.load(response)
                    except (urllib.error.URLError, OSError, ValueError) as exc:
                        failures.append(repr(exc))
                        continue
                    generations.append(body["generation"])
                    if any(h["article_id"] == "new/quokka.txt" for h in body["results"]):
                        seen_new.set()
                if generations != sorted(generations):  # never back to an older one
                    failures.append(f"generations out of order: {generations}")

            workers = [threading.Thread(target=query_steadily) for _ in range(3)]
            for worker in workers:
                worker.start()
            time.sleep(0.5)  # queries already flowing when the file lands
            copied_at = time.monotonic()
            article = tmp_path / "quokka.txt"
            article.write_text(
                "Quokka referendum\n\nThe harbour town voted on a quokka referendum today, "
                "and the quokka won by a wide margin.\n", encoding="utf-8")
            (seeds_copy / "new").mkdir()
            shutil.copy(article, seeds_copy / "new" / "quokka.txt")
            for worker in workers:
                worker.join(40)
            took = time.monotonic() - copied_at
    finally:
        app.extensions["search"].close()
    assert failures == []
    assert seen_new.is_set(), f"not searchable after {requests} requests"
    assert took < 10
    assert requests > 10


def test_search_answers_carry_total_relation_facets_and_closest(client):
    body = client.get("/api/search", query_string={
        "q": "Istanbul talks prisoner exchange", "sort": "date", "recency": "30"}).get_json()
    assert body["total"] >= len(body["results"]) > 0 and body["total_relation"] == "eq"
    assert sum(body["facets"]["languages"].values()) == body["total"]
    assert body["facets"]["months"] == {"none": body["total"]}
    assert body["closest"] == []
    assert body["query"]["sort"] == "date" and body["query"]["recency"] == 30.0
    absent = client.get("/api/search", query_string={
        "q": "earthquake in Japan tsunami warning", "mode": "semantic"}).get_json()
    assert absent["total"] == 0 and absent["results"] == [] and absent["closest"]


@pytest.mark.parametrize(("args", "message"), [
    ({"sort": "newest"}, "sort must be one of relevance, date"),
    ({"recency": "soon"}, "recency must be a half-life in days"),
    ({"recency": "0"}, "recency must be a half-life in days"),
])
def test_bad_sort_and_recency_get_one_clear_message(client, args, message):
    response = client.get("/api/search", query_string={"q": "talks", **args})
    assert response.status_code == 400 and message in response.get_json()["error"]
