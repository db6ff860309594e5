"""One published generation of a Qdrant index, read through its generation filter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from search import analysis
from search.backends.qdrant import schema
from search.backends.qdrant.connection import reported
from search.backends.qdrant.terms import query_vector, term_id
from search.records import (
    ArticleRecord,
    Candidate,
    Catalog,
    Facts,
    Filters,
    ParagraphColumns,
    ParagraphFacts,
    ParagraphRecord,
)

# Extra hits fetched so that ties at the cut are broken by pid, not by Qdrant's own order.
TIE_MARGIN = 16
_RECORD_FIELDS = ["article_id", "position", "start", "end", "text", "lang"]
_FACT_FIELDS = ["article_id", "position", "lang", "title", "date_iso", "source", "place", "url",
                schema.GROUP_IDS, schema.GROUP_GENS]
_COLUMN_FIELDS = ["article_id", "lang", "date_iso", "source", schema.GROUP_IDS,
                  schema.GROUP_GENS]
_ARTICLE_FIELDS = ["article_id", "path", "title", "date_iso", "place", "source", "url",
                   "article_lang", "position", "lang", "text"]


class QdrantReader:
    """A `GenerationReader` over one collection and generation; `release` gives up its
    lease on the generation (see QdrantBackend.open)."""

    approximate = True  # Qdrant searches dense vectors with its HNSW index

    def __init__(self, client: QdrantClient, location: str, collection: str,
                 catalog: Catalog, release: Callable[[], None]) -> None:
        self.client = client
        self._release: Callable[[], None] | None = release
        self.location = location
        self.collection = collection
        self.catalog = catalog
        self._codes = sorted({analysis.field_language(lang) for lang in catalog.languages})
        self._generation = schema.in_generation(catalog.generation)

    def keyword_candidates(self, text: str, lang: str, limit: int,
                           filters: Filters) -> list[Candidate]:
        """One sparse search per analysis language of the index, in one request; a paragraph
        is in one language, so the lists are disjoint and merge by score."""
        if limit <= 0:
            return []
        where = schema.query_filter(self.catalog.generation, filters)
        # IDF over this generation's points, whatever the filters, as the local side counts.
        idf = models.SearchParams(idf=models.IdfCorpusParams(
            corpus=models.Filter(must=self._generation)))
        requests = []
        term_ids: list[list[tuple[int, int]]] = []  # per request: (text id, title id) per term
        for code in self._codes:
            indices, values = query_vector(text, code)
            if indices:
                requests.append(models.QueryRequest(
                    query=models.SparseVector(indices=indices, values=values),
                    using=f"kw_{code}", filter=where, limit=limit + TIE_MARGIN, params=idf,
                    with_payload=["lang"], with_vector=[f"kw_{code}"]))
                term_ids.append([(term_id(t), term_id(t, title=True))
                                 for t in dict.fromkeys(analysis.tokens(text, code))])
        if not requests:
            return []
        with reported(self.location):
            answers = self.client.query_batch_points(self.collection, requests)
        found = [Candidate(int(p.id), _single(p.score), _coverage(p, using.using, ids),
                           _lang(p))
                 for answer, using, ids in zip(answers, requests, term_ids, strict=True)
                 for p in answer.points if p.score > 0]
        found.sort(key=lambda c: (-c.score, c.pid))
        return found[:limit]

    def vector_candidates(self, vector: np.ndarray, limit: int,
                          filters: Filters) -> list[Candidate]:
        if limit <= 0:
            return []
        with reported(self.location):
            answer = self.client.query_points(
                self.collection, query=np.asarray(vector, dtype=np.float32).tolist(),
                using=schema.DENSE, query_filter=schema.query_filter(
                    self.catalog.generation, filters), limit=limit + TIE_MARGIN,
                with_payload=["lang"])
        found = [Candidate(int(p.id), _single(p.score), None, _lang(p)) for p in answer.points]
        found.sort(key=lambda c: (-c.score, c.pid))
        return found[:limit]

    def vector(self, pid: int) -> np.ndarray:
        [record] = self._records([pid], fields=[], vectors=True)
        vectors = record.vector
        if not isinstance(vectors, dict) or schema.DENSE not in vectors:
            raise KeyError(pid)
        return np.asarray(vectors[schema.DENSE], dtype=np.float32)

    def paragraphs(self, pids: Sequence[int]) -> list[ParagraphRecord]:
        return [_paragraph(r.id, r.payload or {}) for r in self._records(pids, _RECORD_FIELDS)]

    def langs(self, pids: Sequence[int]) -> list[str]:
        return [str((r.payload or {})["lang"]) for r in self._records(pids, ["lang"])]

    def article_ids(self, pids: Sequence[int]) -> list[str]:
        return [str((r.payload or {})["article_id"])
                for r in self._records(pids, ["article_id"])]

    def article(self, article_id: str) -> ArticleRecord | None:
        return self.articles([article_id])[0]

    def articles(self, article_ids: Sequence[str]) -> list[ArticleRecord | None]:
        """One scroll over the paragraphs of all the articles asked for."""
        wanted = tuple(dict.fromkeys(article_ids))
        if not wanted:
            return []
        where = schema.query_filter(self.catalog.generation, Filters(article_ids=wanted))
        by_article: dict[str, list[models.Record]] = {}
        offset: Any = None
        with reported(self.location):
            while True:
                batch, offset = self.client.scroll(
                    self.collection, scroll_filter=where, limit=256, offset=offset,
                    with_payload=_ARTICLE_FIELDS)
                for point in batch:
                    by_article.setdefault(str((point.payload or {})["article_id"]),
                                          []).append(point)
                if offset is None:
                    break
        found = {article_id: _article(points) for article_id, points in by_article.items()}
        return [found.get(article_id) for article_id in article_ids]

    def groups(self, pids: Sequence[int]) -> list[int]:
        records = self._records(pids, [schema.GROUP_IDS, schema.GROUP_GENS])
        return [schema.group_at(r.payload or {}, int(r.id), self.catalog.generation)
                for r in records]

    def group_members(self, group_ids: Sequence[int]) -> dict[int, list[int]]:
        """The points that ever had one of the groups, kept if they have it in this
        generation; and each group's own paragraph when it is in no other group."""
        wanted = [int(g) for g in dict.fromkeys(group_ids)]
        found: dict[int, set[int]] = {group: set() for group in wanted}
        if not wanted:
            return {}
        generation = self.catalog.generation
        where = models.Filter(must=[*self._generation, models.FieldCondition(
            key=schema.GROUP_IDS, match=models.MatchAny(any=wanted))])
        fields = [schema.GROUP_IDS, schema.GROUP_GENS]
        offset: Any = None
        with reported(self.location):
            while True:
                batch, offset = self.client.scroll(self.collection, scroll_filter=where,
                                                   limit=256, offset=offset,
                                                   with_payload=fields)
                for point in batch:
                    group = schema.group_at(point.payload or {}, int(point.id), generation)
                    if group in found:
                        found[group].add(int(point.id))
                if offset is None:
                    break
            own = self.client.retrieve(self.collection, wanted,
                                       with_payload=[*fields, "gen_from", "gen_to"])
        for record in own:
            payload = record.payload or {}
            pid = int(record.id)
            if payload.get("gen_from", generation + 1) <= generation < payload.get("gen_to", 0) \
                    and schema.group_at(payload, pid, generation) == pid:
                found[pid].add(pid)
        return {group: sorted(found[group]) for group in wanted}

    def facts(self, pids: Sequence[int]) -> Facts:
        """Three requests whatever the number of pids: their payloads, their groups' members
        (a scroll), and the members' payloads that the first did not bring."""
        asked = list(dict.fromkeys(int(pid) for pid in pids))
        records = {int(r.id): r for r in self._records(asked, _FACT_FIELDS)}
        generation = self.catalog.generation
        group_of = {pid: schema.group_at(r.payload or {}, pid, generation)
                    for pid, r in records.items()}
        members = {group: tuple(row) for group, row in
                   self.group_members(sorted(set(group_of.values()))).items()}
        others = list(dict.fromkeys(m for row in members.values() for m in row
                                    if m not in records))
        for record in self._records(others, _FACT_FIELDS):
            records[int(record.id)] = record
        facts = {}
        for pid, record in records.items():
            payload = record.payload or {}
            facts[pid] = ParagraphFacts(
                pid, str(payload["article_id"]), int(payload["position"]), str(payload["lang"]),
                schema.group_at(payload, pid, generation), str(payload["title"]),
                payload.get("date_iso"), payload.get("source"), payload.get("place"),
                payload.get("url"))
        return Facts(facts, members)

    def columns(self, pids: Sequence[int]) -> ParagraphColumns:
        """One request: the payloads' few fields."""
        generation = self.catalog.generation
        payloads = [(int(r.id), r.payload or {}) for r in self._records(pids, _COLUMN_FIELDS)]
        return ParagraphColumns([str(p["lang"]) for _, p in payloads],
                                [str(p["article_id"]) for _, p in payloads],
                                [schema.group_at(p, pid, generation) for pid, p in payloads],
                                [p.get("date_iso") for _, p in payloads],
                                [p.get("source") for _, p in payloads])

    def close(self) -> None:
        """Give up the lease (closing twice is harmless; the client is shared)."""
        release, self._release = self._release, None
        if release is not None:
            release()

    def _records(self, pids: Sequence[int], fields: list[str],
                 vectors: bool = False) -> list[models.Record]:
        """The points of `pids` in this generation, in that order; KeyError for one that is
        not in it."""
        wanted = [int(pid) for pid in pids]
        if not wanted:
            return []
        with reported(self.location):
            found = self.client.retrieve(
                self.collection, wanted, with_payload=[*fields, "gen_from", "gen_to"],
                with_vectors=[schema.DENSE] if vectors else False)
        generation = self.catalog.generation
        by_id = {int(r.id): r for r in found
                 if (r.payload or {}).get("gen_from", generation + 1) <= generation
                 < (r.payload or {}).get("gen_to", 0)}
        missing = [pid for pid in wanted if pid not in by_id]
        if missing:
            raise KeyError(missing[0])
        return [by_id[pid] for pid in wanted]


