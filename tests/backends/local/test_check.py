"""`search check` and the local backend's check: healthy indexes pass with one OK line, and each
kind of disagreement between manifest, segments, vectors, keyword index and HNSW graph is
listed (the damage is done with the engine's own writers, so that only the intended part
disagrees)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest
from click.testing import CliRunner
from helpers import FakeEncoder, write

from search.backends import open_backend
from search.backends.local.dense import HnswParams, build_hnsw, save_hnsw
from search.backends.local.keyword import KeywordDoc, KeywordIndex
from search.backends.local.store import IndexStore
from search.backends.local.vectors import live_vectors
from search.cli import main
from search.config import Settings
from search.errors import IndexMissing
from search.index.updater import update_index
from search.ingest.language import LanguageDetector
from search.records import CheckReport

DETECTOR = LanguageDetector()


def check_index(index_dir: Path) -> CheckReport:
    return open_backend(index_dir).check()


def corpus(seeds: Path) -> None:
    for n in range(8):
        write(seeds / f"port{n}.md", f"---\nlang: en\n---\n\n# Port {n}\n\nThe harbour cranes at "
              f"terminal {n} moved container ships.\n\nDock workers at terminal {n} were busy.")
    write(seeds / "de.md", "---\nlang: de\n---\n\n# Gespräche\n\nDie Verhandlungen über einen "
          "Gefangenenaustausch gehen weiter.")


def build(seeds: Path, index_dir: Path, ann_threshold: int = 10) -> None:
    update_index(seeds, index_dir, Settings(model="fake", ann_threshold=ann_threshold),
                 FakeEncoder, detector=DETECTOR)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """An index of 17 paragraphs with an HNSW graph (threshold lowered to 10)."""
    root = tmp_path_factory.mktemp("check")
    corpus(root / "seeds")
    build(root / "seeds", root / "idx")
    return root


@pytest.fixture
def index_dir(built, tmp_path) -> Path:
    target = tmp_path / "idx"
    shutil.copytree(built / "idx", target)
    return target


def run_check(index_dir: Path, *args: str):
    return CliRunner().invoke(main, ["check", "--index", str(index_dir), *args])


# -- healthy indexes ------------------------------------------------------------------------------


def test_a_fresh_index_is_ok(index_dir):
    report = check_index(index_dir)
    assert report.ok and report.problems == ()
    assert (report.generation, report.model, report.dim) == ("g000001", "fake", 64)
    assert (report.articles, report.paragraphs) == (9, 17)
    assert report.vectors == report.keyword_paragraphs == report.graph_vectors == 17
    result = run_check(index_dir)
    assert result.exit_code == 0
    assert result.stdout == (f"OK {index_dir} g000001: 9 articles, 17 paragraphs in keyword index "
                             "and vectors, graph of 17 (fake, 64-d)\n")


def test_json_report(index_dir):
    result = run_check(index_dir, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["problems"] == [] and data["paragraphs"] == 17


def test_updated_indexes_are_ok(built, tmp_path):
    """Changed and removed articles leave ids in the kept HNSW graph (excluded at query time):
    that is not a disagreement. Without a graph, graph_vectors is None."""
    seeds = tmp_path / "seeds"
    shutil.copytree(built / "seeds", seeds)
    shutil.copytree(built / "idx", tmp_path / "idx")
    build(seeds, tmp_path / "exact", ann_threshold=10_000)
    (seeds / "port1.md").unlink()
    write(seeds / "port2.md", "---\nlang: en\n---\n\n# Port 2\n\nThe cranes were repaired today.")
    write(seeds / "new.md", "---\nlang: fr\n---\n\n# Grève\n\nLes dockers sont en grève ce lundi.")
    for name in ("idx", "exact"):
        build(seeds, tmp_path / name, ann_threshold=10 if name == "idx" else 10_000)
    report = check_index(tmp_path / "idx")
    assert report.ok, report.problems
    assert (report.generation, report.articles, report.paragraphs) == ("g000002", 9, 15)
    assert report.graph_vectors == 17
    exact = check_index(tmp_path / "exact")
    assert exact.ok and exact.graph_vectors is None
    assert run_check(tmp_path / "exact").stdout.startswith("OK ")


def test_check_only_reads(index_dir):
    """Nothing is written but the (empty) lease file every reader of a generation holds."""
    def tree():
        return sorted((str(p.relative_to(index_dir)), p.stat().st_size, p.stat().st_mtime_ns)
                      for p in index_dir.rglob("*") if p.is_file() and p.name != "lease")

    before = tree()
    assert check_index(index_dir).ok
    assert tree() == before


def test_no_index_is_one_line(tmp_path):
    with pytest.raises(IndexMissing):
        check_index(tmp_path / "none")
    result = run_check(tmp_path / "none")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: no index in {tmp_path / 'none'}: run `search index` first (or pass --index DIR)"]


# -- disagreements --------------------------------------------------------------------------------


def _generation(index_dir: Path) -> Path:
    return index_dir / "generations" / "g000001"


def _edit_manifest(index_dir: Path, edit) -> None:
    path = _generation(index_dir) / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _edit_file_entry(index_dir: Path, key: str, change) -> None:
    def edit(data):
        entry = data["catalog"]["files"]["port0.md"]
        entry[key] = change(entry[key])
    _edit_manifest(index_dir, edit)


def _edit_keywords(index_dir: Path, remove=(), add=()) -> None:
    with KeywordIndex.open(_generation(index_dir) / "keyword") as index:
        if remove:
            index.remove(remove)
        if add:
            index.add(KeywordDoc(pid, "en", "Extra", "extra words")
                      for pid in add)
        index.commit()


def _edit_segment(index_dir: Path, edit) -> None:
    path = index_dir / "segments" / "s000001.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    records = edit(records)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")


def _set_pid(records, old: int, new: int):
    for record in records:
        for paragraph in record["paragraphs"]:
            if paragraph["pid"] == old:
                paragraph["pid"] = new
    return records


def _edit_vectors(index_dir: Path, edit) -> None:
    path = index_dir / "segments" / "s000001.npy"
    np.save(path, edit(np.load(path)))


def _scale_first(vectors):
    vectors[0] *= 2
    return vectors


def _replace_graph(index_dir: Path, how: str) -> None:
    store = IndexStore(index_dir)
    manifest = store.read_manifest("g000001")
    pids, vectors = live_vectors(store, manifest)
    if how == "unknown id":
        pids = pids.copy()
        pids[0] = 10**6
    elif how == "other vectors":
        vectors = vectors[::-1]
    elif how == "wrong dim":
        vectors = np.ascontiguousarray(vectors[:, :32])
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    path = store.segments / manifest.ann
    if how == "not a graph":
        faiss.write_index(faiss.IndexFlatIP(manifest.dim), str(path))
    else:
        save_hnsw(build_hnsw(pids, np.ascontiguousarray(vectors), HnswParams()), path)


def _empty_keyword_folder(index_dir: Path) -> None:
    folder = _generation(index_dir) / "keyword"
    shutil.rmtree(folder)
    folder.mkdir()


DAMAGE = {
    "paragraph missing from keywords": (
        lambda d: _edit_keywords(d, remove=[3]),
        "1 paragraph(s) missing from the keyword index: 3"),
    "extra keyword paragraph": (
        lambda d: _edit_keywords(d, add=[999]), "in the keyword index that the segments do not "
        "hold: 999"),
    "keyword paragraph twice": (
        lambda d: _edit_keywords(d, add=[5]), "the keyword index holds paragraph ids twice: 5"),
    "no keyword index": (_empty_keyword_folder, "no keyword index in"),
    "manifest paragraph count": (
        lambda d: _edit_file_entry(d, "paragraphs", lambda n: n + 1), "the manifest counts 18 "
        "paragraphs, the segments hold 17"),
    "manifest article count": (
        lambda d: _edit_file_entry(d, "articles", lambda ids: [*ids, "ghost.md"]),
        "the manifest counts 10 articles, the segments hold 9"),
    "manifest languages": (
        lambda d: _edit_file_entry(d, "languages", lambda _: {"de": 2}),
        "the manifest counts languages"),
    "manifest model": (
        lambda d: _edit_manifest(d, lambda data: data["catalog"]["settings"].update(
            model="other")), "the manifest names model 'fake' but its settings 'other'"),
    "manifest segments": (
        lambda d: _edit_manifest(d, lambda data: data["file_segments"].update(
            {"ghost.md": "s000009"})), "the manifest's segments list other files"),
    "article missing from segment": (
        lambda d: _edit_segment(d, lambda records: records[1:]), "lacks 1 article(s)"),
    "pid used twice": (
        lambda d: _edit_segment(d, lambda records: _set_pid(records, 2, 1)),
        "paragraph ids used twice: 1"),
    "pid never assigned": (
        lambda d: _edit_segment(d, lambda records: _set_pid(records, 2, 5000)),
        "paragraph ids outside 1..17: 5000"),
    "vectors missing": (
        lambda d: _edit_vectors(d, lambda v: v[:-1]), "holds 16 vectors for 17 paragraphs"),
    "vectors of another dimension": (
        lambda d: _edit_vectors(d, lambda v: v[:, :32]), "holds vectors of the wrong shape"),
    "vector not normalized": (
        lambda d: _edit_vectors(d, _scale_first), "1 vector(s) are not of unit length"),
    "graph with an unknown id": (
        lambda d: _replace_graph(d, "unknown id"), "holds ids never assigned: 1000000"),
    "graph with other vectors": (
        lambda d: _replace_graph(d, "other vectors"), "holds other vectors than the segments"),
    "graph of another dimension": (
        lambda d: _replace_graph(d, "wrong dim"), "is 32-d, the index 64-d"),
    "graph of another kind": (
        lambda d: _replace_graph(d, "not a graph"), "is not an id-mapped HNSW graph"),
    "graph missing": (
        lambda d: next((d / "segments").glob("ann-*")).unlink(), "cannot be read"),
    "CURRENT names a missing generation": (
        lambda d: (d / "CURRENT").write_text("g000042"), "CURRENT names generation g000042, "
        "but generations/g000042 does not exist"),
    "manifest unreadable": (
        lambda d: (_generation(d) / "manifest.json").write_text("{"), "manifest.json is damaged"),
}


@pytest.mark.parametrize("damage, expected", DAMAGE.values(), ids=DAMAGE.keys())
def test_each_disagreement_is_listed(index_dir, damage, expected):
    damage(index_dir)
    report = check_index(index_dir)
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems
    result = run_check(index_dir)
    assert result.exit_code == 1 and "Traceback" not in result.output
    header, *lines = result.stdout.strip().split("\n")
    assert header.startswith(f"{index_dir} (") and header.endswith(
        f"{len(report.problems)} problem(s); run `search index --rebuild`")
    assert lines == [f"  - {problem}" for problem in report.problems]
    data = json.loads(run_check(index_dir, "--json").stdout)
    assert data["ok"] is False and data["problems"] == list(report.problems)
