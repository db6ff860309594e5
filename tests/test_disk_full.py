"""A disk that fills up during an update, on a real tmpfs: `search index` and
`POST /api/reindex` fail with one line that says the disk is full and which file did not fit;
the previous generation answers as before, the folder holds exactly what it held, and once
space is freed the next run completes as if nothing had happened.

The disk fills in two ways: at a chosen write (the keyword files, the embedding cache, the
vectors, the HNSW graph, the manifest, CURRENT), by filling it completely just before that
write; and at whatever point a run reaches when only N bytes are free, for N spread from
nothing to about what a run needs. See docs/reliability.md for the figures of the last run.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import (
    ENCODER,
    SETTINGS,
    answers,
    base_corpus,
    build,
    error_line,
    files_of,
    fingerprint,
    later_corpus,
    layout,
    open_files,
    run,
    settle,
)
from mounts import fill, free_bytes, tmpfs
from web_fixtures import make_app, wait_for

import search.backends.local.segments
import search.backends.local.store
import search.backends.local.writer
from search.backends import open_backend
from search.backends.local.keyword import KeywordIndex
from search.errors import IndexUnwritable
from search.index.embedding_cache import EmbeddingCache

DISK = 8 << 20
SWEEP = 16
FULL = "Error: the disk is full: no space left to write "
UNCHANGED = ("; the index is unchanged and still serves generation g000001: free some space "
             "and run `search index` again")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The base index (g000001), the later seeds, and what an update makes of them."""
    root = tmp_path_factory.mktemp("disk-full")
    base = build(base_corpus(root / "seeds-base"), root / "base")
    seeds = later_corpus(shutil.copytree(root / "seeds-base", root / "seeds"))
    reference = build(seeds, shutil.copytree(base, root / "reference"))
    return {"base": base, "seeds": seeds, "base_files": files_of(base),
            "base_answers": answers(base), "reference": fingerprint(reference),
            "reference_layout": layout(reference)}


@pytest.fixture
def disk(tmp_path):
    with tmpfs(tmp_path / "disk", DISK) as mounted:
        yield mounted


pytestmark = pytest.mark.usefixtures("fake_model")


def where(line: str, index_dir: Path) -> str:
    """The file the disk-full line names, relative to the index folder."""
    assert line.startswith(FULL + str(index_dir) + "/") and line.endswith(UNCHANGED), line
    return line[len(FULL) + len(str(index_dir)) + 1 : -len(UNCHANGED)]


def unchanged_then_recovers(world, index_dir: Path, ballast: Path, retry) -> None:
    """After a failed run: the index holds and answers exactly what it did before, and no
    file of it is left open; once the ballast is gone, `retry` completes the update as an
    unfaulted run does."""
    settle()
    assert open_files(index_dir) == []
    assert files_of(index_dir) == world["base_files"]  # nothing half-written, nothing changed
    assert answers(index_dir) == world["base_answers"]
    assert open_backend(index_dir).check().ok
    ballast.unlink()
    retry()
    assert fingerprint(index_dir) == world["reference"]
    assert layout(index_dir) == world["reference_layout"]


def cli_index(runner, world, index_dir: Path):
    return run(runner, "index", "--seeds", world["seeds"], "--index", index_dir,
               "--model", "fake")


def cli_retry(runner, world, index_dir: Path):
    def retry() -> None:
        result = cli_index(runner, world, index_dir)
        assert result.exit_code == 0, result.output
    return retry


def fill_before(monkeypatch, owner, name: str, disk: Path, when=lambda *args: True) -> list:
    """Fill the disk completely right before the first call of owner.name that `when`
    accepts; the list gets the ballast file."""
    original = getattr(owner, name)
    ballast: list[Path] = []

    def wrapper(*args, **kwargs):
        if not ballast and when(*args):
            ballast.append(fill(disk))
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return ballast


STAGES = {  # where the disk fills: (owner, function, which call)
    "keyword files": (KeywordIndex, "commit", lambda *a: True),
    "embedding cache": (EmbeddingCache, "put_many", lambda *a: True),
    "vectors": (search.backends.local.segments, "atomic_file",
                lambda path: path.suffix == ".npy"),
    "manifest": (search.backends.local.store, "write_atomic",
                 lambda path, data: path.name == "manifest.json"),
    "CURRENT": (search.backends.local.store, "write_atomic",
                lambda path, data: path.name == "CURRENT"),
}
NAMED = {"keyword files": "generations/g000002.tmp/keyword", "vectors": "segments/s000002.npy",
         "manifest": "generations/g000002.tmp/manifest.json", "CURRENT": "CURRENT"}


@pytest.mark.parametrize("stage", list(STAGES))
def test_disk_full_at_each_write_is_one_line_and_the_next_run_completes(
        world, disk, runner, monkeypatch, stage):
    index_dir = shutil.copytree(world["base"], disk / "idx")
    owner, name, when = STAGES[stage]
    with monkeypatch.context() as patch:
        ballast = fill_before(patch, owner, name, disk, when)
        line = error_line(cli_index(runner, world, index_dir))
    assert ballast, f"the run never reached the {stage}"
    named = where(line, index_dir)
    if stage in NAMED:
        assert named == NAMED[stage], line
    else:  # the cache is bypassed with a warning; a write after it finds the disk full
        assert named.startswith(("generations/g000002.tmp/", "segments/s000002.")), line
    unchanged_then_recovers(world, index_dir, ballast[0], cli_retry(runner, world, index_dir))


