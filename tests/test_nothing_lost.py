"""Nothing lost by mistake (issue 21): every record of seeds/ is indexed or named in one line,
and a run that would empty the index refuses. Each test checks the line, the counts before and
after, and that queries are still answered. The real CLI runs with the fake encoder."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import write
from fault_helpers import DETECTOR, ENCODER, base_corpus, fake_cli, run

from search.engine import Engine
from search.ranking.query import Mode, Query


def record(n: int) -> str:
    return json.dumps({"id": f"r{n}", "lang": "en", "title": f"Record {n}",
                       "text": f"Lighthouse keeper number{n} reported fog over the bay."})


def hits(index_dir: Path, text: str) -> list[str]:
    engine = Engine(index_dir, encoder_factory=lambda model: ENCODER, detector=DETECTOR).open()
    try:
        page = engine.search(Query(text, mode=Mode.KEYWORD, lang="en", size=50))
        return sorted({hit.article_id for hit in page.hits})
    finally:
        engine.close()


def articles(index_dir: Path) -> int:
    engine = Engine(index_dir, encoder_factory=lambda model: ENCODER, detector=DETECTOR).open()
    try:
        return engine.stats().articles
    finally:
        engine.close()


def test_a_jsonl_file_that_loses_a_record_says_so_in_one_line(tmp_path, monkeypatch):
    seeds = base_corpus(tmp_path / "seeds")
    lines = [record(n) for n in range(5)] + ['{"id": "r5", "text": "Lighthouse keeper tr'] + [
        record(6)]
    write(seeds / "lights.jsonl", "\n".join(lines) + "\n")
    write(seeds / "list.json", json.dumps([json.loads(record(7)), {"title": "no text"}, 3]))
    runner = fake_cli(monkeypatch)
    result = run(runner, "index", "--seeds", seeds, "--index", tmp_path / "idx")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "skipped lights.jsonl: 1 of 7 records (malformed JSON at line 6, column 22: "
        "Unterminated string starting at)",
        "skipped list.json: 2 of 3 records (member 1: no usable text, body or content field)",
    ]
    assert "articles: 18 added, 0 changed, 0 removed, 0 unchanged; 0 files skipped, " \
        "3 records skipped" in result.stdout
    assert articles(tmp_path / "idx") == 18  # 11 of base_corpus, 6 lights, 1 of the list
    assert hits(tmp_path / "idx", "lighthouse fog") == [
        *(f"lights.jsonl#r{n}" for n in (0, 1, 2, 3, 4, 6)), "list.json#r7"]

    # The JSON summary (and so POST /api/reindex's job) counts them too.
    write(seeds / "lights.jsonl", "\n".join([*lines, "not json at all"]) + "\n")
    result = run(runner, "index", "--seeds", seeds, "--index", tmp_path / "idx", "--json")
    summary = json.loads(result.stdout)
    assert (summary["changed"], summary["skipped"], summary["records_skipped"]) == (6, 0, 2)
    assert summary["problems"] == [{"path": "lights.jsonl", "reason": (
        "2 of 8 records (malformed JSON at line 6, column 22: "
        "Unterminated string starting at)")}]


def test_a_half_written_last_line_is_reported_then_read_once_complete(tmp_path, monkeypatch):
    seeds = base_corpus(tmp_path / "seeds")
    feed = seeds / "live.jsonl"
    complete = record(0) + "\n" + record(1) + "\n"
    write(feed, complete + record(2)[:30])  # the writer is in the middle of line 3
    runner = fake_cli(monkeypatch)
    result = run(runner, "index", "--seeds", seeds, "--index", tmp_path / "idx")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "skipped live.jsonl: 1 of 3 records (line 3 is incomplete (no newline yet: still "
        "being written?))"]
    assert hits(tmp_path / "idx", "lighthouse fog") == ["live.jsonl#r0", "live.jsonl#r1"]

    write(feed, complete + record(2) + "\n")  # the line is complete
    result = run(runner, "index", "--seeds", seeds, "--index", tmp_path / "idx")
    assert result.stderr == ""
    assert "0 added, 3 changed" in result.stdout
    assert hits(tmp_path / "idx", "lighthouse fog") == [f"live.jsonl#r{n}" for n in range(3)]
    assert articles(tmp_path / "idx") == 14


def test_many_malformed_lines_and_one_good_one(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds"
    write(seeds / "junk.jsonl", "{oops\n" * 20_000 + record(0) + "\n")
    result = run(fake_cli(monkeypatch), "index", "--seeds", seeds, "--index", tmp_path / "idx")
    assert result.stderr.splitlines() == [
        "skipped junk.jsonl: 20000 of 20001 records (malformed JSON at line 1, column 2: "
        "Expecting property name enclosed in double quotes)"]
    assert articles(tmp_path / "idx") == 1
