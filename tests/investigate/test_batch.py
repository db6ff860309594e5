"""Batch search of names across scripts over the shipped seeds: the CLI, /api/batch and the
page give one row per name, with counts per language and the spellings found."""

from __future__ import annotations

import csv
import io
import json
import subprocess

import pytest
from helpers import FakeEncoder, write
from web_fixtures import build_fake_index, fake_model_command, make_app

from search.errors import InvalidQuery
from search.investigate.batch_input import InputFormat, guess_format, read_batch, read_items

NAMES = ["Zelensky", "Зеленский", "Selenskyj", "Peskov", "Песков", "Qwzxyplonkvar"]
# Every language file of the seed article names both (zh spells them in Han, which only the
# dense side reaches).
ZELENSKY_LANGUAGES = PESKOV_LANGUAGES = {"ar", "de", "en", "es", "fr", "ru"}


@pytest.fixture(scope="module")
def encoder():
    return FakeEncoder()


@pytest.fixture(scope="module")
def index(tmp_path_factory, encoder):
    from helpers import SEEDS

    return build_fake_index(SEEDS, tmp_path_factory.mktemp("batch") / "idx", encoder)


@pytest.fixture(scope="module")
def client(index, encoder):
    app = make_app(index, encoder, LOAD_MODEL=False, FOLLOW_INTERVAL=0)
    yield app.test_client()
    app.extensions["search"].close()


def check_rows(rows):
    """One row per name, in order, with the counts and spellings a reader expects."""
    by_query = {row["query"]: row for row in rows}
    assert [row["query"] for row in rows] == NAMES
    for name in ("Zelensky", "Зеленский", "Selenskyj"):
        assert set(by_query[name]["languages"]) == ZELENSKY_LANGUAGES, name
        assert by_query[name]["total"] == sum(by_query[name]["languages"].values()) > 0
    # Each spelling finds the others: Latin forms of Cyrillic and Arabic, and near spellings.
    assert {"Zelensky", "Зеленский", "Selenskyj", "Zelenski", "زيلينسكي"} <= set(
        by_query["Zelensky"]["spellings"])
    assert {"Zelensky", "Selenskyj", "Зеленский"} <= set(by_query["Зеленский"]["spellings"])
    for name in ("Peskov", "Песков"):
        assert set(by_query[name]["languages"]) == PESKOV_LANGUAGES, name
        assert {"Peskov", "Песков", "Peskow"} <= set(by_query[name]["spellings"])
    nonsense = by_query["Qwzxyplonkvar"]
    assert nonsense["total"] == 0 and nonsense["languages"] == {} and not nonsense["error"]
    top = by_query["Песков"]["hits"][0]
    assert "Песков: " in top["why"]


def test_cli_batch_of_names_in_three_scripts(tmp_path, index):
    names = write(tmp_path / "names.txt", "\n".join(NAMES) + "\n")
    run = subprocess.run(fake_model_command("batch", names, "--index", index, "--format",
                                            "json"), capture_output=True, text=True, check=True)
    check_rows(json.loads(run.stdout)["results"])
    assert "6/6 queries" in run.stderr
    as_csv = subprocess.run(fake_model_command("batch", names, "--index", index),
                            capture_output=True, text=True, check=True).stdout
    assert as_csv.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(as_csv.lstrip("\ufeff"))))
    assert [row["query"] for row in rows] == NAMES
    assert rows[0]["lang_ru"] != "0" and rows[5]["total"] == "0"
    assert {f"lang_{code}" for code in ZELENSKY_LANGUAGES} <= rows[0].keys()


