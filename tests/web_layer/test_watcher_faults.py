"""The seeds watcher and the index folder (issue 21, findings 5 and 8): link loops end, only
supported files count, an index kept inside seeds/ is left out (and named once per run), a
slow look through seeds/ is logged, and `search serve --watch` stops at once on SIGTERM."""

from __future__ import annotations

import signal
import threading
import time

from helpers import DETECTOR, ENCODER, SETTINGS, base_corpus, error_line, fake_cli, run, write
from test_workers import Server, request
from web_fixtures import make_app

import web.jobs
from search.index.updater import update_index
from web.jobs import SeedsWatcher


def looped_seeds(root):
    seeds = base_corpus(root / "seeds")
    (seeds / "sub").mkdir()
    (seeds / "sub" / "loop").symlink_to(".")
    (seeds / "sub" / "up").symlink_to("..")
    return seeds


def timed(call, limit: float = 20.0):
    """call()'s result, failing if it takes longer than `limit` (a loop would never end)."""
    box: list = []
    thread = threading.Thread(target=lambda: box.append(call()), daemon=True)
    thread.start()
    thread.join(limit)
    assert box, f"still running after {limit} s"
    return box[0]


def test_watcher_with_link_loops_and_the_index_inside_seeds(tmp_path, caplog):
    seeds = looped_seeds(tmp_path)
    index = seeds / "idx"
    summary = update_index(seeds, index, SETTINGS, lambda: ENCODER, detector=DETECTOR)
    assert (summary.added, summary.skipped, summary.problems) == (12, 0, [])
    assert summary.warnings == [f"the index folder {index} lies inside the seeds folder "
                                f"{seeds}: its files are not read as articles"]
    app = make_app(index, ENCODER, seeds, FOLLOW_INTERVAL=0)
    try:
        watcher = SeedsWatcher(seeds, app.extensions["search"].reindexer, interval=0.1,
                               index_dir=index)
        first = timed(watcher.poll)  # the first poll always runs an update
        assert first.status == "done" and first.summary["generation"] == "g000001"
        assert timed(watcher.poll) is None  # the run rewrote writer.lock: not a change
        write(seeds / "notes.bin", "not an article")
        write(seeds / "sub" / "draft.docx", "not an article either")
        assert timed(watcher.poll) is None
        write(seeds / "news" / "new.md", "# New\n\nA lighthouse keeper saw the harbour cranes.")
        job = timed(watcher.poll)
        assert (job.status, job.summary["added"], job.summary["unchanged"]) == ("done", 1, 12)
        assert job.summary["generation"] == "g000002"
        client = app.test_client()
        found = client.get("/api/search?q=lighthouse+keeper&mode=keyword").get_json()
        assert [hit["article_id"] for hit in found["results"]] == ["news/new.md"]
        assert client.get("/api/stats").get_json()["articles"] == 13

        real = web.jobs.seeds_signature

        def slow(*args):
            time.sleep(1.2)
            return real(*args)

        web.jobs.seeds_signature = slow
        try:
            assert watcher.poll() is None
        finally:
            web.jobs.seeds_signature = real
        [line] = [m for m in caplog.messages if m.startswith("seeds-watcher: looking")]
        assert line.startswith(f"seeds-watcher: looking through {seeds} (10 files) took 1.")
    finally:
        app.extensions["search"].close()


def test_seeds_that_are_the_index_folder_are_refused(tmp_path, monkeypatch):
    seeds = base_corpus(tmp_path / "seeds")
    runner = fake_cli(monkeypatch)
    for index in (seeds, tmp_path):
        line = error_line(run(runner, "index", "--seeds", seeds, "--index", index))
        assert line == (f"Error: the seeds folder {seeds} is the index folder {index} or inside "
                        "it: pass --seeds with the folder that holds the articles")
    assert not (seeds / "writer.lock").exists() and not (seeds / "CURRENT").exists()


def test_serve_watch_with_a_link_loop_stops_at_once(tmp_path):
    seeds = looped_seeds(tmp_path)
    index = tmp_path / "idx"
    update_index(seeds, index, SETTINGS, lambda: ENCODER, detector=DETECTOR)
    server = Server(index, seeds, 0.0, "--watch")
    try:
        write(seeds / "news" / "new.md", "# New\n\nA lighthouse keeper saw the harbour cranes.")
        connection, _ = server.connection()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _, body, _ = request(connection, "GET", "/api/search?q=lighthouse&mode=keyword")
            if body["results"]:
                break
            time.sleep(0.2)
        assert [hit["article_id"] for hit in body["results"]] == ["news/new.md"]
        connection.close()
    finally:
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        _, errors = server.process.communicate(timeout=60)
    assert time.monotonic() - started < 10, errors
    assert server.process.returncode == 0 and "Traceback" not in errors