def _coverage(point: models.ScoredPoint, using: str | None,
              ids: list[tuple[int, int]]) -> float | None:
    """The share of the query's terms (their text or title ids) in a point's sparse vector,
    as the local backend counts it (Qdrant applies no postings budget)."""
    vectors = point.vector
    sparse = vectors.get(using) if isinstance(vectors, dict) and using else None
    if not isinstance(sparse, models.SparseVector) or not ids:
        return None
    held = set(sparse.indices)
    matched = sum(1 for text_id, title_id in ids if text_id in held or title_id in held)
    return min(1.0, round(matched / len(ids), 6))


def _lang(point: models.ScoredPoint) -> str | None:
    lang = (point.payload or {}).get("lang")
    return str(lang) if lang is not None else None


def _single(score: float) -> float:
    """A score at float32 precision, as the stored vectors have: Qdrant's float64 arithmetic
    leaves equal vectors a last-bit apart, which would decide their order instead of pids."""
    return float(np.float32(score))


def _paragraph(pid: object, payload: dict[str, Any]) -> ParagraphRecord:
    return ParagraphRecord(int(str(pid)), str(payload["article_id"]), int(payload["position"]),
                           int(payload["start"]), int(payload["end"]), str(payload["text"]),
                           str(payload["lang"]))


def _article(points: list[models.Record]) -> ArticleRecord:
    points.sort(key=lambda p: int((p.payload or {})["position"]))
    first = points[0].payload or {}
    lang = first.get("article_lang") or _dominant(points)
    return ArticleRecord(
        str(first["article_id"]), str(first["path"]), str(first["title"]),
        first.get("date_iso"), first.get("place"), first.get("source"), first.get("url"),
        str(lang), tuple(int(p.id) for p in points))


def _dominant(points: Sequence[models.Record]) -> str:
    chars: dict[str, int] = {}
    for point in points:
        payload = point.payload or {}
        lang = str(payload["lang"])
        chars[lang] = chars.get(lang, 0) + len(str(payload.get("text", "")))
    return max(chars, key=chars.__getitem__)
