"""Building the next generation of a Qdrant index.

New paragraphs are written as points of the next generation (invisible to readers of the
live one), removed ones get `gen_to` set to it, and `publish` stores the catalog and then
switches the live pointer, one point of the meta collection, in one write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from search import analysis
from search.backends.qdrant import schema
from search.backends.qdrant.connection import reported
from search.backends.qdrant.terms import Lengths, analyzed, document_vector, vector_name
from search.errors import IndexIncompatible
from search.records import Catalog, NewArticle, NewParagraph

BATCH = 256


class QdrantWriter:
    """A `GenerationWriter` for the Qdrant backend (used under the writer lock)."""

    def __init__(self, client: QdrantClient, location: str, meta: str, collection: str,
                 number: int, lengths: dict[str, Lengths], with_indexes: bool) -> None:
        self.client = client
        self.with_indexes = with_indexes
        self.location = location
        self.meta = meta
        self.collection = collection
        self.number = number
        self.lengths = dict(lengths)  # per analysis language, as of the previous generation
        self._texts: dict[int, tuple[NewArticle, NewParagraph, str, list[str], list[str]]] = {}
        self._vectors: dict[int, list[float]] = {}
        self._groups: dict[int, int] = {}  # of the new points

    def remove(self, pids: Sequence[int]) -> None:
        if not pids:
            return
        with reported(self.location):
            for start in range(0, len(pids), BATCH):
                chunk = [int(pid) for pid in pids[start : start + BATCH]]
                for record in self.client.retrieve(
                        self.collection, chunk,
                        with_payload=["code", "text_terms", "title_terms"]):
                    payload = record.payload or {}
                    code = str(payload["code"])
                    self.lengths[code] = self.lengths.get(code, Lengths()).plus(Lengths(
                        1, int(payload["text_terms"]), int(payload["title_terms"])), sign=-1)
                self.client.set_payload(self.collection, {"gen_to": self.number},
                                        points=models.PointIdsList(points=list(chunk)),
                                        wait=True)

    def add(self, articles: Iterable[NewArticle]) -> None:
        """Analyse the paragraphs; their points are written at publish, when the languages'
        average lengths for BM25 are known for the whole run."""
        for article in articles:
            for paragraph in article.paragraphs:
                code = analysis.field_language(paragraph.lang)
                title_terms = analyzed(article.title, paragraph.lang)
                text_terms = analyzed(paragraph.text, paragraph.lang)
                self.lengths[code] = self.lengths.get(code, Lengths()).plus(
                    Lengths(1, len(text_terms), len(title_terms)))
                self._texts[paragraph.pid] = (article, paragraph, code, text_terms, title_terms)

    def add_vectors(self, pids: np.ndarray, vectors: np.ndarray) -> None:
        for pid, vector in zip(np.asarray(pids).tolist(), np.asarray(vectors), strict=True):
            self._vectors[int(pid)] = vector.astype(np.float32).tolist()

    def set_groups(self, pids: Sequence[int], group_ids: Sequence[int]) -> None:
        """New points get their group at publish; old ones get an entry for this generation
        now (invisible to readers of older generations, undone after a crash)."""
        old: dict[int, int] = {}
        for pid, group in zip((int(p) for p in pids), (int(g) for g in group_ids), strict=True):
            if pid in self._texts:
                self._groups[pid] = group
            else:
                old[pid] = group
        if not old:
            return
        fields = [schema.GROUP_IDS, schema.GROUP_GENS]
        with reported(self.location):
            found = self.client.retrieve(self.collection, sorted(old), with_payload=fields)
            if len(found) != len(old):
                raise KeyError(sorted(set(old) - {int(r.id) for r in found})[0])
            operations: list[models.UpdateOperation] = []
            for record in found:
                payload = record.payload or {}
                gens = [g for g in payload.get(schema.GROUP_GENS) or () if g < self.number]
                ids = list(payload.get(schema.GROUP_IDS) or ())[: len(gens)]
                operations.append(models.SetPayloadOperation(set_payload=models.SetPayload(
                    payload={schema.GROUP_IDS: [*ids, old[int(record.id)]],
                             schema.GROUP_GENS: [*gens, self.number]},
                    points=[int(record.id)])))
            for start in range(0, len(operations), BATCH):
                self.client.batch_update_points(self.collection,
                                                operations[start : start + BATCH], wait=True)

    def publish(self, catalog: Catalog) -> None:
        """Write the new points, then the catalog, then switch the live pointer."""
        if self._texts.keys() != self._vectors.keys():
            raise ValueError(f"{len(self._texts)} paragraphs were added with "
                             f"{len(self._vectors)} vectors for other paragraph ids")
        self._ensure_collection(catalog.dim)
        points = [self._point(pid) for pid in sorted(self._texts)]
        record = {"catalog": catalog.to_dict(), "collection": self.collection,
                  "lengths": {code: [n.docs, n.text, n.title]
                              for code, n in sorted(self.lengths.items())}}
        current = {"generation": catalog.generation, "collection": self.collection}
        with reported(self.location):
            for start in range(0, len(points), BATCH):
                self.client.upsert(self.collection, points[start : start + BATCH], wait=True)
            self.client.upsert(self.meta, [
                models.PointStruct(id=catalog.generation, vector={}, payload=record)], wait=True)
            self.client.upsert(self.meta, [
                models.PointStruct(id=schema.CURRENT_ID, vector={}, payload=current)], wait=True)

    def _point(self, pid: int) -> models.PointStruct:
        article, paragraph, code, text_terms, title_terms = self._texts[pid]
        indices, values = document_vector(text_terms, title_terms, self.lengths[code])
        named: dict[str, Any] = {schema.DENSE: self._vectors[pid]}
        if indices:
            named[vector_name(paragraph.lang)] = models.SparseVector(indices=indices,
                                                                     values=values)
        payload = schema.paragraph_payload(article, paragraph, self.number)
        payload.update(code=code, text_terms=len(text_terms), title_terms=len(title_terms))
        if pid in self._groups and self._groups[pid] != pid:
            payload.update({schema.GROUP_IDS: [self._groups[pid]],
                            schema.GROUP_GENS: [self.number]})
        return models.PointStruct(id=pid, vector=named, payload=payload)

    def _ensure_collection(self, dim: int) -> None:
        """Create the collection on first use (a rebuild's dimension is known only once its
        first vectors are), or check that it holds vectors of this dimension."""
        with reported(self.location):
            if not self.client.collection_exists(self.collection):
                schema.create_points_collection(self.client, self.collection, dim,
                                                self.with_indexes)
                return
            params = self.client.get_collection(self.collection).config.params.vectors
            have = params[schema.DENSE].size if isinstance(params, dict) else None
        if have != dim:
            raise IndexIncompatible(
                f"Qdrant collection {self.collection} holds {have}-d vectors, the model gives "
                f"{dim}-d ones: rebuild with `search index --rebuild`")

    def close(self) -> None:
        """Nothing was written before publish but removals, which stay invisible until then
        and are undone by the next writer's garbage collection."""
        self._texts.clear()
        self._vectors.clear()
        self._groups.clear()
