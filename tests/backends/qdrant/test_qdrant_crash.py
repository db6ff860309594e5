"""SIGKILL of a real `search index --backend qdrant --qdrant DIR` (local mode) at every step of
an update: the live generation keeps answering as before, `search check` passes, and the next
run makes the index exactly what an uninterrupted run makes of it.

As in tests/test_reliability.py (whose corpora and query helpers this reuses), the killed
processes run the real CLI from a runner script with the test suite's fake encoder; the
runner prints a marker line at each step (around QdrantWriter's methods, the client calls
that write, and garbage collection) and SIGKILLs itself at the marker a trial names. The
product code has no test hooks. The runner writes points in batches of 4 rather than 256, so
that a kill can land between two batches of removals or of new points.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import PROJECT, write
from test_reliability import DETECTOR, ENCODER, answers, base_corpus, later_corpus

from search.backends import open_backend, record
from search.backends.qdrant import QdrantBackend, schema
from search.backends.qdrant.connection import forget
from search.cli import main
from search.config import Settings
from search.index.updater import update_index

TESTS = Path(__file__).resolve().parents[2]  # where helpers.py and test_reliability.py are
SETTINGS = Settings(model="fake")

RUNNER = r'''
"""Test harness only: imports everything once, then for each JSON line [argv, kill_at, log]
on stdin forks a process that runs `search <argv>` with the fake encoder as its model and its
output in `log`, printing a numbered marker line at each step and SIGKILLing itself at the
marker kill_at; answers "exit <code>" for each."""
import json, os, signal, sys, threading

sys.path[:0] = sys.argv[1:3]
import numpy as np
from helpers import FakeEncoder
from qdrant_client import QdrantClient
import search.cli, search.encoders.loading, search.index.pipeline
import search.backends.qdrant.writer
from search.backends.qdrant import QdrantBackend, schema
from search.backends.qdrant.writer import QdrantWriter

KILL_AT = None
counts = {}
steps = threading.local()  # the steps (gc, begin, remove, publish) a thread is inside
PRINTING = threading.Lock()  # markers come from two threads: whole lines only


def mark(step):
    with PRINTING:
        print(step, flush=True)
    if step == KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)


def numbered(name):
    counts[name] = counts.get(name, 0) + 1
    return f"{name} {counts[name]}"


def around(owner, name, label, step=False):
    """Markers before and after each call; a step's client calls are numbered within it."""
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        inside = getattr(steps, "names", [])
        what = label(*args, **kwargs) if callable(label) else label
        marker = numbered(f"{inside[-1]}: {what}" if inside and not step else what)
        mark(marker)
        if step:
            steps.names = [*inside, marker]
        try:
            result = original(*args, **kwargs)
        finally:
            steps.names = inside
        mark(f"{marker} done")
        return result
    setattr(owner, name, wrapper)


def written(call):
    """What a client call writes: points, removals, a generation's catalog, CURRENT, a lease."""
    def label(client, collection, *args, **kwargs):
        if not collection.endswith("-meta"):
            return f"{call} points"
        if call != "upsert":
            return f"{call} meta"
        point_id = int((args[0] if args else kwargs["points"])[0].id)
        kind = ("current" if point_id == schema.CURRENT_ID else
                "lease" if point_id >= schema.FIRST_LEASE_ID else "catalog")
        return f"upsert {kind}"
    return label


class MarkedEncoder(FakeEncoder):
    def encode(self, texts, batch_size=64):
        parts = []
        for start in range(0, len(texts), 8):
            mark(numbered("embed"))
            parts.append(super().encode(texts[start:start + 8], batch_size))
        return np.concatenate(parts)


search.backends.qdrant.writer.BATCH = 4
original_read = search.index.pipeline.read_articles
def read(seeds_dir, seed_file):
    mark(f"read {seed_file.path}")
    return original_read(seeds_dir, seed_file)
search.index.pipeline.read_articles = read
search.encoders.loading.load_encoder = lambda model, threads=0, **options: MarkedEncoder()
around(QdrantBackend, "collect_garbage", "gc", step=True)
around(QdrantBackend, "begin", "begin", step=True)
around(QdrantWriter, "remove", "remove", step=True)
around(QdrantWriter, "publish", "publish", step=True)
for call in ("upsert", "set_payload", "delete"):
    around(QdrantClient, call, written(call))

