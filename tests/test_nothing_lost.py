"""Nothing lost by mistake (issue 21): every record of seeds/ is indexed or named in one line,
and a run that would empty the index refuses. Each test checks the line, the counts before and
after, and that queries are still answered. The real CLI runs with the fake encoder."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import DETECTOR, ENCODER, base_corpus, build, error_line, fake_cli, run, write

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
    assert "articles: 19 added, 0 changed, 0 removed, 0 unchanged; 0 files skipped, " \
        "3 records skipped" in result.stdout
    assert articles(tmp_path / "idx") == 19  # 12 of base_corpus, 6 lights, 1 of the list
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
        "skipped live.jsonl: 1 of 3 records (malformed JSON at line 3, column 28: Unterminated "
        "string starting at (the last line, without its newline: still being written?))"]
    assert hits(tmp_path / "idx", "lighthouse fog") == ["live.jsonl#r0", "live.jsonl#r1"]

    write(feed, complete + record(2) + "\n")  # the line is complete
    result = run(runner, "index", "--seeds", seeds, "--index", tmp_path / "idx")
    assert result.stderr == ""
    assert "0 added, 3 changed" in result.stdout
    assert hits(tmp_path / "idx", "lighthouse fog") == [f"live.jsonl#r{n}" for n in range(3)]
    assert articles(tmp_path / "idx") == 15


def test_many_malformed_lines_and_one_good_one(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds"
    write(seeds / "junk.jsonl", "{oops\n" * 20_000 + record(0) + "\n")
    result = run(fake_cli(monkeypatch), "index", "--seeds", seeds, "--index", tmp_path / "idx")
    assert result.stderr.splitlines() == [
        "skipped junk.jsonl: 20000 of 20001 records (malformed JSON at line 1, column 2: "
        "Expecting property name enclosed in double quotes)"]
    assert articles(tmp_path / "idx") == 1


# -- finding 2: an empty or wrong seeds folder -------------------------------------------------

REFUSAL = ("Error: refusing to remove {gone} of the {total} articles of {index} ({what}): "
           "{seeds} lacks their files. Check the seeds folder; to remove them, run "
           "`search index --allow-removal`")


def test_an_empty_seeds_folder_does_not_empty_the_index(tmp_path, monkeypatch):
    seeds, index = base_corpus(tmp_path / "seeds"), tmp_path / "idx"
    runner = fake_cli(monkeypatch)
    assert run(runner, "index", "--seeds", seeds, "--index", index).exit_code == 0
    before = hits(index, "harbour cranes")
    assert articles(index) == 12 and len(before) == 6
    empty = tmp_path / "empty"
    empty.mkdir()
    # Empty, empty with --rebuild, and one level too deep (every path differs).
    for folder, rebuild in ((empty, ()), (empty, ("--rebuild",)), (seeds / "news", ())):
        result = run(runner, "index", "--seeds", folder, "--index", index, *rebuild)
        assert error_line(result) == REFUSAL.format(
            gone=12, total=12, index=index, what="every one", seeds=folder)
        assert articles(index) == 12 and hits(index, "harbour cranes") == before
    # Under half: 5 of 12 go (the feed's 4 and de.md), so it runs.
    (seeds / "news" / "de.md").rename(tmp_path / "de.md")
    (seeds / "feed.jsonl").rename(tmp_path / "feed.jsonl")
    assert "5 removed" in run(runner, "index", "--seeds", seeds, "--index", index).stdout
    (tmp_path / "de.md").rename(seeds / "news" / "de.md")
    (tmp_path / "feed.jsonl").rename(seeds / "feed.jsonl")

    # A share above half of an index of 10 or more: 13 articles, the 8 of news/ go.
    write(seeds / "keep.md", "# Keep\n\nA harbour crane stood still, said the dock workers.")
    (tmp_path / "few").mkdir()
    for name in ("feed.jsonl", "keep.md"):
        (tmp_path / "few" / name).write_bytes((seeds / name).read_bytes())
    assert run(runner, "index", "--seeds", seeds, "--index", index).exit_code == 0
    result = run(runner, "index", "--seeds", tmp_path / "few", "--index", index)
    assert error_line(result) == REFUSAL.format(
        gone=8, total=13, index=index, what="more than 50%", seeds=tmp_path / "few")
    assert articles(index) == 13

    # Told to, it removes them; a rebuild from an intended folder works as before.
    result = run(runner, "index", "--seeds", tmp_path / "few", "--index", index,
                 "--allow-removal")
    assert "8 removed" in result.stdout and articles(index) == 5
    result = run(runner, "index", "--seeds", seeds, "--index", index, "--rebuild")
    assert result.exit_code == 0 and articles(index) == 13
    assert hits(index, "harbour cranes") == sorted([*before, "keep.md"])


def test_watch_and_reindex_refuse_and_keep_serving(tmp_path, caplog):
    from web_fixtures import make_app

    from web.jobs import SeedsWatcher

    seeds, index = base_corpus(tmp_path / "seeds"), tmp_path / "idx"
    build(seeds, index)
    app = make_app(index, ENCODER, seeds, FOLLOW_INTERVAL=0)
    try:
        client = app.test_client()
        before = client.get("/api/search?q=harbour+cranes&mode=keyword").get_json()
        for path in seeds.rglob("*.*"):  # `rm -rf seeds/*` while being copied anew
            path.unlink()
        job = SeedsWatcher(seeds, app.extensions["search"].reindexer).poll()
        assert job is not None and job.status == "failed"
        expected = REFUSAL.format(gone=12, total=12, index=index, what="every one",
                                  seeds=seeds).removeprefix("Error: ")
        assert job.error == expected
        assert f"reindex job {job.id} failed: {expected}" in caplog.messages
        started = client.post("/api/reindex").get_json()
        app.extensions["search"].reindexer.wait()
        status = client.get(started["status_url"]).get_json()
        assert (status["status"], status["error"]) == ("failed", expected)
        after = client.get("/api/search?q=harbour+cranes&mode=keyword").get_json()
        assert after["results"] == before["results"] and len(after["results"]) == 6
        assert client.get("/api/stats").get_json()["articles"] == 12
    finally:
        app.extensions["search"].close()


# -- finding 6: hostile files cost little ------------------------------------------------------

def test_hostile_files_are_skipped_in_one_line_each(tmp_path, monkeypatch):
    import time

    from search.config import DEFAULT_MODEL, Settings
    from search.index.updater import update_index

    seeds = base_corpus(tmp_path / "seeds")
    write(seeds / "tags.html", "<html><body><p>harbour</p>" + "<b>" * 2_000_000)  # 6 MB
    write(seeds / "wide.json", "[" + '{"text": "harbour cranes"},' * 50 + "[]," * 250_000
          + "[]]")
    started = time.perf_counter()
    result = run(fake_cli(monkeypatch), "index", "--seeds", seeds, "--index", tmp_path / "idx")
    took = time.perf_counter() - started
    assert result.stderr.splitlines() == [
        "skipped tags.html: more than 200,000 HTML tags (Settings.max_elements)",
        "skipped wide.json: more than 200,000 JSON objects and arrays (Settings.max_elements)"]
    assert "12 added" in result.stdout and "2 files skipped" in result.stdout
    assert took < 20, took  # 61 s and 1.4 GB before
    assert articles(tmp_path / "idx") == 12 and len(hits(tmp_path / "idx", "harbour")) == 6

    # Configurable: a lower size cap skips a big feed, found by the scan (never read whole).
    write(seeds / "big.jsonl", (record(0) + "\n") * 2000)
    settings = Settings(model=DEFAULT_MODEL, max_file_bytes=100_000, max_elements=300_000)
    summary = update_index(seeds, tmp_path / "idx", settings, lambda: ENCODER,
                           detector=DETECTOR)
    size = (seeds / "big.jsonl").stat().st_size
    assert [(p.path, p.reason) for p in summary.problems] == [
        ("big.jsonl", f"{size:,} bytes, over the limit of 100,000 (Settings.max_file_bytes)"),
        ("tags.html", "6,000,026 bytes, over the limit of 100,000 (Settings.max_file_bytes)"),
        ("wide.json", f"{(seeds / 'wide.json').stat().st_size:,} bytes, over the limit of "
                      "100,000 (Settings.max_file_bytes)")]
    assert (summary.added, summary.unchanged, summary.removed) == (0, 12, 0)


# -- finding 9: input that means one thing -------------------------------------------------------

def test_odd_langs_and_dates_are_named_and_read_as_nothing(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds"
    text = "The lighthouse keeper reported thick fog over the bay tonight."
    write(seeds / "odd.jsonl", "".join(json.dumps(r) + "\n" for r in [
        {"id": "a", "lang": "<script>", "text": text},
        {"id": "b", "lang": "en", "date": "9999-12-31", "text": text},
        {"id": "c", "lang": "en", "date": "20250501", "text": text}]))
    result = run(fake_cli(monkeypatch), "index", "--seeds", seeds, "--index", tmp_path / "idx")
    assert result.stderr.splitlines() == [
        "warning: odd.jsonl#a: lang '<script>' is not a language code; detected from the text "
        "instead",
        "warning: odd.jsonl#b: date 9999-12-31 is in the future; indexed undated"]
    assert "3 added" in result.stdout
    engine = Engine(tmp_path / "idx", encoder_factory=lambda model: ENCODER,
                    detector=DETECTOR).open()
    try:
        views = {name: engine.article(f"odd.jsonl#{name}").article for name in "abc"}
        assert [(v.lang, v.date) for v in views.values()] == [
            ("en", None), ("en", None), ("en", "2025-05-01")]  # a: detected
        assert engine.stats().languages == {"en": 3}
    finally:
        engine.close()
    assert hits(tmp_path / "idx", "lighthouse fog") == [f"odd.jsonl#{n}" for n in "abc"]


def test_ids_whose_links_would_not_work_are_refused_with_a_line(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds"
    text = "The lighthouse keeper reported thick fog over the bay tonight."
    write(seeds / "ids.jsonl", "".join(json.dumps({"id": key, "text": text}) + "\n"
                                       for key in ["ok/1", "a/../b", "x\ny", "./c", "fine"]))
    result = run(fake_cli(monkeypatch), "index", "--seeds", seeds, "--index", tmp_path / "idx")
    assert result.stderr.splitlines() == [
        "skipped ids.jsonl: 3 of 5 records (line 2: its id 'a/../b' holds a line break, a "
        "control character or a '.' or '..' segment; give it another id)"]
    assert hits(tmp_path / "idx", "lighthouse fog") == ["ids.jsonl#fine", "ids.jsonl#ok/1"]
