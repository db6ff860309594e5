"""What `search` says when the Qdrant side is not there, or not its own: one line on stderr
naming the cause, exit code 1, never a traceback; and the options' rules (--qdrant goes with
--backend qdrant; an index moves to another backend only with --rebuild).

The unreachable server is a loopback port nothing listens on (9, discard), so no test ever
talks to another machine.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
from helpers import PROJECT, fake_cli, run, write

from search.backends import open_backend, record, recorded
from search.backends.qdrant import QdrantBackend
from search.backends.qdrant.connection import forget

NOWHERE = "http://127.0.0.1:9"
UNREACHABLE = f"Error: Qdrant at {NOWHERE} cannot be reached ("
IN_USE = "is in use by another process (local mode allows one at a time)"


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    for n in range(3):
        write(tmp_path / "seeds" / f"a{n}.md", f"---\nlang: en\n---\n\n# Port {n}\n\n"
              f"The harbour cranes at terminal {n} moved container ships all night.\n")
    return tmp_path / "seeds"


@pytest.fixture
def cli(monkeypatch):
    """`search` in this process, with the fake encoder as its model."""
    runner = fake_cli(monkeypatch)
    return lambda *args: run(runner, *args)


@pytest.fixture
def version_checks():
    """qdrant-client checks a server's version in a background thread, which warns when it
    cannot (a UserWarning this suite turns into an error in whatever test runs at that
    moment): the in-process tests wait for those checks with that warning ignored. The real
    CLI's stderr, the check's thread included, is held to one line in subprocesses below."""
    forget(NOWHERE)  # a client of this process made elsewhere would skip the check
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Failed to obtain server version", UserWarning)
        yield
        forget(NOWHERE)
        for thread in threading.enumerate():
            if thread.name.endswith("(_check_compatibility)"):
                thread.join(timeout=60)


@pytest.fixture
def lock_files():
    """qdrant-client's local mode leaves its `.lock` file open when another process holds the
    folder (until the half-made client is collected, with a ResourceWarning): collect it in
    this test, where that warning is ignored."""
    yield
    gc.collect()


def one_error_line(code: int, stderr: str) -> str:
    """The one line a failed command printed on stderr."""
    assert code == 1, (code, stderr)
    assert "Traceback" not in stderr
    [line] = stderr.strip().splitlines()
    return line


def search_processes(*commands: list[object], cwd: Path) -> list[tuple[int, str, str]]:
    """The real `search` commands, each in its own interpreter (exit-time cleanup included),
    run at once (an interpreter takes a second or two to start): (code, stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    processes = [subprocess.Popen([sys.executable, "-m", "search", *map(str, args)], cwd=cwd,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for args in commands]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        results.append((process.returncode, out, err))
    return results


def test_an_unreachable_server_is_one_line_from_index_and_query(tmp_path, seeds):
    recording = tmp_path / "recording"
    record(recording, "qdrant", {"location": NOWHERE})
    index, query = search_processes(
        ["index", "--seeds", seeds, "--index", tmp_path / "idx", "--model", "fake",
         "--backend", "qdrant", "--qdrant", NOWHERE],
        ["query", "harbour", "--mode", "keyword", "--index", recording], cwd=tmp_path)
    for code, out, err in (index, query):
        assert one_error_line(code, err).startswith(UNREACHABLE), err
        assert out == ""


@pytest.mark.parametrize("command", [
    ["query", "harbour cranes"], ["query", "harbour", "--mode", "keyword", "--json"], ["stats"],
    ["check"], ["serve", "--port", "0"]])
def test_every_command_on_a_folder_recording_an_unreachable_server(tmp_path, cli, command,
                                                                   version_checks):
    record(tmp_path / "idx", "qdrant", {"location": NOWHERE})
    result = cli(*command, "--index", tmp_path / "idx")
    lines = result.stderr.strip().splitlines()
    if command[0] == "serve":  # it says "loading <index>..." first
        assert lines.pop(0).startswith("loading"), lines
    line = one_error_line(result.exit_code, "\n".join(lines))
    assert line.startswith(UNREACHABLE) and line.endswith("is it running, and is the URL right?")


HOLDER = """
import sys
from qdrant_client import QdrantClient
client = QdrantClient(path=sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
client.close()
"""


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_local_folder_held_by_another_process(tmp_path, seeds, cli, lock_files):
    folder = tmp_path / "qdrant"
    built = cli("index", "--seeds", seeds, "--index", tmp_path / "idx", "--model", "fake",
                "--backend", "qdrant", "--qdrant", folder)
    assert built.exit_code == 0, built.output
    forget(str(folder))  # this process lets go of it, as a finished `search index` would
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "holding"
        for command in (["query", "harbour", "--mode", "keyword"], ["check"],
                        ["index", "--seeds", seeds, "--model", "fake"]):
            result = cli(*command, "--index", tmp_path / "idx")
            line = one_error_line(result.exit_code, result.stderr)
            assert line == (f"Error: the Qdrant folder {folder} {IN_USE}: stop it, or run a "
                            "Qdrant server and pass its URL"), command
        other = cli("index", "--seeds", seeds, "--index", tmp_path / "other", "--model", "fake",
                    "--backend", "qdrant", "--qdrant", folder)
        assert IN_USE in one_error_line(other.exit_code, other.stderr)
    finally:
        holder.communicate("", timeout=30)
    answered = cli("query", "harbour", "--mode", "keyword", "--index", tmp_path / "idx")
    assert answered.exit_code == 0 and "Port" in answered.stdout, answered.output
    forget(str(folder))


@pytest.mark.parametrize("backend", [[], ["--backend", "local"]], ids=["no backend", "local"])
def test_qdrant_without_backend_qdrant_is_a_usage_error(tmp_path, seeds, cli, backend):
    result = cli("index", "--seeds", seeds, "--index", tmp_path / "idx", "--model", "fake",
                 "--qdrant", tmp_path / "qdrant", *backend)
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: ")
    assert result.stderr.strip().endswith(
        "Error: --qdrant and --qdrant-collection go with --backend qdrant")
    assert not (tmp_path / "idx").exists() and not (tmp_path / "qdrant").exists()


def keyword_hits(cli, index_dir: Path) -> list[tuple[str, str]]:
    result = cli("query", "harbour cranes", "--mode", "keyword", "--query-lang", "en",
                 "--index", index_dir, "--json")
    assert result.exit_code == 0, result.output
    return [(hit["paragraph_id"], hit["title"]) for hit in json.loads(result.stdout)["results"]]


def test_a_local_index_moves_to_qdrant_only_with_rebuild(tmp_path, seeds, cli):
    index_dir = tmp_path / "idx"
    built = cli("index", "--seeds", seeds, "--index", index_dir, "--model", "fake")
    assert built.exit_code == 0, built.output
    before = keyword_hits(cli, index_dir)
    assert len(before) == 3
    for where in ([], ["--qdrant", tmp_path / "qdrant"]):
        refused = cli("index", "--seeds", seeds, "--index", index_dir, "--model", "fake",
                      "--backend", "qdrant", *where)
        line = one_error_line(refused.exit_code, refused.stderr)
        assert line.startswith(f"Error: {index_dir} holds an index on the local backend: "
                               "pass --rebuild to build it anew on qdrant"), line
        assert recorded(index_dir) == ("local", {})
        assert keyword_hits(cli, index_dir) == before
    moved = cli("index", "--seeds", seeds, "--index", index_dir, "--model", "fake",
                "--backend", "qdrant", "--qdrant", tmp_path / "qdrant", "--rebuild")
    assert moved.exit_code == 0, moved.output
    assert recorded(index_dir) == ("qdrant", {"location": str(tmp_path / "qdrant")})
    assert isinstance(open_backend(index_dir), QdrantBackend)
    assert keyword_hits(cli, index_dir) == before  # the same paragraphs, now from Qdrant
    checked = cli("check", "--index", index_dir)
    assert checked.exit_code == 0 and checked.stdout.startswith(f"OK {index_dir} g000001: ")
    back = cli("index", "--seeds", seeds, "--index", index_dir, "--model", "fake",
               "--backend", "local")
    line = one_error_line(back.exit_code, back.stderr)
    assert line.startswith(f"Error: {index_dir} holds an index on the qdrant backend at "
                           f"{tmp_path / 'qdrant'}: pass --rebuild"), line
    forget(str(tmp_path / "qdrant"))


@pytest.mark.parametrize("workers", [["--workers", "2"], []])
def test_serve_runs_one_process_for_an_index_on_qdrant(tmp_path, seeds, cli, workers):
    """A forked worker cannot share the Qdrant client (local mode holds the collection in its
    process): serve takes the one-process path, and says so when more were asked for."""
    built = cli("index", "--seeds", seeds, "--index", tmp_path / "idx", "--model", "fake",
                "--backend", "qdrant", "--qdrant", tmp_path / "qdrant")
    assert built.exit_code == 0, built.output
    served = cli("serve", "--port", "0", "--index", tmp_path / "idx", *workers)
    # fake_cli stops `serve` where it would listen: on the one-process path (waitress's own
    # server), not where it would fork workers
    assert "about to listen" in str(served.exception)
    notes = [line for line in served.stderr.splitlines() if line.startswith("note:")]
    assert notes == ([
        "note: an index on qdrant is served by one process; for more, run several `search "
        "serve` behind a load balancer (docs/scale.md)"] if workers else [])
    forget(str(tmp_path / "qdrant"))