def test_cli_reports_a_malformed_csv_line_and_runs_the_rest(tmp_path, index):
    names = write(tmp_path / "names.csv", 'query,mode,lang\nZelensky,keyword,ru\n'
                  '"Peskov,keyword\nПесков,fuzzy\nSelenskyj,,de;en\n')
    run = subprocess.run(fake_model_command("batch", names, "--index", index, "--format",
                                            "json"), capture_output=True, text=True, check=True)
    results = json.loads(run.stdout)["results"]
    assert [(r["line"], r["query"], r["error"] is None) for r in results] == [
        (2, "Zelensky", True), (3, '"Peskov,keyword', False), (4, "Песков,fuzzy", False),
        (5, "Selenskyj", True)]
    assert set(results[0]["languages"]) == {"ru"}
    assert set(results[3]["languages"]) == {"de", "en"}
    assert f"{names}:3: " in run.stderr and f"{names}:4: mode must be one of" in run.stderr


def test_api_batch_from_a_json_list_and_a_csv_upload(client):
    answer = client.post("/api/batch", json=NAMES)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "done" and body["queries"] == 6
    check_rows(body["results"])
    assert client.get(body["status_url"]).get_json()["results"] == body["results"]
    download = client.get(body["csv_url"])
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 6
    upload = client.post("/api/batch", data="query,lang\nЗеленский,de\nbroken,\"x\n",
                         content_type="text/csv")
    results = upload.get_json()["results"]
    assert set(results[0]["languages"]) == {"de"} and results[1]["error"]


@pytest.mark.parametrize(("body", "status"), [
    ([], 400), ({"queries": "Zelensky"}, 400), (["Zelensky"] * 10_001, 400),
])
def test_api_batch_refuses_what_it_cannot_run(client, body, status):
    answer = client.post("/api/batch", json=body)
    assert answer.status_code == status and "error" in answer.get_json()


def test_a_large_batch_is_a_job_with_a_status_url(client):
    names = [f"{name} {n}" for n in range(60) for name in ("Zelensky", "Peskov")]
    answer = client.post("/api/batch", json=names)
    assert answer.status_code == 202 and answer.headers["Location"]
    from web_fixtures import wait_for

    done = wait_for(lambda: (status := client.get(answer.headers["Location"]).get_json())
                    ["status"] == "done" and status, timeout=120)
    assert len(done["results"]) == 120 and done["done"] == 120


def test_the_page_uploads_a_list_and_shows_rows_with_downloads(client):
    form = client.get("/batch")
    assert form.status_code == 200 and b'enctype="multipart/form-data"' in form.data
    answer = client.post("/batch", data={"queries": "\n".join(NAMES), "mode": "keyword"})
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert page.count('<td class="total">') == 6
    import re

    spellings = re.findall(r'class="spellings">([^<]*)<', page)
    assert len(spellings) == 6 and {"Zelensky", "Зеленский", "زيلينسكي"} <= set(
        spellings[0].split(", ")) and spellings[5] == ""
    # why the first hit matched: the English paragraph as typed (exact matches come first);
    # the Cyrillic query finds it by the Latin form of the name
    assert "Peskov: typed (Peskov)" in page and "Песков: latin (Peskov)" in page
    assert 'results.csv"' in page and 'results.json"' in page
    assert '<td class="total">0</td>' in page  # the nonsense name


def test_reading_lines_and_guessing_the_format():
    assert guess_format("names.csv", "x") is InputFormat.CSV
    assert guess_format(None, "query,lang\nZelensky,en") is InputFormat.CSV
    assert guess_format(None, "Zelensky, Volodymyr\nPeskov") is InputFormat.TEXT
    text = read_batch("# names\nZelensky\n\n  Peskov \n", InputFormat.TEXT)
    assert [(i.line, i.text) for i in text.items] == [(2, "Zelensky"), (4, "Peskov")]
    with pytest.raises(InvalidQuery, match="query column"):
        read_batch("name,lang\nZelensky,en\n", InputFormat.CSV)
    with pytest.raises(InvalidQuery, match="line 1: the CSV header cannot be read"):
        read_batch('"query,lang\nZelensky,en\n', InputFormat.CSV)
    listed = read_items(["Zelensky", {"query": "Peskov", "lang": "ru"}, 3, {"q": "x"}])
    assert [i.line for i in listed.items] == [1, 2] and listed.items[1].languages == ("ru",)
    assert [p.line for p in listed.problems] == [3, 4]


