"""Verify that the parts of an index agree: manifest, segments, vectors, keyword index, graph.

`search check` runs this. It only reads, holds the live generation's lease while it does (so
that a writer cannot delete the files under it), and never loads the model. Each difference
becomes one line of the report; a part that cannot be read at all is one difference too, and
the parts that depend on it are not compared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import faiss
import numpy as np

from search.backends.local.dense import graph_mismatches, load_hnsw
from search.backends.local.keyword import KeywordIndex
from search.backends.local.manifest import Manifest
from search.backends.local.segments import read_segment, read_vectors
from search.backends.local.store import IndexStore
from search.backends.local.vectors import live_vectors, unit_rows
from search.errors import IndexCorrupt, IndexIncompatible, IndexMissing
from search.records import CheckReport

_SHOWN_IDS = 5


@dataclass
class _Live:
    """Live paragraphs as the segments hold them."""

    articles: int = 0
    pids: list[int] = field(default_factory=list)
    languages: Counter[str] = field(default_factory=Counter)
    vectors: int = 0


def check_index(store: IndexStore) -> CheckReport:
    """Compare the live generation's manifest, segments, vectors, keyword index and graph.

    Raises IndexMissing when the folder holds no index; every other finding is reported.
    """
    root = str(store.root)
    try:
        name = store.require_current()
    except IndexCorrupt as exc:
        return CheckReport(root, problems=(str(exc),))
    if not (store.generations / name).is_dir():
        return CheckReport(root, name, problems=(
            f"CURRENT names generation {name}, but generations/{name} does not exist",))
    try:
        with store.lease(name):
            return _check_generation(store, name)
    except FileNotFoundError:  # deleted between the test above and the lease
        return CheckReport(root, name, problems=(f"generations/{name} vanished while checked",))


def _check_generation(store: IndexStore, name: str) -> CheckReport:
    root = str(store.root)
    try:
        manifest = store.read_manifest(name)
    except (IndexCorrupt, IndexIncompatible) as exc:
        return CheckReport(root, name, problems=(str(exc),))
    problems = _manifest_problems(manifest, name)
    live = _check_segments(store, manifest, problems)
    keyword_count = _check_keyword(store, name, live.pids, problems)
    graph_count = _check_graph(store, manifest, problems)
    return CheckReport(
        root, name, manifest.catalog.model, manifest.dim, live.articles, len(live.pids),
        live.vectors, keyword_count, graph_count, tuple(problems),
    )


def _manifest_problems(manifest: Manifest, name: str) -> list[str]:
    problems = []
    catalog = manifest.catalog
    if manifest.name != name:
        problems.append(f"the manifest of {name} says it is generation {manifest.name}")
    saved_model = catalog.settings.model
    if saved_model != catalog.model:
        problems.append(
            f"the manifest names model {catalog.model!r} but its settings {saved_model!r}")
    if set(manifest.file_segments) != set(catalog.files):
        problems.append("the manifest's segments list other files than its catalog")
    return problems


def _check_segments(store: IndexStore, manifest: Manifest, problems: list[str]) -> _Live:
    try:
        live_ids = manifest.live_articles()
    except KeyError:  # already reported: a file without a segment
        return _Live()
    catalog = manifest.catalog
    live = _Live()
    readable = True
    for segment, article_ids in sorted(live_ids.items()):
        readable &= _check_segment(store, manifest, segment, article_ids, live, problems)
    if not readable:
        return live
    if live.articles != catalog.articles:
        problems.append(
            f"the manifest counts {catalog.articles} articles, the segments hold {live.articles}")
    if len(live.pids) != catalog.paragraphs:
        problems.append(f"the manifest counts {catalog.paragraphs} paragraphs, the segments "
                        f"hold {len(live.pids)}")
    if dict(live.languages) != catalog.languages:
        problems.append(f"the manifest counts languages {catalog.languages}, the segments "
                        f"hold {dict(sorted(live.languages.items()))}")
    repeated = [pid for pid, n in Counter(live.pids).items() if n > 1]
    if repeated:
        problems.append(f"paragraph ids used twice: {_ids(repeated)}")
    unassigned = [pid for pid in live.pids if not 0 < pid < catalog.next_pid]
    if unassigned:
        problems.append(
            f"paragraph ids outside 1..{catalog.next_pid - 1}: {_ids(unassigned)}")
    return live


def _check_segment(store: IndexStore, manifest: Manifest, segment: str, article_ids: set[str],
                   live: _Live, problems: list[str]) -> bool:
    """Add the segment's live paragraphs to ``live``; False if the segment cannot be read."""
    try:
        rows = [(a.id, [(p.pid, p.lang) for p in a.paragraphs])
                for a in read_segment(store.segments, segment)]
    except IndexCorrupt as exc:
        problems.append(str(exc))
        return False
    found = {article_id for article_id, _ in rows}
    missing = sorted(article_ids - found)
    if missing:
        problems.append(f"segments/{segment}.jsonl lacks {len(missing)} article(s) the "
                        f"manifest lists, e.g. {missing[0]!r}")
    live_rows: list[int] = []
    row = 0
    for article_id, paragraphs in rows:
        if article_id in article_ids:
            live.articles += 1
            live.pids.extend(pid for pid, _ in paragraphs)
            live.languages.update(lang for _, lang in paragraphs)
            live_rows.extend(range(row, row + len(paragraphs)))
        row += len(paragraphs)
    try:
        vectors = read_vectors(store.segments, segment, manifest.dim)
    except IndexCorrupt as exc:
        problems.append(str(exc))
        return True
    if len(vectors) != row:
        problems.append(
            f"segments/{segment}.npy holds {len(vectors)} vectors for {row} paragraphs")
        return True
    bad = int(np.count_nonzero(~unit_rows(vectors[live_rows])))
    if bad:
        problems.append(f"segments/{segment}.npy: {bad} vector(s) are not of unit length "
                        "(the file is damaged)")
    live.vectors += len(live_rows)
    return True


