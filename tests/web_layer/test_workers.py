"""`search serve --workers 2`: real processes forked from one that loaded the index.

The serving-during-updates test of test_serving_during_updates.py again, with two workers:
queries never fail, every answer holds exactly what its generation holds, and each worker
moves forward through the generations. Then: two simultaneous reindex requests on
connections held by different workers start one job, whose status either worker reports; a
killed worker is replaced; SIGTERM stops the server and every worker.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from email.message import Message
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_serving_during_updates import (
    MAX_REQUESTS,
    STEPS,
    VERSION,
    QueryStream,
    apply,
    run_api,
    run_cli,
)
from web_fixtures import PROJECT, TESTS, build_fake_index, wait_for

from search.cli import main
from web.shared_jobs import WORKER_DIED, SharedJobBoard

JOB_SECONDS = 2.0  # how long an update that embeds anything takes in the race test

# `search ARGS` with the fake encoder, made slow (JOB_SECONDS) for batches of several texts:
# updates, never queries.
SERVE = """
import sys, time
sys.path[:0] = sys.argv[1:3]
import search.encoders.loading
from helpers import FakeEncoder

class SlowBatches(FakeEncoder):
    def encode(self, texts, batch_size=64):
        if len(texts) > 1:
            time.sleep(float(sys.argv[3]))
        return super().encode(texts, batch_size)

search.encoders.loading.load_encoder = lambda model, threads=0, **options: SlowBatches()
from search.cli import main
main(sys.argv[4:])
"""


class Server:
    """`search serve --workers 2` on a free loopback port, stopped (SIGTERM) at exit."""

    def __init__(self, index: Path, seeds: Path, slow: float = 0.0, *options: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(PROJECT), str(TESTS), str(slow), "serve",
             "--workers", "2", "--port", "0", "--index", str(index), "--seeds", str(seeds),
             *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=os.environ | {"NO_COLOR": "1"})
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        found = re.search(r"http://127\.0\.0\.1:(\d+)/ with 2 worker processes", line)
        if found is None:
            self.process.kill()
            raise AssertionError(f"no serving line: {line!r} {self.process.stderr.read()!r}")
        self.port = int(found.group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = wait_for(lambda: len(children(self.process.pid)) == 2 and
                                children(self.process.pid), timeout=30)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.communicate()

    def connection(self) -> tuple[http.client.HTTPConnection, int]:
        """A kept-alive connection and the pid of the worker that accepted it."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        status, _body, worker = request(connection, "GET", "/api/health")
        assert status == 200
        return connection, worker


def children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry))
    return found


def request(connection: http.client.HTTPConnection, method: str, path: str
            ) -> tuple[int, dict, int]:
    connection.request(method, path, body=b"" if method == "POST" else None)
    response = connection.getresponse()
    return response.status, json.loads(response.read()), int(response.headers["X-Search-Worker"])


class WorkerQueryStream(QueryStream):
    """QueryStream keeping (thread, worker pid, generation, [(article_id, text), ...]) of each
    answer (workers may be a second apart, so a thread may see an older generation next)."""

    def served(self) -> Counter:
        """(worker, generation) -> answers."""
        with self._lock:
            return Counter((worker, generation) for _, worker, generation, _ in self.answers)

    def _keep(self, number: int, headers: Message, generation: str,
              hits: list[tuple[str, str]]) -> None:
        self.answers.append((number, int(headers["X-Search-Worker"]), generation, hits))


def test_two_workers_never_fail_or_mix_generations_while_writers_change_the_index(
        tmp_path, seeds_copy, fake_encoder):
    state: dict[str, int] = {}
    apply(seeds_copy, {"a": 1, "b": 1}, state)
    index = build_fake_index(seeds_copy, tmp_path / "index", fake_encoder)
    contents = {(index / "CURRENT").read_text().strip(): dict(state)}  # generation -> articles
    with Server(index, seeds_copy) as server, WorkerQueryStream(server.url) as stream:
        workers = server.workers
        wait_for(lambda: {w for w, _ in stream.served()} == workers, timeout=30)
        for writer, changes in STEPS:
            apply(seeds_copy, changes, state)
            generation = run_cli(seeds_copy, index) if writer == "cli" else run_api(server.url)
            assert generation not in contents
            contents[generation] = dict(state)
            # Both workers answered from it before the next writer starts.
            wait_for(lambda g=generation: all(stream.served()[w, g] >= 3 for w in workers),
                     timeout=30)
        left = sorted(p.name for p in (index / "generations").iterdir())

    assert stream.failures == []
    assert stream.sent < MAX_REQUESTS, "the stream hit its cap before the writers finished"
    assert {generation for _, generation in stream.served()} == set(contents)
    assert {worker for worker, _ in stream.served()} == workers
    latest: dict[tuple[int, int], str] = {}
    for thread, worker, generation, hits in stream.answers:
        # To one client, each worker moves forward only (two workers may be a generation
        # apart for up to a second: each follows CURRENT on its own).
        assert generation >= latest.get((thread, worker), ""), (worker, generation, latest)
        latest[thread, worker] = generation
        expected = contents[generation]
        found = {aid for aid, _ in hits if aid.startswith("live/")}
        assert found == set(expected), (generation, found, expected)
        for article_id, text in hits:
            if article_id in expected:
                assert VERSION.findall(text) == [str(expected[article_id])], (generation, text)
    assert left == sorted(contents)[-2:]
    print(f"\n{len(stream.answers)} answers from {len(contents)} generations by 2 workers; "
          f"per worker and generation: {dict(sorted(stream.served().items()))}; "
          f"failures: {len(stream.failures)}")