def test_the_readme_csv_example_runs(index, encoder):
    """The batch CSV shown in README.md reads as written and finds the name in each row."""
    from helpers import PROJECT

    from search.engine import Engine
    from search.investigate.batch import run_batch

    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Investigations", 1)[1]
    example = section.split("```csv\n", 1)[1].split("```", 1)[0]
    batch = read_batch(example, InputFormat.CSV)
    assert not batch.problems and len(batch.items) == 5
    with Engine(index, encoder_factory=lambda model: encoder).open() as engine:
        results = run_batch(engine, batch)
    assert all(r.error is None and r.total > 0 for r in results), results
    assert set(results[1].languages) == {"ru", "de"}


def test_a_chunk_is_encoded_in_one_call_and_ranks_as_one_by_one(index):
    from search.engine import Engine
    from search.ranking.query import Mode, Query

    encoder = FakeEncoder()
    texts = ["Zelensky peace talks", "Kremlin spokesperson", "prisoner exchange Istanbul"]
    queries = [Query(t, mode=Mode.HYBRID) for t in texts] + [Query("Peskov", mode=Mode.KEYWORD)]
    with Engine(index, encoder_factory=lambda model: encoder).open() as engine:
        vectors = engine.encode_queries(queries)
        assert encoder.calls == 1 and encoder.encoded == 3 and vectors[3] is None
        batched = [engine.search(q, vector=v, count_window=5000)
                   for q, v in zip(queries, vectors, strict=True)]
    with Engine(index, encoder_factory=lambda model: FakeEncoder()).open() as engine:
        alone = [engine.search(q) for q in queries]
    assert [[h.paragraph_id for h in p.hits] for p in batched] == [
        [h.paragraph_id for h in p.hits] for p in alone]
    assert all(b.total >= a.total for b, a in zip(batched, alone, strict=True))


@pytest.mark.parametrize("module", ["search", "search.cli"])
def test_the_batch_command_is_listed_however_the_cli_is_started(module):
    import sys

    run = subprocess.run([sys.executable, "-m", module, "batch", "--help"],
                         capture_output=True, text=True, check=True)
    assert "Example: search batch names.csv" in run.stdout


def test_a_batch_job_is_followed_from_another_worker(tmp_path, index, encoder):
    """Two apps sharing a jobs folder stand for two workers of `search serve --workers 2`:
    a job started on one is seen running, then done with its results, from the other."""
    from web_fixtures import wait_for

    first, second = (make_app(index, encoder, LOAD_MODEL=False, FOLLOW_INTERVAL=0,
                              JOBS_DIR=tmp_path / "jobs") for _ in range(2))
    try:
        names = [f"{name} {n}" for n in range(60) for name in ("Zelensky", "Peskov")]
        answer = first.test_client().post("/api/batch", json=names)
        assert answer.status_code == 202
        other = second.test_client()
        seen = other.get(answer.headers["Location"])
        assert seen.status_code == 200 and seen.get_json()["status"] in {"queued", "running",
                                                                         "done"}
        done = wait_for(lambda: (status := other.get(answer.headers["Location"]).get_json())
                        ["status"] == "done" and status, timeout=120)
        assert len(done["results"]) == 120
        assert done["results"] == first.test_client().get(
            answer.headers["Location"]).get_json()["results"]
        job_id = done["id"]
        download = other.get(f"/batch/{job_id}/results.csv")
        assert download.status_code == 200 and len(download.get_data(as_text=True)
                                                   .strip().splitlines()) == 121
        assert "Zelensky 0" in other.get(f"/batch/{job_id}").get_data(as_text=True)
        assert other.get("/api/batch/000000000000").status_code == 404
    finally:
        for app in (first, second):
            app.extensions["search"].close()


