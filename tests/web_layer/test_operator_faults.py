"""The smaller faults of issue 21 (finding 9): messages an operator can act on, each one line,
and the index and its answers unchanged."""

from __future__ import annotations

import logging
import os
import signal
import socket
import tempfile
import time
from pathlib import Path

import pytest
from helpers import ENCODER, base_corpus, build, error_line, fake_cli, run, write
from test_workers import Server
from web_fixtures import make_app

from search.errors import BadSetting
from web.serving import JOBS_PREFIX, quiet_third_party_logs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("operator")
    seeds = base_corpus(root / "seeds")
    return seeds, build(seeds, root / "idx")


def test_no_redirect_built_from_the_host_header(corpus):
    app = make_app(corpus[1], ENCODER, FOLLOW_INTERVAL=0)
    try:
        client = app.test_client()
        response = client.get("/api/articles//x", headers={"Host": "evil.example"})
        assert response.status_code == 404 and "Location" not in response.headers
        assert response.get_json()["error"].startswith("no such endpoint: GET /api/articles//x")
        assert client.get("/api/articles/news/a00.md").status_code == 200
    finally:
        app.extensions["search"].close()


@pytest.mark.parametrize("token", [" secret", "secret ", "   ", "g\u00e9heim", "se\ncret"])
def test_a_reindex_token_that_can_never_match_is_refused_at_start(corpus, token, monkeypatch):
    with pytest.raises(BadSetting):
        make_app(corpus[1], ENCODER, REINDEX_TOKEN=token)
    monkeypatch.setenv("SEARCH_REINDEX_TOKEN", token)
    result = run(fake_cli(monkeypatch), "serve", "--index", corpus[1], "--port", 0)
    loading, line = result.stderr.splitlines()  # the token is read with the index
    assert result.exit_code == 1 and loading.startswith("loading ")
    assert line == ("Error: SEARCH_REINDEX_TOKEN can never match: it must be printable ASCII "
                    "without spaces around it (unset it to allow only this machine)")


def test_a_port_in_use_or_a_bad_host_is_one_line_before_the_model_loads(corpus, monkeypatch):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    runner = fake_cli(monkeypatch)
    try:
        for workers in ("1", "2"):
            line = error_line(run(runner, "serve", "--index", corpus[1], "--port", port,
                                  "--workers", workers))
            assert line == f"Error: cannot listen on 127.0.0.1:{port}: address already in use"
    finally:
        taken.close()
    line = error_line(run(runner, "serve", "--index", corpus[1], "--host", "256.1.1.1",
                          "--workers", "1"))
    assert line.startswith("Error: cannot listen on 256.1.1.1:8000: ")


def test_control_characters_in_file_names_are_escaped(tmp_path, monkeypatch, corpus):
    seeds = tmp_path / "seeds"
    write(seeds / "good.md", "# Good\n\nThe harbour cranes moved container ships all night.")
    write(seeds / "evil\x1b[2J\nERROR: forged.md", "# Only a title")
    result = run(fake_cli(monkeypatch), "index", "--seeds", seeds, "--index", tmp_path / "idx")
    assert result.exit_code == 0
    assert result.stderr == ("skipped evil\\x1b[2J\\nERROR: forged.md: the file name holds a "
                             "line break or another control character: rename the file\n")
    assert "1 added" in result.stdout


def test_one_match_is_singular(corpus, monkeypatch):
    result = run(fake_cli(monkeypatch), "query", "Gefangenenaustausch", "--index", corpus[1],
                 "--mode", "keyword")
    assert result.stderr.startswith("1 match for 'Gefangenenaustausch' (keyword")
    assert "; 1 result listed, each story once" in result.stderr


def test_queue_warnings_are_rate_limited(caplog):
    quiet_third_party_logs()
    queue = logging.getLogger("waitress.queue")
    with caplog.at_level(logging.WARNING):
        for depth in range(1, 1601):
            queue.warning("Task queue depth is %d", depth)
    assert [r.getMessage() for r in caplog.records] == ["Task queue depth is 1"]


def test_sighup_stops_serve_and_stale_jobs_folders_go(corpus, tmp_path):
    stale = Path(tempfile.mkdtemp(prefix=f"{JOBS_PREFIX}{2**22 + 12345}-"))  # no such pid
    server = Server(corpus[1], corpus[0], 0.0)
    try:
        assert not stale.exists()
        mine = [p for p in Path(tempfile.gettempdir()).glob(f"{JOBS_PREFIX}{server.process.pid}-*")]
        assert len(mine) == 1
        # A body over the 16 KB limit is refused before it is read (waitress: 413).
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
            conn.sendall(b"POST /api/reindex HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 1073741824\r\n\r\n" + b"x" * 1000)
            assert conn.recv(100).startswith(b"HTTP/1.1 413")
        started = time.monotonic()
        server.process.send_signal(signal.SIGHUP)
        _, errors = server.process.communicate(timeout=30)
    finally:
        if server.process.poll() is None:
            server.process.kill()
    assert time.monotonic() - started < 15 and server.process.returncode == 0, errors
    assert not mine[0].exists() and "Traceback" not in errors
    assert "faiss" not in errors, errors  # its loader's INFO lines
    assert os.path.exists(corpus[1] / "CURRENT")
