"""Reliability of the index on disk: SIGKILL at every stage of a real `search index` process,
two writers at once, and damaged files reported through the CLI and repaired by --rebuild.

The killed processes run the real CLI (`search.cli.main(["index", ...])`) from a small runner
script whose encoder is the test suite's FakeEncoder, slowed down a little so that kill times
spread over every stage. The runner prints a marker line when the run enters a stage and, when
the test asks it to (KILL_AT, read by the runner only), SIGKILLs itself right at a marker: the
product code has no test hooks. See docs/reliability.md for the figures of the last run.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import (
    DETECTOR,
    ENCODER,
    PROJECT,
    SETTINGS,
    FakeEncoder,
    answers,
    base_corpus,
    fake_cli,
    later_corpus,
    run,
)

from search.backends import open_backend
from search.backends.local.reader import LocalReader
from search.backends.local.store import IndexStore
from search.cli import main
from search.config import Settings
from search.errors import IndexBusy
from search.index.updater import update_index

RUNNER = r'''
"""Test harness only: run `search index` with a slow fake encoder, print a marker line as the
run enters each stage, and SIGKILL the process at the marker named KILL_AT.

`runner.py PROJECT SEEDS INDEX DELAY` runs once (PAUSE_AT and GO_FILE in the environment make
it wait at a marker until that file exists). `runner.py PROJECT --serve` imports everything
once, then for each JSON line [seeds, index, delay, kill_at, kill_after, log] on stdin forks
a process that runs the index command with its output in `log`, SIGKILLs it after kill_after
seconds if asked to, and answers "exit <code>": a second per trial instead of two.
"""
import json, os, signal, sys, threading, time
from pathlib import Path

sys.path[:0] = [sys.argv[1], os.path.dirname(os.path.abspath(__file__))]
from fake_encoder import FakeEncoder  # helpers', copied alone (faster start)
import search.cli, search.encoders.loading, search.index.pipeline, search.backends.local.store
import search.backends.local.segments, search.backends.local.writer
from search.backends.local.keyword import KeywordIndex
from search.backends.local.store import IndexStore

KILL_AT, PAUSE_AT, GO_FILE = (os.environ.get(k) for k in ("KILL_AT", "PAUSE_AT", "GO_FILE"))
DELAY = 0.0
PRINTING = threading.Lock()  # the reader and the keyword side mark from their own threads


def mark(stage):
    with PRINTING:  # killed under the lock: no other thread's marker follows the last one
        print(stage, flush=True)
        if stage == KILL_AT:
            os.kill(os.getpid(), signal.SIGKILL)
    if stage == PAUSE_AT:
        deadline = time.monotonic() + 120  # never outlive a test that forgot to let it go
        while not os.path.exists(GO_FILE) and time.monotonic() < deadline:
            time.sleep(0.02)


class SlowEncoder(FakeEncoder):
    def encode(self, texts, batch_size=64):
        parts = []
        for start in range(0, len(texts), 4):
            mark(f"embed {start // 4}")
            time.sleep(DELAY)
            parts.append(super().encode(texts[start:start + 4], batch_size))
        return parts[0] if len(parts) == 1 else __import__("numpy").concatenate(parts)


def around(owner, name, before, after=None):
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        mark(before(*args) if callable(before) else before)
        result = original(*args, **kwargs)
        if after:
            mark(after(*args) if callable(after) else after)
        return result
    setattr(owner, name, wrapper)


class Os:
    """os for the local backend's store and segments, with a marker before and after each rename."""
    def __getattr__(self, name):
        return getattr(os, name)
    def replace(self, src, dst):
        mark(f"replace {Path(dst).name}")
        os.replace(src, dst)
        mark(f"replaced {Path(dst).name}")
    def rename(self, src, dst):
        mark(f"rename {Path(dst).name}")
        os.rename(src, dst)
        mark(f"renamed {Path(dst).name}")


def slow_read(original):
    def read(seeds_dir, seed_file):
        mark(f"read {seed_file.path}")
        time.sleep(DELAY / 2)
        return original(seeds_dir, seed_file)
    return read


gc_runs = iter(range(1, 10))
search.index.pipeline.read_articles = slow_read(search.index.pipeline.read_articles)
search.backends.local.store.os = Os()
search.backends.local.segments.os = Os()
around(KeywordIndex, "add", "keywords")
around(KeywordIndex, "commit", "keywords commit", "keywords committed")
around(search.backends.local.writer, "write_segment", "segment", "segment written")
around(IndexStore, "collect_garbage", lambda self, *a: f"gc {next(gc_runs)}")
search.encoders.loading.load_encoder = lambda model, threads=0, **options: SlowEncoder()