def test_one_reindex_across_workers_a_dead_worker_is_replaced_and_sigterm_stops_all(
        tmp_path, seeds_copy, fake_encoder):
    index = build_fake_index(seeds_copy, tmp_path / "index", fake_encoder)
    apply(seeds_copy, {"a": 1, "b": 1}, {})  # something to embed: the update takes JOB_SECONDS
    with Server(index, seeds_copy, slow=JOB_SECONDS) as server:
        first = server.connection()
        second = first
        for _ in range(40):  # the kernel gives each connection to whichever worker accepts
            second = server.connection()
            if second[1] != first[1]:
                break
            second[0].close()
        assert second[1] != first[1], "40 connections, all accepted by one worker"

        ready = threading.Barrier(2)
        answers: dict[int, tuple[int, dict, int]] = {}

        def post(connection: http.client.HTTPConnection, number: int) -> None:
            ready.wait()
            answers[number] = request(connection, "POST", "/api/reindex")

        posts = [threading.Thread(target=post, args=(c, n))
                 for n, (c, _) in enumerate((first, second))]
        for thread in posts:
            thread.start()
        for thread in posts:
            thread.join(30)
        assert {worker for _, _, worker in answers.values()} == {first[1], second[1]}
        assert sorted(status for status, _, _ in answers.values()) == [202, 409]
        started = next(body for status, body, _ in answers.values() if status == 202)
        refused = next(body for status, body, _ in answers.values() if status == 409)
        assert refused == {"error": f"reindex job {started['id']} is already running; "
                                    f"follow it at /api/reindex/{started['id']}"}

        def done_everywhere() -> list[dict] | None:
            seen = []
            for connection, worker in (first, second):
                status, job, answered_by = request(connection, "GET", started["status_url"])
                assert (status, answered_by) == (200, worker)
                seen.append(job)
            return seen if all(job["status"] == "done" for job in seen) else None

        jobs = wait_for(done_everywhere, timeout=30)
        assert jobs[0] == jobs[1]
        assert jobs[0]["summary"]["added"] == 2
        for connection, _ in (first, second):
            connection.close()

        victim = first[1]
        os.kill(victim, signal.SIGKILL)
        replaced = wait_for(lambda: len(children(server.process.pid) - {victim}) == 2 and
                            children(server.process.pid), timeout=30)
        assert victim not in replaced and second[1] in replaced
        newcomer = (replaced - {second[1]}).pop()
        for _ in range(40):
            connection, worker = server.connection()
            connection.close()
            if worker == newcomer:
                break
        assert worker == newcomer, "the replacement worker answered no request"

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0
        for pid in replaced:
            assert not Path(f"/proc/{pid}").exists(), f"worker {pid} outlived the server"


def test_watch_with_two_workers_indexes_once_and_both_serve_the_result(
        tmp_path, seeds_copy, fake_encoder):
    index = build_fake_index(seeds_copy, tmp_path / "index", fake_encoder)
    with Server(index, seeds_copy, 0.0, "--watch") as server:
        connections = [server.connection()]
        for _ in range(40):
            if len({worker for _, worker in connections}) == 2:
                break
            connections.append(server.connection())
        apply(seeds_copy, {"a": 1}, {})

        def everywhere() -> bool:
            generations = set()
            for connection, _ in connections:
                status, body, _ = request(connection, "GET", "/api/search?q=quokka")
                assert status == 200
                if not any(hit["article_id"] == "live/a.txt" for hit in body["results"]):
                    return False
                generations.add(body["generation"])
            return generations == {"g000002"}

        wait_for(everywhere, timeout=30)
        for connection, _ in connections:
            connection.close()
    # The watcher ran in one worker only: one update published one generation.
    assert (index / "CURRENT").read_text().strip() == "g000002"


def test_a_job_whose_worker_died_reads_as_failed_and_the_next_one_starts(tmp_path):
    board = SharedJobBoard(tmp_path / "jobs")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker that claims a job and dies running it
        os.close(read)
        job = board.claim("api")
        os.write(write, job.id.encode())
        os._exit(0)
    os.close(write)
    job_id = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    job = board.get(job_id)
    assert job is not None and (job.status.value, job.error) == ("failed", WORKER_DIED)
    assert board.claim("api").id != job_id


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_bad_worker_counts_are_one_clear_line(value):
    result = CliRunner().invoke(main, ["serve", "--workers", value])
    assert result.exit_code == 2
    assert "Invalid value for '--workers'" in result.output
    assert "Traceback" not in result.output