def _check_keyword(store: IndexStore, name: str, live_pids: list[int],
                   problems: list[str]) -> int | None:
    try:
        index = KeywordIndex.open(store.keyword_dir(name))
    except (IndexCorrupt, IndexMissing) as exc:
        problems.append(str(exc))
        return None
    with index:
        keyword_pids = index.pids()
    repeated = [pid for pid, n in Counter(keyword_pids).items() if n > 1]
    if repeated:
        problems.append(f"the keyword index holds paragraph ids twice: {_ids(repeated)}")
    have, want = set(keyword_pids), set(live_pids)
    if want - have:
        problems.append(f"{len(want - have)} paragraph(s) missing from the keyword index: "
                        f"{_ids(want - have)}")
    if have - want:
        problems.append(f"{len(have - want)} paragraph(s) in the keyword index that the "
                        f"segments do not hold: {_ids(have - want)}")
    return len(keyword_pids)


def _check_graph(store: IndexStore, manifest: Manifest, problems: list[str]) -> int | None:
    if manifest.ann is None:
        return None
    path = store.segments / manifest.ann
    try:
        graph = load_hnsw(path)
    except IndexCorrupt as exc:
        problems.append(str(exc))
        return None
    covered = faiss.vector_to_array(graph.id_map)
    if graph.d != manifest.dim:
        problems.append(f"the vector graph {path} is {graph.d}-d, the index {manifest.dim}-d")
        return int(graph.ntotal)
    if len(covered) != graph.ntotal:
        problems.append(
            f"the vector graph {path} maps {len(covered)} ids to {graph.ntotal} vectors")
    repeated = [int(pid) for pid, n in Counter(covered.tolist()).items() if n > 1]
    if repeated:
        problems.append(f"the vector graph {path} holds ids twice: {_ids(repeated)}")
    unknown = [int(pid) for pid in covered if not 0 < pid < manifest.catalog.next_pid]
    if unknown:
        problems.append(f"the vector graph {path} holds ids never assigned: {_ids(unknown)}")
    try:
        pids, vectors = live_vectors(store, manifest)
    except IndexCorrupt:  # already reported by the segment checks
        return int(graph.ntotal)
    differ = graph_mismatches(graph, pids, vectors)
    if differ:
        problems.append(f"the vector graph {path} holds other vectors than the segments for "
                        f"{differ} paragraph(s)")
    return int(graph.ntotal)


def _ids(pids: Iterable[int]) -> str:
    ordered = sorted(set(pids))
    shown = ", ".join(str(pid) for pid in ordered[:_SHOWN_IDS])
    more = len(ordered) - _SHOWN_IDS
    return f"{shown} and {more} more" if more > 0 else shown