def index(seeds, index_dir):
    mark("ready")
    started = time.perf_counter()
    try:
        search.cli.main(["index", "--seeds", seeds, "--index", index_dir, "--model", "fake"],
                        prog_name="search")
    finally:
        mark(f"done {time.perf_counter() - started:.3f}")


if sys.argv[2] != "--serve":
    DELAY = float(sys.argv[4])
    index(sys.argv[2], sys.argv[3])
for line in sys.stdin:
    seeds, index_dir, DELAY, KILL_AT, kill_after, log = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(out, 1)
            os.dup2(out, 2)
            index(seeds, index_dir)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdout.flush()
            os._exit(code)
    if kill_after is not None:
        time.sleep(kill_after)
        os.kill(pid, signal.SIGKILL)  # not reaped yet, so the pid is still this child's
    print(f"exit {os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}", flush=True)
'''

# Where the deterministic trials kill: every stage and both sides of every rename. The run goes
# from generation g000001 (the base index) to g000002 with segment s000002.
KILL_POINTS = [
    "read news/b03.md", "embed 0", "keywords", "keywords commit", "keywords committed",
    "segment", "replace s000002.jsonl", "replaced s000002.jsonl", "replace s000002.npy",
    "replaced s000002.npy", "replace manifest.json", "rename g000002", "renamed g000002",
    "replace CURRENT", "replaced CURRENT", "gc 2",
]
TIMED_TRIALS = 8


def paragraphs(index_dir: Path, with_pids: bool = True) -> list[tuple]:
    store = IndexStore(index_dir)
    reader = LocalReader.load(store, store.require_current(), ef_search=1024)
    try:
        return sorted(((p.pid,) if with_pids else ()) + (p.article_id, p.position, p.text, p.lang)
                      for p in reader.paragraph_store.in_order())
    finally:
        reader.close()


def fingerprint(index_dir: Path) -> dict:
    store = IndexStore(index_dir)
    manifest = store.read_manifest(store.require_current())
    catalog = manifest.catalog
    return {
        "generation": manifest.name, "files": catalog.files, "segments": manifest.file_segments,
        "counts": (catalog.articles, catalog.paragraphs, catalog.languages, catalog.next_pid),
        "paragraphs": paragraphs(index_dir), "answers": answers(index_dir),
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The base index (g000001), the later seeds, and what an uninterrupted run makes of them."""
    root = tmp_path_factory.mktemp("crash")
    base_corpus(root / "seeds-base")
    base = root / "base"
    update_index(root / "seeds-base", base, SETTINGS, lambda: ENCODER, detector=DETECTOR)
    shutil.copytree(root / "seeds-base", root / "seeds")
    later_corpus(root / "seeds")
    reference = root / "reference"
    shutil.copytree(base, reference)
    update_index(root / "seeds", reference, SETTINGS, lambda: ENCODER, detector=DETECTOR)
    scratch = root / "scratch"
    update_index(root / "seeds", scratch, SETTINGS, lambda: ENCODER, detector=DETECTOR)
    runner = root / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    (root / "fake_encoder.py").write_text(
        "import hashlib\nimport numpy as np\nimport regex\n"
        "from search.encoders.base import ModelInfo"
        "\n_WORD = regex.compile(r'\\w+')\n\n" + inspect.getsource(FakeEncoder), encoding="utf-8")
    return {
        "root": root, "base": base, "seeds": root / "seeds", "runner": runner,
        "base_answers": answers(base), "reference": fingerprint(reference),
        "scratch_paragraphs": paragraphs(scratch, with_pids=False),
    }


def start(world, index_dir: Path, delay: float, **env) -> subprocess.Popen:
    """The runner in a fresh interpreter, running once; returns when it is ready to index."""
    process = subprocess.Popen(
        [sys.executable, str(world["runner"]), str(PROJECT), str(world["seeds"]),
         str(index_dir), str(delay)],
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env}, cwd=world["root"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    return process


def finish(process: subprocess.Popen) -> tuple[int, list[str], str]:
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the runner did not end within 60 s; it printed {out[-1000:]!r} and "
                    f"{err[-2000:]!r}")
    return process.returncode, out.split("\n"), err


@pytest.fixture(scope="module")
def server(world):
    """The runner in --serve mode: forks one process per trial from a warm interpreter."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}  # no thread pools in the process that forks
    process = subprocess.Popen(
        [sys.executable, str(world["runner"]), str(PROJECT), "--serve"], env=env,
        cwd=world["root"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    yield process
    process.stdin.close()
    process.wait(timeout=30)
    process.stdout.close()


def forked_run(server, world, index_dir: Path, delay: float, kill_at: str | None = None,
               kill_after: float | None = None) -> tuple[int, list[str]]:
    """One index run in a process forked by the server: (exit code, lines it printed)."""
    log = index_dir.with_name(index_dir.name + ".log")
    command = [str(world["seeds"]), str(index_dir), delay, kill_at, kill_after, str(log)]
    server.stdin.write(json.dumps(command) + "\n")
    server.stdin.flush()
    reply = server.stdout.readline()
    assert reply.startswith("exit "), f"the runner died: {reply!r}"
    return int(reply.split()[1]), log.read_text(encoding="utf-8").split("\n")


STAGES = (("gc 1", "start"), ("read", "reading"), ("embed", "embedding"),
          ("keywords", "keyword writing"), ("segment", "vector writing"),
          ("replace s", "vector writing"), ("replaced s", "vector writing"),
          ("replaced CURRENT", "after the switch"), ("gc 2", "after the switch"),
          ("replace", "generation switch"), ("rename", "generation switch"))


def stage_of(markers: list[str]) -> str:
    """The stage the run was in when it died, from the last marker it printed."""
    for marker in reversed(markers):
        for prefix, stage in STAGES:
            if marker.startswith(prefix):
                return stage
    return "start"


def verify_and_recover(world, index_dir: Path) -> None:
    """The killed run left a working index; the next run makes it what no kill would have."""
    store = IndexStore(index_dir)
    live = store.current_name()
    if live == "g000001":
        assert answers(index_dir) == world["base_answers"]
    else:  # killed after CURRENT was switched: the new generation is complete
        assert live == "g000002"
        assert answers(index_dir) == world["reference"]["answers"]
    assert open_backend(index_dir).check().ok
    update_index(world["seeds"], index_dir, SETTINGS, lambda: ENCODER, detector=DETECTOR)
    assert fingerprint(index_dir) == world["reference"]
    assert open_backend(index_dir).check().ok
    assert not list((index_dir / "generations").glob("*.tmp"))


def crash_trial(server, world, index_dir: Path, kill_at: str | None = None,
                kill_after: float | None = None) -> tuple[bool, str]:
    """Copy the base index, run the slow runner on it, SIGKILL it (at a marker or after a
    delay), check what it left and recover. Returns (was it killed, stage it died in)."""
    shutil.copytree(world["base"], index_dir)
    delay = 0.0 if kill_at else 0.03
    code, markers = forked_run(server, world, index_dir, delay, kill_at, kill_after)
    assert code in (0, -signal.SIGKILL), "\n".join(markers)[-2000:]
    verify_and_recover(world, index_dir)
    return code == -signal.SIGKILL, stage_of(markers)


def test_uninterrupted_run_matches_a_clean_build(world):
    assert world["reference"]["paragraphs"]
    found = sorted(p[1:] for p in world["reference"]["paragraphs"])
    assert found == world["scratch_paragraphs"]
    assert all(world["reference"]["answers"]) and all(world["base_answers"])
    assert world["reference"]["answers"] != world["base_answers"]


def test_sigkill_at_every_stage_keeps_the_index(world, server, tmp_path):
    """SIGKILL at fixed points (every stage, both sides of every rename), then at times spread
    over a measured run: the old generation answers as before and the next run recovers."""
    started = time.perf_counter()
    measured = tmp_path / "measured"
    shutil.copytree(world["base"], measured)
    code, markers = forked_run(server, world, measured, 0.03)
    assert code == 0, "\n".join(markers)
    duration = float(next(m for m in markers if m.startswith("done "))[5:])
    results = [crash_trial(server, world, tmp_path / f"fixed{n}", kill_at=point)
               for n, point in enumerate(KILL_POINTS)]
    assert all(killed for killed, _ in results)
    for n in range(TIMED_TRIALS):
        delay = duration * (0.05 + 0.9 * n / (TIMED_TRIALS - 1))
        results.append(crash_trial(server, world, tmp_path / f"timed{n}", kill_after=delay))
    stages: dict[str, int] = {}
    for killed, stage in results:
        if killed:
            stages[stage] = stages.get(stage, 0) + 1
    landed = sum(killed for killed, _ in results[len(KILL_POINTS):])
    print(f"\ncrash trials: {len(KILL_POINTS)} at fixed points and {landed} of {TIMED_TRIALS} "
          f"timed kills landed (uninterrupted run {duration:.2f} s); by stage "
          f"{sorted(stages.items())}; {time.perf_counter() - started:.1f} s in all")
    assert set(stages) >= {"reading", "embedding", "keyword writing", "vector writing",
                           "generation switch", "after the switch"}
    assert len(KILL_POINTS) + landed >= 20


def test_second_writer_is_refused_and_the_first_finishes(world, tmp_path):
    index_dir = tmp_path / "idx"
    shutil.copytree(world["base"], index_dir)
    go = tmp_path / "go"
    first = start(world, index_dir, 0.0, PAUSE_AT="embed 0", GO_FILE=str(go))
    try:
        for line in first.stdout:
            if line.strip() == "embed 0":
                break
        else:
            pytest.fail(f"the first writer ended early: {first.communicate()}")
        second = CliRunner().invoke(main, ["index", "--seeds", str(world["seeds"]), "--index",
                                           str(index_dir), "--model", "fake"])
        assert (second.exit_code, second.stderr.strip().splitlines()) == (1, [
            f"Error: {index_dir} is being updated by process {first.pid}; wait for it to "
            "finish"]), second.output
        with pytest.raises(IndexBusy):
            update_index(world["seeds"], index_dir, SETTINGS, lambda: ENCODER,
                         detector=DETECTOR)
        assert answers(index_dir) == world["base_answers"]
    finally:  # whatever failed, the first writer goes on and ends
        go.touch()
        code, out, err = finish(first)
    assert code == 0, (out, err)
    assert fingerprint(index_dir) == world["reference"]


# -- damaged files through the CLI ---------------------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path: Path) -> None:
    """Overwrite 64 bytes in the middle with random ones (fixed seed)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = np.random.default_rng(7).bytes(64)[: len(data) - middle]
    path.write_bytes(bytes(data))


def _victim(index_dir: Path, part: str) -> Path:
    patterns = {"vectors": "segments/s*.npy", "graph": "segments/ann-*.faiss",
                "manifest": "generations/g*/manifest.json",
                "keyword segment": "generations/g*/keyword/*.seg",
                "keyword toc": "generations/g*/keyword/*.toc"}
    return max(index_dir.glob(patterns[part]), key=lambda p: p.stat().st_size)


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    """A small index with an HNSW graph (threshold lowered), to be copied and damaged."""
    root = tmp_path_factory.mktemp("damage")
    base_corpus(root / "seeds")
    update_index(root / "seeds", root / "idx", Settings(model="fake", ann_threshold=10),
                 lambda: ENCODER, detector=DETECTOR)
    assert IndexStore(root / "idx").read_manifest("g000001").ann
    return root


@pytest.fixture
def cli(monkeypatch):
    """`search` in this process, with the fake encoder as its model."""
    runner = fake_cli(monkeypatch)
    return lambda *args: run(runner, *args)


@pytest.mark.parametrize("how", [_truncate, _garble], ids=["truncated", "garbled"])
@pytest.mark.parametrize(
    "part", ["vectors", "graph", "manifest", "keyword segment", "keyword toc"])
def test_damaged_file_is_one_clear_line_and_rebuild_recovers(small_index, tmp_path, cli, part,
                                                             how):
    index_dir = tmp_path / "idx"
    shutil.copytree(small_index / "idx", index_dir)
    how(_victim(index_dir, part))
    # `serve` opens the index before it listens, so it fails as fast as the others.
    for args in (["query", "harbour cranes", "--mode", "keyword"], ["query", "cranes"],
                 ["stats"], ["serve", "--port", "0"], ["check"]):
        result = cli(*args, "--index", index_dir)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
        if args[0] != "check":
            lines = result.stderr.strip().splitlines()
            if args[0] == "serve":  # it says "loading <index>..." first
                assert lines.pop(0).startswith("loading"), lines
            [line] = lines
            assert str(index_dir) in line and "search index --rebuild" in line, line
        else:  # the check lists what it found under a header naming the index and the fix
            assert result.stdout.startswith(f"{index_dir} (")
            assert "search index --rebuild" in result.stdout
    rebuilt = cli("index", "--rebuild", "--model", "fake", "--seeds", small_index / "seeds",
                  "--index", index_dir)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert cli("check", "--index", index_dir).stdout.startswith("OK ")
    hits = json.loads(cli("query", "harbour cranes", "--query-lang", "en", "--index", index_dir,
                          "--json").stdout)
    assert hits["results"][0]["title"].startswith("Port report")
