"""Qdrant's local mode (pure Python, what the Qdrant backend runs on in tests) against Qdrant's
own Rust engine (qdrant-edge-py's EdgeShard) on the same points.

A few hundred paragraphs in four languages, with random 32-d unit vectors, go through the real
QdrantBackend writer in two generations (the second removes two files and adds two), so the
collection holds points that one generation sees and the other does not. The points are read
back from the collection and loaded as they are into an EdgeShard with the same vector config;
both engines then answer the same dense and sparse (BM25 via the IDF modifier) queries under
`schema.in_generation`, the sparse ones with the IDF corpus scoped to that generation as the
reader asks for it (`IdfCorpusParams`, which the edge shard supports as `IdfParams`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import models

from backends.test_contract import Spec, commit
from search.backends import create_backend
from search.backends.qdrant import QdrantBackend, schema
from search.backends.qdrant.connection import forget
from search.backends.qdrant.terms import query_vector, vector_name
from search.records import Catalog, Filters

qdrant_edge = pytest.importorskip("qdrant_edge", reason="qdrant-edge-py is not installed")

DIM = 32
WORDS = {
    "en": "harbour crane ship storm river bridge market copper council election train strike "
          "winter flood farmer school doctor museum concert island volcano forest mountain "
          "airport factory budget festival lighthouse ferry".split(),
    "de": "hafen kran schiff sturm fluss brücke markt kupfer rat wahl zug streik winter "
          "hochwasser bauer schule arzt museum konzert insel vulkan wald berg flughafen "
          "fabrik haushalt fest leuchtturm fähre".split(),
    "fr": "port grue navire tempête rivière pont marché cuivre conseil élection train grève "
          "hiver inondation agriculteur école médecin musée concert île volcan forêt "
          "montagne aéroport usine budget festival phare".split(),
    "ru": "порт кран корабль шторм река мост рынок медь совет выборы поезд забастовка зима "
          "наводнение фермер школа врач музей концерт остров вулкан лес гора аэропорт "
          "завод бюджет фестиваль маяк паром".split(),
}
FILES_PER_LANG = 2
ARTICLES_PER_FILE = 12
QUERIES = 20
REMOVED = ("de0.jsonl", "en1.jsonl")  # by the second generation


def sentence(rng: np.random.Generator, words: Sequence[str], low: int, high: int) -> str:
    """Words drawn with a skewed distribution, so that document frequencies differ."""
    weights = 1.0 / np.arange(1, len(words) + 1)
    picks = rng.choice(len(words), size=int(rng.integers(low, high)), p=weights / weights.sum())
    return " ".join(words[i] for i in picks)


def specs(lang: str, seed: int) -> list[Spec]:
    rng = np.random.default_rng(seed)
    words = WORDS[lang]
    return [Spec(str(n), sentence(rng, words, 1, 4), lang, f"2025-0{1 + n % 9}-1{n % 10}",
                 ("Wire", "Daily")[n % 2],
                 tuple((sentence(rng, words, 4, 24), lang) for _ in range(int(rng.integers(2, 5)))))
            for n in range(ARTICLES_PER_FILE)]


def unit_vectors(seed: int, count: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def publish(backend: QdrantBackend, previous: Catalog | None, add: dict[str, list[Spec]],
            remove: Sequence[str] = ()) -> Catalog:
    """test_contract's `commit`, with random vectors (seeded by the paragraph id)."""
    return commit(backend, previous, add, remove,
                  vector=lambda paragraph: unit_vectors(paragraph.pid, 1)[0])


def corpus_files(first: int, count: int) -> dict[str, list[Spec]]:
    langs = sorted(WORDS)
    return {f"{langs[n % len(langs)]}{n}.jsonl": specs(langs[n % len(langs)], n)
            for n in range(first, first + count)}


def points_of(backend: QdrantBackend, collection: str) -> list[models.Record]:
    points: list[models.Record] = []
    offset: Any = None
    while True:
        batch, offset = backend.client.scroll(collection, limit=256, offset=offset,
                                              with_payload=True, with_vectors=True)
        points.extend(batch)
        if offset is None:
            return points


