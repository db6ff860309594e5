"""Alerts on the web, with the fake encoder: the JSON API, who may change alerts, the CSRF
token of the forms, "watch this search", the alerts page and the Atom feed."""

from __future__ import annotations

import re

import feedparser
import pytest
import schemathesis
from alert_helpers import ENCODER, base, names, update
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from web_fixtures import make_app

from search.alerts import AlertKind, add_alert, alert_hits


@pytest.fixture
def site(tmp_path):
    seeds, index = base(tmp_path / "seeds"), tmp_path / "index"
    update(seeds, index)
    app = make_app(index, ENCODER, seeds, LOAD_MODEL=False, FOLLOW_INTERVAL=0)
    yield app, seeds, index
    app.extensions["search"].close()


def test_the_api_creates_lists_shows_changes_and_removes_alerts(site):
    app, seeds, index = site
    client = app.test_client()
    made = client.post("/api/alerts", json={"name": "people", "kind": "watchlist",
                                            "text": "Зеленский\nPeskov",
                                            "webhook_url": "http://127.0.0.1:9/"})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["name"] == "people" and len(body["webhook_secret"]) > 30
    assert re.fullmatch(r"/alerts/feed/[\w-]{32}\.atom", body["feed"])
    assert client.get("/api/alerts").get_json()["alerts"][0]["kind"] == "watchlist"
    assert "webhook_secret" not in client.get("/api/alerts").get_json()["alerts"][0]
    changed = client.patch("/api/alerts/people", json={"webhook_url": ""})
    assert changed.get_json()["webhook_url"] is None
    update(names(seeds), index)
    shown = client.get("/api/alerts/people").get_json()
    assert [h["paragraph_id"] for h in shown["hits"]] == ["names.md:1", "names.md:0"]
    assert shown["hits"][1]["why"]["words"][0] == {
        "word": "Зеленский", "form": "latin", "found": ["Zelensky"]}
    assert shown["hits"][1]["link"] == "http://localhost/articles/names.md#p0"
    parsed = feedparser.parse(client.get(body["feed"]).data)
    assert not parsed.bozo and len(parsed.entries) == 2
    assert client.delete("/api/alerts/people").status_code == 204
    assert client.get("/api/alerts/people").get_json() == {
        "error": "no alert named 'people': `search alert list` shows them"}


def test_bad_alerts_are_400_and_strangers_may_not_change_alerts(site):
    app, _, _ = site
    client = app.test_client()
    for body, message in [
        ({"name": "x"}, "an alert needs a query or watchlist of 1 to 20000 characters"),
        ({"name": "x", "text": "y", "mode": "magic"},
         "'magic' is not a valid Mode: kind is query or watchlist, mode one of keyword, "
         "semantic, hybrid"),
        ({"name": "x", "text": "y", "languages": "en"}, "languages must be a list of strings"),
        ([1], 'send the alert as a JSON object: {"name": ..., "text": ...}'),
    ]:
        response = client.post("/api/alerts", json=body)
        assert (response.status_code, response.get_json()) == (400, {"error": message})
    stranger = {"REMOTE_ADDR": "192.0.2.7"}
    assert client.post("/api/alerts", json={"name": "x", "text": "y"},
                       environ_base=stranger).status_code == 403
    assert client.delete("/api/alerts/x", environ_base=stranger).status_code == 403
    assert client.get("/api/alerts", environ_base=stranger).status_code == 200
    assert client.get("/alerts/feed/not-a-feed.atom").status_code == 404


def test_watch_this_search_needs_the_pages_csrf_token(site):
    app, seeds, index = site
    client = app.test_client()
    results = client.get("/?q=Zelensky+Peskov&mode=keyword").get_data(as_text=True)
    assert "Watch this search" in results
    token = re.search(r'name="csrf" value="([^"]+)"', results).group(1)
    forged = client.post("/alerts", data={"q": "Zelensky Peskov", "mode": "keyword"})
    assert forged.status_code == 403
    other = app.test_client()  # another browser: its session has no token
    assert other.post("/alerts", data={"q": "x", "csrf": token}).status_code == 403
    saved = client.post("/alerts", data={"q": "Zelensky Peskov", "mode": "keyword",
                                         "csrf": token})
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith("/alerts?created=Zelensky+Peskov")
    update(names(seeds), index)
    page = client.get("/alerts").get_data(as_text=True)
    assert "Alert “Zelensky Peskov” saved." not in page
    assert "President Zelensky said the delegation" in page
    assert "why: words: Zelensky (typed)" in page
    alert, _ = alert_hits(index, "Zelensky Peskov")
    assert f"/alerts/feed/{alert.feed_token}.atom" in page
    remove = client.post("/alerts/Zelensky Peskov/delete", data={"csrf": token})
    assert remove.status_code == 303
    assert "No alerts yet." in client.get("/alerts").get_data(as_text=True)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/alerts"), ("POST", "/api/alerts"), ("GET", "/api/alerts/{name}"),
    ("PATCH", "/api/alerts/{name}"), ("DELETE", "/api/alerts/{name}")])
def test_the_alerts_api_conforms_to_its_openapi_document(site, method, path):
    """No 5xx for any input, and every answer's status, type and body as documented."""
    app, seeds, index = site
    add_alert(index, "people", "Zelensky\nPeskov", kind=AlertKind.WATCHLIST)
    update(names(seeds), index)
    operation = schemathesis.openapi.from_wsgi("/api/openapi.json", app)[path][method]
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    @settings(max_examples=15, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def conforms(case):
        if "name" in (case.path_parameters or {}) and case.path_parameters["name"] == "":
            return
        case.call_and_validate(checks=checks)

    conforms()
