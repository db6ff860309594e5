"""`search alert` through the CLI with the fake encoder: add, list, show, test, rm; one line
for a user's mistake; refused with one line on a read-only index, where queries still work."""

from __future__ import annotations

import json
import shutil

from alert_helpers import base, names
from helpers import error_line, fake_cli, run
from mounts import read_only_bind

from search.alerts import AlertStore


def _index(runner, tmp_path):
    seeds, index = base(tmp_path / "seeds"), tmp_path / "index"
    result = run(runner, "index", "--seeds", seeds, "--index", index, "--model", "fake")
    assert result.exit_code == 0, result.output
    return seeds, index


def test_add_list_show_test_and_remove(tmp_path, monkeypatch):
    runner = fake_cli(monkeypatch)
    seeds, index = _index(runner, tmp_path)
    added = run(runner, "alert", "add", "Istanbul delegation Wednesday", "--name", "talks",
                "--mode", "keyword", "--index", index)
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("alert 'talks' added; its feed: /alerts/feed/")
    (tmp_path / "people.txt").write_text("Зеленский\nPeskov\n", encoding="utf-8")
    watch = run(runner, "alert", "add", "--watchlist", tmp_path / "people.txt", "--name",
                "people", "--webhook", "http://127.0.0.1:9/none", "--index", index)
    assert "webhook secret (shown once" in watch.stdout
    monkeypatch.setenv("SEARCH_ALERT_ATTEMPTS", "1")
    assert run(runner, "index", "--seeds", names(seeds), "--index", index,
               "--model", "fake").exit_code == 0
    listed = run(runner, "alert", "list", "--index", index).stdout.splitlines()
    assert listed[0].startswith("talks: 'Istanbul delegation Wednesday' (query, keyword) since")
    assert listed[1].startswith("people: 2 names (watchlist, hybrid, webhook) since")
    shown = run(runner, "alert", "show", "people", "--index", index).stdout
    assert "[en] names.md:0  score 1.00" in shown
    assert "why: words: Зеленский (latin: Zelensky)" in shown
    data = json.loads(run(runner, "alert", "show", "talks", "--json", "--index", index).stdout)
    assert [h["paragraph_id"] for h in data["hits"]] == ["names.md:0"]
    tried = run(runner, "alert", "test", "talks", "--index", index)
    assert tried.exit_code == 0, tried.output
    assert tried.stdout.splitlines() == ["1.00 names.md:0: words: Istanbul (typed), "
                                         "delegation (typed), Wednesday (typed)"]
    assert run(runner, "alert", "rm", "talks", "--index", index).stdout == "alert 'talks' removed\n"
    assert [a["name"] for a in json.loads(run(runner, "alert", "list", "--json", "--index",
                                              index).stdout)] == ["people"]


def test_mistakes_are_one_line(tmp_path, monkeypatch):
    runner = fake_cli(monkeypatch)
    _, index = _index(runner, tmp_path)
    assert run(runner, "alert", "add", "x y", "--name", "a", "--index", index).exit_code == 0
    assert error_line(run(runner, "alert", "add", "z", "--name", "a", "--index", index)) == (
        "Error: an alert named 'a' exists already: choose another --name or remove it first")
    assert error_line(run(runner, "alert", "show", "b", "--index", index)) == (
        "Error: no alert named 'b': `search alert list` shows them")
    assert error_line(run(runner, "alert", "add", "z", "--name", "c", "--webhook", "ftp://x",
                          "--index", index)) == "Error: a webhook is an http(s) URL, not 'ftp://x'"
    assert error_line(run(runner, "alert", "add", "z", "--name", "c", "--email", "nobody",
                          "--index", index)) == "Error: 'nobody' is not an email address"


def test_an_alert_on_a_read_only_index_is_refused_with_one_line_and_queries_work(
        tmp_path, monkeypatch):
    runner = fake_cli(monkeypatch)
    _, index = _index(runner, tmp_path)
    assert run(runner, "alert", "add", "harbour cranes", "--name", "port", "--index",
               index).exit_code == 0
    with AlertStore(index) as store:  # as a writer leaves it: the WAL folded in
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copy = shutil.copytree(index, tmp_path / "copy")
    with read_only_bind(copy, tmp_path / "ro") as ro:
        line = error_line(run(runner, "alert", "add", "ferry", "--name", "f", "--index", ro))
        assert line.startswith(f"Error: alerts cannot be changed: {ro}/alerts.sqlite cannot be "
                               "written (")
        assert line.endswith("); queries and the alerts' feeds still work")
        query = run(runner, "query", "harbour cranes", "--index", ro)
        assert query.exit_code == 0 and "harbour cranes" in query.stdout
        listed = run(runner, "alert", "list", "--index", ro)
        assert listed.stdout.startswith("port: 'harbour cranes' (query, hybrid) since")
        assert run(runner, "alert", "show", "port", "--index", ro).exit_code == 0