def edge_filter(conditions: Sequence[models.Condition]) -> Any:
    """`schema.in_generation`'s conditions (integer ranges) as the edge shard's filter."""
    must = []
    for condition in conditions:
        assert isinstance(condition, models.FieldCondition) and condition.range is not None
        bounds = condition.range
        must.append(qdrant_edge.FieldCondition(key=condition.key, range=qdrant_edge.RangeFloat(
            gt=bounds.gt, gte=bounds.gte, lt=bounds.lt, lte=bounds.lte)))
    return qdrant_edge.Filter(must=must)


def edge_shard(backend: QdrantBackend, collection: str, path: Path) -> Any:
    """An EdgeShard with the collection's vector config, holding its points as they are."""
    params = backend.client.get_collection(collection).config.params
    assert isinstance(params.vectors, dict) and params.sparse_vectors
    distances = {models.Distance.COSINE: qdrant_edge.Distance.Cosine}
    dense = {name: qdrant_edge.EdgeVectorParams(size=p.size, distance=distances[p.distance])
             for name, p in params.vectors.items()}
    assert {p.modifier for p in params.sparse_vectors.values()} == {models.Modifier.IDF}
    sparse = {name: qdrant_edge.EdgeSparseVectorParams(modifier=qdrant_edge.Modifier.Idf)
              for name in params.sparse_vectors}
    shard = qdrant_edge.EdgeShard.create(str(path), qdrant_edge.EdgeConfig(
        vectors=dense, sparse_vectors=sparse))
    points = []
    for record in points_of(backend, collection):
        assert isinstance(record.vector, dict)
        vectors = {name: (qdrant_edge.SparseVector(list(v.indices), list(v.values))
                          if isinstance(v, models.SparseVector) else list(v))
                   for name, v in record.vector.items()}
        points.append(qdrant_edge.Point(int(record.id), vectors, record.payload))
    shard.update(qdrant_edge.UpdateOperation.upsert_points(points))
    return shard


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("parity")
    backend = create_backend("qdrant", root / "idx")
    assert isinstance(backend, QdrantBackend)
    first = publish(backend, None, corpus_files(0, 4 * FILES_PER_LANG))
    second = publish(backend, first, corpus_files(100, 2), remove=REMOVED)
    collection = schema.points_collection(backend.name, 1)
    shard = edge_shard(backend, collection, root / "edge")
    yield {"backend": backend, "collection": collection, "shard": shard,
           "catalogs": (first, second), "points": points_of(backend, collection)}
    shard.close()
    forget(backend.location)


def test_the_collection_holds_two_generations(engines):
    first, second = engines["catalogs"]
    points = engines["points"]
    assert 300 <= len(points) <= 600
    live = {int(p.id) for p in points if p.payload["gen_to"] == schema.LIVE}
    removed = {int(p.id) for p in points if p.payload["gen_to"] == second.generation}
    added = {int(p.id) for p in points if p.payload["gen_from"] == second.generation}
    assert live == {pid for e in second.files.values() for pid in e.pids}
    assert removed and added and removed | live == {pid for e in first.files.values()
                                                    for pid in e.pids} | added
    assert {p.payload["lang"] for p in points} == set(WORDS)
    assert engines["shard"].count(qdrant_edge.CountRequest(filter=None)) == len(points)


@pytest.mark.parametrize("generation", [1, 2])
def test_dense_top10_is_the_same(engines, generation):
    backend, shard = engines["backend"], engines["shard"]
    where = schema.in_generation(generation)
    for query in unit_vectors(10_000 + generation, QUERIES):
        local = backend.client.query_points(
            engines["collection"], query=query.tolist(), using=schema.DENSE,
            query_filter=models.Filter(must=where), limit=10).points
        edge = shard.query(qdrant_edge.QueryRequest(
            limit=10, query=qdrant_edge.Query.Nearest(query.tolist(), using=schema.DENSE),
            filter=edge_filter(where)))
        assert [int(p.id) for p in local] == [int(p.id) for p in edge]
        assert [p.score for p in local] == pytest.approx([p.score for p in edge], abs=1e-5)


def keyword_queries(seed: int) -> list[tuple[str, str]]:
    """(text, language) pairs: one to three words of a language, sometimes one unknown."""
    rng = np.random.default_rng(seed)
    langs = sorted(WORDS)
    queries = []
    for n in range(QUERIES):
        lang = langs[n % len(langs)]
        words = [str(w) for w in rng.choice(WORDS[lang], size=int(rng.integers(1, 4)))]
        if n % 5 == 4:
            words.append("zzzunknown")
        queries.append((" ".join(words), lang))
    return queries