for line in sys.stdin:
    argv, KILL_AT, log = json.loads(line)
    counts.clear()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(out, 1)
            os.dup2(out, 2)
            search.cli.main(argv, prog_name="search")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdout.flush()
            os._exit(code)
    print(f"exit {os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}", flush=True)
'''

# Where the trials kill, in the order a run reaches them (the update goes from g000001 to
# g000002). Removals are marked in two batches while the text is embedded; `publish` writes
# 13 batches of new points, then the catalog, then CURRENT: from "publish 1: upsert current
# 1 done" on, the new generation is live.
KILL_POINTS = [
    "gc 1", "read news/b03.md", "embed 2", "remove 1: set_payload points 1 done",
    "remove 1 done", "publish 1", "publish 1: upsert points 1 done",
    "publish 1: upsert points 6", "publish 1: upsert catalog 1 done",
    "publish 1: upsert current 1 done", "gc 2",
]
SWITCHED = KILL_POINTS.index("publish 1: upsert current 1 done")


def qdrant_argv(seeds: Path, trial: Path) -> list[str]:
    """`search index` of `seeds` into the index folder and the Qdrant folder of `trial`."""
    return ["index", "--seeds", str(seeds), "--index", str(trial / "idx"), "--model", "fake",
            "--backend", "qdrant", "--qdrant", str(trial / "qdrant")]


def copy_base(world: dict[str, Any], trial: Path) -> None:
    """The base index (g000001) in `trial`: its folder and its Qdrant folder, recorded there."""
    shutil.copytree(world["base"] / "idx", trial / "idx")
    shutil.copytree(world["base"] / "qdrant", trial / "qdrant")
    record(trial / "idx", "qdrant", {"location": str(trial / "qdrant")})


def released(index_dir: Path) -> None:
    """Close this process's client of the index's Qdrant folder (one process at a time)."""
    backend = open_backend(index_dir)
    if isinstance(backend, QdrantBackend):
        forget(backend.location)


def fingerprint(index_dir: Path) -> dict[str, Any]:
    """What the live generation holds and answers, and what the Qdrant folder keeps."""
    backend = open_backend(index_dir)
    assert isinstance(backend, QdrantBackend)
    name = backend.current()
    assert name is not None
    catalog = backend.catalog(name)
    reader = backend.open(name)
    try:
        pids = sorted(pid for entry in catalog.files.values() for pid in entry.pids)
        paragraphs = [(p.pid, p.article_id, p.position, p.text, p.lang)
                      for p in reader.paragraphs(pids)]
        collection = reader.collection
    finally:
        reader.close()
    client = backend.client
    meta, _ = client.scroll(backend.meta, limit=1000)
    found = {
        "generation": name, "files": catalog.files, "next_pid": catalog.next_pid,
        "paragraphs": paragraphs, "answers": answers(index_dir),
        "collections": sorted(c.name for c in client.get_collections().collections),
        "points": client.count(collection, exact=True).count,
        "meta": sorted(int(p.id) for p in meta if int(p.id) < schema.FIRST_LEASE_ID),
    }
    forget(backend.location)
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The base Qdrant index (g000001), the later seeds, and what an uninterrupted update
    makes of them."""
    root = tmp_path_factory.mktemp("qdrant-crash")
    base_corpus(root / "seeds-base")
    base = root / "base"
    update_index(root / "seeds-base", base / "idx", SETTINGS, lambda: ENCODER,
                 detector=DETECTOR, backend="qdrant",
                 backend_options={"location": str(base / "qdrant")})
    base_answers = answers(base / "idx")
    released(base / "idx")
    shutil.copytree(root / "seeds-base", root / "seeds")
    later_corpus(root / "seeds")
    world = {"root": root, "base": base, "seeds": root / "seeds", "base_answers": base_answers}
    copy_base(world, root / "reference")
    update_index(root / "seeds", root / "reference" / "idx", SETTINGS, lambda: ENCODER,
                 detector=DETECTOR)
    world["reference"] = fingerprint(root / "reference" / "idx")
    # Other seeds for the run after a kill: the base with one file added and none removed.
    shutil.copytree(root / "seeds-base", root / "seeds-other")
    write(root / "seeds-other" / "news" / "c00.md", "---\nlang: en\n---\n\n# Tram line\n\n"
          "The new tram line opened to the harbour on Sunday with free rides.\n")
    world["seeds-other"] = root / "seeds-other"
    copy_base(world, root / "other")
    update_index(root / "seeds-other", root / "other" / "idx", SETTINGS, lambda: ENCODER,
                 detector=DETECTOR)
    world["other"] = fingerprint(root / "other" / "idx")
    runner = root / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    world["runner"] = runner
    return world


@pytest.fixture(scope="module")
def server(world: dict[str, Any]):
    """The runner: forks one process per run from a warm interpreter."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}  # no thread pools in the process that forks
    process = subprocess.Popen(
        [sys.executable, str(world["runner"]), str(PROJECT), str(TESTS)], env=env,
        cwd=world["root"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    yield process
    process.stdin.close()
    process.wait(timeout=30)
    process.stdout.close()


def forked_run(server: subprocess.Popen, argv: list[str], log: Path,
               kill_at: str | None = None) -> tuple[int, list[str]]:
    """One `search` run in a process forked by the runner: (exit code, lines it printed)."""
    server.stdin.write(json.dumps([argv, kill_at, str(log)]) + "\n")
    server.stdin.flush()
    reply = server.stdout.readline()
    assert reply.startswith("exit "), f"the runner died: {reply!r}"
    return int(reply.split()[1]), log.read_text(encoding="utf-8").splitlines()


def run(server: subprocess.Popen, seeds: Path, trial: Path, log: str,
        kill_at: str | None = None, *extra: str) -> tuple[int, list[str]]:
    """`search index` of `seeds` into `trial`'s folders, in a forked process."""
    return forked_run(server, [*qdrant_argv(seeds, trial), *extra], trial / log, kill_at)


def check_line(index_dir: Path) -> str:
    result = CliRunner().invoke(main, ["check", "--index", str(index_dir)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_uninterrupted_run_changes_the_answers(world, server, tmp_path):
    """The runner's own uninterrupted run (batches of 4) gives the in-process reference; the
    update changes answers, paragraphs and points, so a kill that lost it would show."""
    copy_base(world, tmp_path)
    code, markers = run(server, world["seeds"], tmp_path, "log")
    assert code == 0, "\n".join(markers)
    missing = [point for point in KILL_POINTS if point not in markers]
    assert not missing, f"the run never reached {missing}:\n" + "\n".join(markers)
    assert (markers.index("publish 1: upsert catalog 1 done")
            < markers.index("publish 1: upsert current 1"))
    assert fingerprint(tmp_path / "idx") == world["reference"]
    assert world["reference"]["answers"] != world["base_answers"]
    assert world["reference"]["generation"] == "g000002"


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_sigkill_keeps_the_live_generation_and_the_next_run_recovers(world, server, tmp_path,
                                                                     kill_at):
    copy_base(world, tmp_path)
    index_dir = tmp_path / "idx"
    code, markers = run(server, world["seeds"], tmp_path, "killed.log", kill_at)
    assert code == -signal.SIGKILL, "\n".join(markers)
    assert markers[-1] == kill_at
    switched = KILL_POINTS.index(kill_at) >= SWITCHED
    backend = open_backend(index_dir)
    assert backend.current() == ("g000002" if switched else "g000001")
    expected = world["reference"]["answers"] if switched else world["base_answers"]
    assert answers(index_dir) == expected
    assert check_line(index_dir).startswith(f"OK {index_dir} {backend.current()}: ")
    released(index_dir)
    code, markers = run(server, world["seeds"], tmp_path, "next.log")
    assert code == 0, "\n".join(markers)
    assert fingerprint(index_dir) == world["reference"]
    assert check_line(index_dir).startswith(f"OK {index_dir} g000002: ")
    released(index_dir)


@pytest.mark.parametrize("first, second", [
    ("publish 1: upsert points 6", "remove 1: set_payload points 1 done"),
    ("publish 1: upsert catalog 1 done", "publish 1: upsert points 2 done"),
])
def test_two_kills_in_a_row_then_a_run_recovers(world, server, tmp_path, first, second):
    """The second run starts by undoing what the first left, and is killed in turn."""
    copy_base(world, tmp_path)
    for kill_at in (first, second):
        code, markers = run(server, world["seeds"], tmp_path, "killed.log", kill_at)
        assert code == -signal.SIGKILL and markers[-1] == kill_at, "\n".join(markers)
    assert answers(tmp_path / "idx") == world["base_answers"]
    released(tmp_path / "idx")
    code, markers = run(server, world["seeds"], tmp_path, "next.log")
    assert code == 0, "\n".join(markers)
    assert fingerprint(tmp_path / "idx") == world["reference"]


@pytest.mark.parametrize("kill_at", ["remove 1: set_payload points 1 done",
                                     "publish 1: upsert points 6",
                                     "publish 1: upsert catalog 1 done"])
def test_after_a_kill_a_run_over_other_seeds_sees_nothing_of_the_killed_one(
        world, server, tmp_path, kill_at):
    """Run after run over the same seeds would rewrite the killed run's points and removals as
    they were; here the next run adds one file and removes none, so any removal mark or point
    the killed run left and the next writer did not undo would show in its generation."""
    copy_base(world, tmp_path)
    code, markers = run(server, world["seeds"], tmp_path, "killed.log", kill_at)
    assert code == -signal.SIGKILL and markers[-1] == kill_at, "\n".join(markers)
    code, markers = run(server, world["seeds-other"], tmp_path, "next.log")
    assert code == 0, "\n".join(markers)
    assert fingerprint(tmp_path / "idx") == world["other"]
    assert check_line(tmp_path / "idx").startswith(f"OK {tmp_path / 'idx'} g000002: ")
    released(tmp_path / "idx")


# -- moving a local index to Qdrant ----------------------------------------------------------

@pytest.fixture(scope="module")
def local_world(world: dict[str, Any]) -> dict[str, Any]:
    """A local (Whoosh + FAISS) index of the base seeds, and what an uninterrupted
    `--backend qdrant --rebuild` of the later seeds makes of it."""
    root = world["root"] / "local"
    update_index(world["root"] / "seeds-base", root / "base", SETTINGS, lambda: ENCODER,
                 detector=DETECTOR)
    shutil.copytree(root / "base", root / "moved")
    update_index(world["seeds"], root / "moved", SETTINGS, lambda: ENCODER, detector=DETECTOR,
                 rebuild=True, backend="qdrant",
                 backend_options={"location": str(root / "moved-qdrant")})
    moved = fingerprint(root / "moved")
    return {"base": root / "base", "answers": answers(root / "base"), "moved": moved}


def same_content(found: dict[str, Any], expected: dict[str, Any]) -> None:
    for key in ("files", "next_pid", "paragraphs", "answers"):
        assert found[key] == expected[key], key


def test_a_killed_move_to_qdrant_leaves_the_local_index_answering(world, local_world, server,
                                                                   tmp_path):
    shutil.copytree(local_world["base"], tmp_path / "idx")
    code, markers = run(server, world["seeds"], tmp_path, "killed.log",
                        "publish 1: upsert points 1 done", "--rebuild")
    assert code == -signal.SIGKILL, "\n".join(markers)
    try:
        result = CliRunner().invoke(main, ["check", "--index", str(tmp_path / "idx")])
        assert result.exit_code == 0, result.output
        assert answers(tmp_path / "idx") == local_world["answers"]
    finally:
        released(tmp_path / "idx")


def test_after_a_killed_move_the_next_run_completes_it(world, local_world, server, tmp_path):
    shutil.copytree(local_world["base"], tmp_path / "idx")
    code, markers = run(server, world["seeds"], tmp_path, "killed.log",
                        "publish 1: upsert points 1 done", "--rebuild")
    assert code == -signal.SIGKILL, "\n".join(markers)
    released(tmp_path / "idx")
    code, markers = run(server, world["seeds"], tmp_path, "next.log", None, "--rebuild")
    assert code == 0, "\n".join(markers)
    same_content(fingerprint(tmp_path / "idx"), local_world["moved"])
    assert check_line(tmp_path / "idx").startswith(f"OK {tmp_path / 'idx'} ")
    released(tmp_path / "idx")