def test_a_batch_whose_worker_died_reads_as_failed(tmp_path):
    import os

    from search.ranking.query import Mode
    from web.batch_jobs import BatchJob
    from web.jobs import JobStatus
    from web.shared_batches import SharedBatchStore
    from web.shared_jobs import WORKER_DIED

    store = SharedBatchStore(tmp_path / "jobs")
    running = BatchJob("abc123", JobStatus.RUNNING, "2026-01-01T00:00:00+00:00",
                       Mode.KEYWORD, 5)
    pid = os.fork()
    if pid == 0:  # a worker that starts the batch and dies running it
        store.put(running)
        os._exit(0)
    os.waitpid(pid, 0)
    job = store.get("abc123")
    assert job is not None and (job.status, job.error) == (JobStatus.FAILED, WORKER_DIED)
    store.put(running)  # a live worker's running batch reads as running
    assert store.get("abc123") == running
    assert store.get("../etc") is None and store.get("nothere") is None


@pytest.mark.parametrize("mode", ["keyword", "hybrid", "semantic"])
def test_a_batch_counts_each_query_as_a_single_search_does(index, encoder, mode):
    """Totals, their relation, the counts per language and the first hits of a batch are
    those of the same queries run one at a time by an engine that counts among as many
    candidates (the seeds hold more matches of a name than the default 100); the spellings
    are those the single searches' hits are explained by."""
    from search.config import Settings
    from search.engine import Engine
    from search.investigate.batch import (
        BATCH_COUNT_WINDOW,
        FIRST_HITS,
        SPELLING_SAMPLE,
        run_batch,
    )
    from search.investigate.batch_input import BatchInput, BatchItem
    from search.investigate.export import plain
    from search.ranking.query import Mode, Query

    texts = [*NAMES, "prisoner exchange in Istanbul", "обмен пленными", "Zelensky Peskov"]
    batch = BatchInput([BatchItem(n, text) for n, text in enumerate(texts, start=1)])
    settings = Settings(count_window=BATCH_COUNT_WINDOW)
    with Engine(index, settings, encoder_factory=lambda model: encoder).open() as engine:
        results = run_batch(engine, batch, Mode(mode))
        assert [r.query for r in results] == texts
        for result in results:
            single = engine.search(Query(result.query, mode=Mode(mode), one_per_article=True,
                                         size=SPELLING_SAMPLE))
            assert (result.total, result.total_relation, result.languages) == (
                single.total, single.total_relation, dict(single.facets.languages)), result
            shown = single.hits[:FIRST_HITS] if single.total else []
            assert [(h.paragraph_id, h.score) for h in result.hits] == [
                (h.paragraph_id, h.score) for h in shown]
            assert [h.snippet for h in result.hits] == [plain(h.snippet) for h in shown]
            spelled = dict.fromkeys(s for h in (single.hits if single.total else [])
                                    for term in h.explain.terms for s in term.found)
            assert result.spellings == tuple(spelled)
    assert any(r.total for r in results)
    assert any(r.spellings for r in results) is (mode != "semantic")  # meaning has no words


def test_a_batch_runs_its_queries_without_cycle_collection_and_resumes_it(index, monkeypatch):
    import gc

    from search.engine import Engine
    from search.investigate.batch import run_batch
    from search.investigate.batch_input import BatchInput, BatchItem

    seen = []
    with Engine(index, encoder_factory=lambda model: FakeEncoder()).open() as engine:
        search = engine.search

        def watched(*args, **kwargs):
            seen.append(gc.isenabled())
            return search(*args, **kwargs)

        monkeypatch.setattr(engine, "search", watched)
        run_batch(engine, BatchInput([BatchItem(1, "Peskov"), BatchItem(2, "Zelensky")]))
    assert seen == [False, False] and gc.isenabled()