def test_disk_full_while_writing_the_graph(world, disk, monkeypatch):
    """The HNSW graph (built once the index has ann_threshold paragraphs) is written through
    Python's file, so a full disk is the same error, not FAISS's RuntimeError."""
    index_dir = shutil.copytree(world["base"], disk / "idx")
    ballast = fill_before(monkeypatch, search.backends.local.writer, "save_hnsw", disk)
    settings = SETTINGS.__class__(model="fake", ann_threshold=10)
    with pytest.raises(IndexUnwritable) as raised:
        build(world["seeds"], index_dir, settings)
    assert where(f"Error: {raised.value}", index_dir) == "segments/ann-g000002.faiss"
    del raised  # and with it the failed writer
    monkeypatch.undo()
    settle()
    assert open_files(index_dir) == []
    assert files_of(index_dir) == world["base_files"]
    assert answers(index_dir) == world["base_answers"]
    ballast[0].unlink()
    build(world["seeds"], index_dir, settings)
    graph = fingerprint(index_dir)
    assert graph["paragraphs"] == world["reference"]["paragraphs"]
    assert graph["vectors"] == world["reference"]["vectors"]
    assert (index_dir / "segments" / "ann-g000002.faiss").is_file()
    assert open_backend(index_dir).check().ok


def free_at(trial: int, needed: int) -> int:
    """Free bytes for a trial of the sweep: from none to twice what a run leaves written (it
    writes more on the way: Whoosh's sorting pool, merges, SQLite journals)."""
    return needed * 2 * trial // (SWEEP - 1)


def test_disk_full_at_any_point_of_a_run(world, disk, runner, capsys):
    """Only N bytes free, for N from nothing to a little more than a run writes: each run
    fails where the space ran out, or completes if it fit."""
    probe = shutil.copytree(world["base"], disk / "probe")
    before = free_bytes(disk)
    build(world["seeds"], probe)
    needed = before - free_bytes(disk)
    shutil.rmtree(probe)
    places: list[str] = []
    completed = 0
    for trial in range(SWEEP):
        index_dir = shutil.copytree(world["base"], disk / f"idx{trial}")
        ballast = fill(disk, leave=free_at(trial, needed))
        result = cli_index(runner, world, index_dir)
        line = error_line(result) if result.exit_code else None
        del result  # and with it the failed writer
        if line is None:  # it fit
            completed += 1
            ballast.unlink()
            assert fingerprint(index_dir) == world["reference"]
        else:
            places.append(where(line, index_dir))
            unchanged_then_recovers(world, index_dir, ballast,
                                    cli_retry(runner, world, index_dir))
        shutil.rmtree(index_dir)
    with capsys.disabled():
        print(f"\ndisk full sweep: {SWEEP} runs with 0 to {free_at(SWEEP - 1, needed)} bytes "
              f"free (a run leaves {needed} written): {completed} completed, {len(places)} "
              f"failed at {dict(sorted(Counter(places).items()))}")
    # The keyword side's temporary files are the peak of a run, so most failures are there;
    # the other places are each filled up on purpose by the tests above. How many trials
    # fit depends on how much a run writes on the way beyond what it leaves (about half).
    assert completed and len(places) >= SWEEP // 3


def test_reindex_job_on_a_full_disk_fails_and_the_server_keeps_serving(world, disk):
    index_dir = shutil.copytree(world["base"], disk / "idx")
    app = make_app(index_dir, ENCODER, world["seeds"], FOLLOW_INTERVAL=0)
    client = app.test_client()
    query = "/api/search?q=harbour+cranes+container+ships&mode=keyword&size=10"
    try:
        before = client.get(query).get_json()
        ballast = fill(disk)
        job = reindex(client)
        assert job["status"] == "failed", job
        assert job["error"].startswith(FULL[len("Error: "):] + str(index_dir) + "/"), job
        assert job["error"].endswith(UNCHANGED) and "\n" not in job["error"], job
        during = client.get(query).get_json()
        assert during["generation"] == "g000001"
        assert during["results"] == before["results"]
        settle()
        assert [path for path in open_files(index_dir) if "g000002" in path] == []
        assert files_of(index_dir) == world["base_files"]
        ballast.unlink()
        job = reindex(client)
        assert job["status"] == "done", job
        assert client.get(query).get_json()["generation"] == "g000002"
    finally:
        app.extensions["search"].close()
    assert fingerprint(index_dir) == world["reference"]


def reindex(client) -> dict:
    response = client.post("/api/reindex")
    assert response.status_code == 202, response.get_json()
    status_url = response.get_json()["status_url"]

    def finished():
        job = client.get(status_url).get_json()
        return job if job["status"] in ("done", "failed") else None

    started = time.monotonic()
    job = wait_for(finished, timeout=60)
    assert time.monotonic() - started < 60
    return job
