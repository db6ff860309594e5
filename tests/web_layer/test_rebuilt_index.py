"""An index folder deleted and built anew under `search serve --workers 2` (issue 21, finding
3): the new folder's generation has the old one's name (g000001), and every worker moves to
it; while the folder is missing, each worker says so in one line, never a traceback."""

from __future__ import annotations

import json
import shutil
import signal
import time

from helpers import base_corpus, build, write
from test_workers import Server, request
from web_fixtures import wait_for


def lighthouse_corpus(seeds):
    write(seeds / "lights.jsonl", "".join(json.dumps({
        "id": str(n), "lang": "en", "title": f"Light {n}",
        "text": f"The lighthouse keeper {n} reported thick fog over the bay tonight."}) + "\n"
        for n in range(3)))
    return seeds


def answers_everywhere(server, connections, text: str, expected: set[str]) -> bool:
    """Whether every worker answers `text` with exactly the articles `expected`."""
    for connection, _ in connections:
        status, body, _ = request(connection, "GET", f"/api/search?q={text}&mode=keyword")
        assert status == 200, body
        if {hit["article_id"] for hit in body["results"]} != expected:
            return False
    return True


def test_an_index_rebuilt_under_a_running_server_is_served_by_every_worker(tmp_path):
    old_seeds = base_corpus(tmp_path / "old")
    new_seeds = lighthouse_corpus(tmp_path / "new")
    index = build(old_seeds, tmp_path / "index")
    harbour = {f"news/a{n:02d}.md" for n in range(6)}
    lights = {f"lights.jsonl#{n}" for n in range(3)}
    server = Server(index, new_seeds, 0.0)
    try:
        connections = [server.connection()]
        while len({worker for _, worker in connections}) < 2:
            connections.append(server.connection())
        assert answers_everywhere(server, connections, "harbour+cranes", harbour)

        shutil.rmtree(index)
        time.sleep(2.5)  # each worker's follower (every second) finds the folder missing
        assert answers_everywhere(server, connections, "harbour+cranes", harbour)
        build(new_seeds, index)  # g000001 again, another index
        assert (index / "CURRENT").read_text() == "g000001"
        wait_for(lambda: answers_everywhere(server, connections, "lighthouse+fog", lights),
                 timeout=30)
        assert answers_everywhere(server, connections, "harbour+cranes", set())

        # The same through the server's own reindex: deleted, then POST /api/reindex.
        shutil.rmtree(index)
        status, job, _ = request(connections[0][0], "POST", "/api/reindex")
        assert status == 202, job

        def done():
            _, body, _ = request(connections[0][0], "GET", job["status_url"])
            return body["status"] in ("done", "failed") and body

        finished = wait_for(done, timeout=60)
        assert (finished["status"], finished["summary"]["generation"]) == ("done", "g000001")
        assert finished["summary"]["added"] == 3
        wait_for(lambda: answers_everywhere(server, connections, "lighthouse+fog", lights),
                 timeout=30)
        for connection, _ in connections:
            connection.close()
    finally:
        server.process.send_signal(signal.SIGTERM)
        _, errors = server.process.communicate(timeout=30)
    assert "Traceback" not in errors, errors
    missing = [line for line in errors.splitlines()
               if f"generation-follower: no index in {index}" in line]
    assert len(missing) >= 2, errors  # one line from each worker (and one more after the API's)
