"""The OpenAPI document matches the server: schemathesis drives the Flask app directly."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from web_fixtures import build_fake_index, make_app, wait_for

from search.ranking.fusion import FusionMethod
from search.ranking.ordering import Collapse, Sort
from search.ranking.query import Mode

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def app(seed_index, real_encoder):
    # A token is configured so that fuzzed POST /api/reindex calls never start a job on the
    # shared, read-only seed index; test_reindex_matches_the_schema covers the 202 answer.
    app = make_app(seed_index, real_encoder, REINDEX_TOKEN="not-sent-by-the-fuzzer")
    yield app
    app.extensions["search"].close()


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
# Only the search and similar have parameters that can be invalid; the rest take any string
# or nothing.
OPERATIONS = [("GET", "/api/search", POSITIVE), ("GET", "/api/search", NEGATIVE),
              ("GET", "/api/articles/{article_id}", POSITIVE), ("GET", "/api/stats", POSITIVE),
              ("GET", "/api/health", POSITIVE), ("POST", "/api/reindex", POSITIVE),
              ("GET", "/api/reindex/{job_id}", POSITIVE), ("GET", "/api/openapi.json", POSITIVE),
              ("GET", "/api/paragraphs/{paragraph_id}", POSITIVE),
              ("GET", "/api/paragraphs/{paragraph_id}/similar", POSITIVE),
              ("GET", "/api/paragraphs/{paragraph_id}/similar", NEGATIVE),
              ("POST", "/api/batch", POSITIVE), ("GET", "/api/batch/{job_id}", POSITIVE)]


# schemathesis.pytest.from_fixture() does not work with pytest 9 (it sets Node._nodeid), so
# each operation is driven through its Hypothesis strategy instead.
@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS)
def test_api_conforms_to_its_openapi_document(api_schema, method, path, mode):
    """No 5xx for any input, valid or not, and every answer's status, content type and body
    are the documented ones."""
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def conforms(case):
        case.call_and_validate(checks=CHECKS)

    conforms()


def test_document_lists_every_api_route(app):
    document = app.test_client().get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    routes = {
        rule.rule.replace("<path:article_id>", "{article_id}").replace("<job_id>", "{job_id}")
        .replace("<path:paragraph_id>", "{paragraph_id}").replace("<name>", "{name}")
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
    }
    assert routes == set(document["paths"])
    parameters = {p["name"] for p in document["paths"]["/api/search"]["get"]["parameters"]}
    assert parameters == {"q", "mode", "lang", "query_lang", "page", "size", "fusion", "alpha",
                          "date_from", "date_to", "one_per_article", "source", "sort",
                          "recency", "collapse", "format", "interval"}
    enums = {p["name"]: p["schema"].get("enum")
             for p in document["paths"]["/api/search"]["get"]["parameters"]}
    for name, kind in (("mode", Mode), ("fusion", FusionMethod), ("sort", Sort),
                       ("collapse", Collapse)):
        assert enums[name] == [member.value for member in kind]


def test_reindex_matches_the_schema(api_schema, tmp_path, seeds_copy, fake_encoder):
    index_dir = build_fake_index(seeds_copy, tmp_path / "index", fake_encoder)
    app = make_app(index_dir, fake_encoder, seeds_copy)
    try:
        client = app.test_client()
        started = client.post("/api/reindex")
        assert started.status_code == 202
        api_schema["/api/reindex"]["POST"].validate_response(started)
        busy = client.post("/api/reindex")
        if busy.status_code == 409:
            api_schema["/api/reindex"]["POST"].validate_response(busy)
        url = started.get_json()["status_url"]
        done = wait_for(lambda: (r := client.get(url)).get_json()["status"] == "done" and r)
        api_schema["/api/reindex/{job_id}"]["GET"].validate_response(done)
        assert done.get_json()["summary"]["unchanged"] == 7
    finally:
        app.extensions["search"].close()