def local_sparse(engines: dict[str, Any], text: str, lang: str, generation: int,
                 corpus: bool) -> dict[int, float]:
    """Every matching point's score in the generation, from local mode: all of them rather
    than a top 10, since equal BM25 scores are common and engines break ties their own ways."""
    indices, values = query_vector(text, lang)
    assert indices
    where = schema.in_generation(generation)
    idf = models.SearchParams(idf=models.IdfCorpusParams(corpus=models.Filter(must=where)))
    found = engines["backend"].client.query_points(
        engines["collection"], query=models.SparseVector(indices=indices, values=values),
        using=vector_name(lang), query_filter=models.Filter(must=where),
        limit=len(engines["points"]), search_params=idf if corpus else None).points
    return {int(p.id): p.score for p in found}


def edge_sparse(engines: dict[str, Any], text: str, lang: str, generation: int,
                corpus: bool) -> dict[int, float]:
    """As `local_sparse`, from the edge shard."""
    indices, values = query_vector(text, lang)
    assert indices
    where = edge_filter(schema.in_generation(generation))
    idf = qdrant_edge.SearchParams(idf=qdrant_edge.IdfParams(corpus=where))
    found = engines["shard"].query(qdrant_edge.QueryRequest(
        limit=len(engines["points"]), query=qdrant_edge.Query.Nearest(
            qdrant_edge.SparseVector(indices, values), using=vector_name(lang)),
        filter=where, params=idf if corpus else None))
    return {int(p.id): p.score for p in found}


def assert_same_scores(local: dict[int, float], edge: dict[int, float]) -> None:
    assert local, "the query matches nothing: a weak comparison"
    assert set(local) == set(edge)
    for pid, score in local.items():
        assert score == pytest.approx(edge[pid], abs=1e-4), pid


@pytest.mark.parametrize("generation", [1, 2])
def test_keyword_scores_are_the_same_with_the_generation_as_idf_corpus(engines, generation):
    for text, lang in keyword_queries(generation):
        assert_same_scores(local_sparse(engines, text, lang, generation, corpus=True),
                           edge_sparse(engines, text, lang, generation, corpus=True))


def test_the_idf_corpus_matters_and_global_idf_agrees_too(engines):
    """Collection-wide IDF also counts the points generation 2 removed: in the languages of the
    removed files, and only there, scores must differ from those with the generation's own IDF,
    or the comparison above could not tell the two apart."""
    changed = {path[:2] for path in REMOVED}  # the language is the name's first two letters
    for text, lang in keyword_queries(2):
        scoped = local_sparse(engines, text, lang, 2, corpus=True)
        wide = local_sparse(engines, text, lang, 2, corpus=False)
        assert_same_scores(wide, edge_sparse(engines, text, lang, 2, corpus=False))
        assert set(wide) == set(scoped)
        differ = any(abs(scoped[pid] - wide[pid]) > 1e-3 for pid in scoped)
        assert differ == (lang in changed), (text, lang)


def test_the_reader_answers_as_the_edge_shard(engines):
    """The backend's own reader (one sparse search per language, merged; dense with its tie
    margin) against the shard: the same candidates and scores in generation 2."""
    first, second = engines["catalogs"]
    backend = engines["backend"]
    reader = backend.open(second.name)
    try:
        limit = len(engines["points"])
        for text, lang in keyword_queries(7)[:8]:
            found = reader.keyword_candidates(text, lang, limit, Filters())
            merged: dict[int, float] = {}
            for code in sorted(WORDS):
                if query_vector(text, code)[0]:
                    merged.update(edge_sparse(engines, text, code, 2, corpus=True))
            assert_same_scores({c.pid: c.score for c in found}, merged)
        where = edge_filter(schema.in_generation(second.generation))
        for query in unit_vectors(20_000, QUERIES):
            found = reader.vector_candidates(query, 10, Filters())
            edge = engines["shard"].query(qdrant_edge.QueryRequest(
                limit=10, query=qdrant_edge.Query.Nearest(query.tolist(), using=schema.DENSE),
                filter=where))
            assert [c.pid for c in found] == [int(p.id) for p in edge]
            assert [c.score for c in found] == pytest.approx([p.score for p in edge], abs=1e-5)
    finally:
        reader.close()
