"""A live server under a steady stream of queries while the index changes under it.

Writers take turns: `search index` in its own process (the server follows the generation it
publishes) and `POST /api/reindex` (the server's own job). Between them they add, change and
remove articles. Every article's paragraphs say which version of the article they come from,
and every answer says which generation produced it, so the test can tell that each answer
holds exactly what its generation holds. docs/reliability.md records the figures of the last
run (run with -s to print them).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from email.message import Message
from pathlib import Path

import regex
from web_fixtures import LiveServer, build_fake_index, fake_model_command, make_app, wait_for

QUERY = "quokka harbour referendum ferries"
MAX_REQUESTS = 3000  # bounded: the stream stops at this count or after DEADLINE seconds
DEADLINE = 120
VERSION = regex.compile(r"version (\d+)")

# (writer, changes): a version number writes live/<name>.txt at that version, None removes it.
STEPS = [
    ("cli", {"a": 2, "c": 1}),
    ("api", {"b": None, "c": 2, "d": 1}),
    ("cli", {"a": None, "d": 2, "e": 1}),
    ("api", {"b": 3, "c": 3}),
    ("cli", {"e": None, "a": 4}),
    ("api", {"d": None, "b": 4}),
]


def article_text(name: str, version: int) -> str:
    return (
        f"Quokka referendum in {name}\n\n"
        f"The harbour town of {name} held its quokka referendum today; this is version "
        f"{version} of the story, and the quokka won.\n\n"
        f"Ferries from the {name} harbour ran late after the referendum, version {version} "
        f"says, because crowds filled the quay.\n"
    )


def apply(seeds: Path, changes: dict[str, int | None], state: dict[str, int]) -> None:
    for name, version in changes.items():
        path = seeds / "live" / f"{name}.txt"
        if version is None:
            path.unlink()
            del state[f"live/{name}.txt"]
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(article_text(name, version), encoding="utf-8")
            state[f"live/{name}.txt"] = version


def run_cli(seeds: Path, index: Path) -> str:
    done = subprocess.run(
        fake_model_command("index", "--seeds", seeds, "--index", index, "--model", "fake",
                           "--json"),
        capture_output=True, text=True, timeout=120, env=os.environ | {"NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["generation"]


def run_api(base_url: str) -> str:
    request = urllib.request.Request(base_url + "/api/reindex", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        status_url = base_url + json.load(response)["status_url"]

    def finished():
        with urllib.request.urlopen(status_url, timeout=10) as response:
            job = json.load(response)
        return job if job["status"] in ("done", "failed") else None

    job = wait_for(finished, timeout=60)
    assert job["status"] == "done", job
    return job["summary"]["generation"]


class QueryStream:
    """Threads sending the same query in every mode, one request after another, each
    keeping what came back: (generation, [(article_id, text), ...]) or the failure."""

    def __init__(self, base_url: str, threads: int = 3) -> None:
        self.base_url = base_url
        self.answers: list[tuple[str, list[tuple[str, str]]]] = []
        self.failures: list[str] = []
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + DEADLINE
        self._last: dict[int, str] = {}  # thread -> the generation of its last answer
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(threads)]

    def __enter__(self) -> QueryStream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def generations(self) -> Counter:
        with self._lock:
            return Counter(generation for generation, _ in self.answers)

    def _run(self, number: int) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            with self._lock:
                if self.sent >= MAX_REQUESTS:
                    return
                self.sent += 1
                # A word no paragraph has makes every query new, so that none is answered
                # from the engine's result cache.
                url = self.base_url + "/api/search?" + urllib.parse.urlencode({
                    "q": f"{QUERY} zq{self.sent}", "size": 20,
                    "mode": ("hybrid", "keyword", "semantic")[(self.sent + number) % 3]})
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    headers = response.headers
                    body = json.load(response)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                with self._lock:
                    self.failures.append(f"{url}: {exc!r}")
                continue
            hits = [(hit["article_id"], hit["text"]) for hit in body["results"]]
            with self._lock:
                self._keep(number, headers, body["generation"], hits)

    def _keep(self, number: int, headers: Message, generation: str,
              hits: list[tuple[str, str]]) -> None:
        """Record one answer (the lock is held); a thread must never go back a generation."""
        last = self._last.get(number)
        if last is not None and generation < last:
            self.failures.append(f"back to {generation} after {last}")
        self._last[number] = generation
        self.answers.append((generation, hits))


def test_queries_never_fail_or_mix_generations_while_writers_change_the_index(
        tmp_path, seeds_copy, fake_encoder):
    state: dict[str, int] = {}
    apply(seeds_copy, {"a": 1, "b": 1}, state)
    index = build_fake_index(seeds_copy, tmp_path / "index", fake_encoder)
    contents = {(index / "CURRENT").read_text().strip(): dict(state)}  # generation -> articles
    app = make_app(index, fake_encoder, seeds_copy, FOLLOW_INTERVAL=0.2)
    started = time.monotonic()
    try:
        with LiveServer(app, threads=4) as server, QueryStream(server.url) as stream:
            wait_for(lambda: stream.generations())
            for writer, changes in STEPS:
                apply(seeds_copy, changes, state)
                generation = run_cli(seeds_copy, index) if writer == "cli" else \
                    run_api(server.url)
                assert generation not in contents
                contents[generation] = dict(state)
                # Served, and queries answered from it, before the next writer starts.
                wait_for(lambda g=generation: stream.generations()[g] >= 5, timeout=30)
            left = sorted(p.name for p in (index / "generations").iterdir())
        took = time.monotonic() - started
    finally:
        app.extensions["search"].close()

    assert stream.failures == []
    assert stream.sent < MAX_REQUESTS, "the stream hit its cap before the writers finished"
    served = stream.generations()
    assert set(served) == set(contents)  # every generation, and no other, answered queries
    for generation, hits in stream.answers:
        expected = contents[generation]
        found = {aid for aid, _ in hits if aid.startswith("live/")}
        # Every live paragraph shares words with the query that no seed paragraph has, so
        # each mode's top 20 holds all of them (at most 8) and nothing else of live/.
        assert found == set(expected), (generation, found, expected)
        for article_id, text in hits:
            if article_id in expected:
                assert VERSION.findall(text) == [str(expected[article_id])], (generation, text)
    # Garbage collection at each publish removed the generations no reader held any more:
    # only the last two (the live one and the one before it) are left.
    assert left == sorted(contents)[-2:]
    print(f"\n{len(stream.answers)} answers in {took:.1f} s from {len(served)} generations "
          f"({len(STEPS)} updates: {sum(w == 'cli' for w, _ in STEPS)} by `search index`, "
          f"{sum(w == 'api' for w, _ in STEPS)} by POST /api/reindex); per generation: "
          f"{dict(sorted(served.items()))}; failures: {len(stream.failures)}")
