"""The Qdrant backend: the same engine on a Qdrant server or cluster (or, for trying it and for
tests, qdrant-client's local mode in a folder). See schema.py for how generations are kept.

The index folder keeps what is not Qdrant's: `backend.json` (location and collection name),
the writer lock and the embedding cache.
"""

from __future__ import annotations

import secrets
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient, models

from search.backends.qdrant import schema
from search.backends.qdrant.connection import call, connect, is_url, reported
from search.backends.qdrant.reader import QdrantReader
from search.backends.qdrant.terms import Lengths
from search.backends.qdrant.writer import QdrantWriter
from search.backends.writer_lock import folder_writer_lock
from search.errors import IndexCorrupt, IndexMissing
from search.records import Catalog, CheckReport, Progress, generation_name

KEEP = 2  # generations kept beside those that readers hold
# A reader's lease keeps its generation this long at most (a process that died holding one
# cannot release it); a query never takes that long, and servers follow new generations.
LEASE_SECONDS = 3600


class QdrantBackend:
    """A `Backend` on a Qdrant collection. Constructing one does no I/O."""

    def __init__(self, index_dir: Path, location: str, name: str = "search",
                 api_key: str | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.location = location
        self.name = name
        self.api_key = api_key
        self.meta = schema.meta_collection(name)
        self._client: QdrantClient | None = None

    @property
    def client(self) -> QdrantClient:
        if self._client is None:
            self._client = connect(self.location, self.api_key)
        return self._client

    # -- reading ---------------------------------------------------------------------------
    def current(self) -> str | None:
        record = self._meta_record(schema.CURRENT_ID)
        return None if record is None else generation_name(int(record["generation"]))

    def identity(self, name: str) -> str:
        # Collections are numbered on from the meta collection's last generation: a name is
        # not reused unless the meta collection itself is deleted.
        return name

    def catalog(self, name: str) -> Catalog:
        return Catalog.from_dict(self._generation_record(name)["catalog"])

    def open(self, name: str) -> QdrantReader:
        """Open a generation and lease it: a point of the meta collection that garbage
        collection respects until the reader closes (or the lease is an hour old)."""
        record = self._generation_record(name)
        catalog = Catalog.from_dict(record["catalog"])
        lease = schema.FIRST_LEASE_ID + secrets.randbelow(schema.FIRST_LEASE_ID)
        payload = {"lease": catalog.generation, "since": time.time()}
        call(self.location, lambda: self.client.upsert(self.meta, [
            models.PointStruct(id=lease, vector={}, payload=payload)], wait=True))

        def release() -> None:
            call(self.location, lambda: self.client.delete(
                self.meta, points_selector=models.PointIdsList(points=[lease]), wait=True))

        return QdrantReader(self.client, self.location, str(record["collection"]), catalog,
                            release)

    # -- writing ---------------------------------------------------------------------------
    def writer_lock(self) -> AbstractContextManager[None]:
        return folder_writer_lock(self.index_dir)

    def begin(self, previous: Catalog | None, progress: Progress | None = None) -> QdrantWriter:
        self._ensure_meta()
        if previous is None:
            number = self._last_generation() + 1
            collection = schema.points_collection(self.name, number)
            lengths: dict[str, Lengths] = {}
            if call(self.location, lambda: self.client.collection_exists(collection)):
                call(self.location, lambda: self.client.delete_collection(collection))
        else:
            record = self._generation_record(previous.name)
            number, collection = previous.generation + 1, str(record["collection"])
            lengths = {code: Lengths(*values) for code, values in record["lengths"].items()}
            with reported(self.location):
                self._undo_unpublished(collection, previous.generation)
        return QdrantWriter(self.client, self.location, self.meta, collection, number, lengths,
                            with_indexes=is_url(self.location))

    def collect_garbage(self) -> list[str]:
        """Drop what no kept generation can see: unpublished points and removals, points
        removed before the oldest kept generation, and other generations' records and
        collections. Kept: the newest `KEEP` generations and every one a reader leases."""
        live = self._meta_record(schema.CURRENT_ID) if self._has_meta() else None
        if live is None:
            return []
        current, collection = int(live["generation"]), str(live["collection"])
        removed: list[str] = []
        with reported(self.location):
            generations, leased = self._generations()
            keep = {*range(current - KEEP + 1, current + 1), *leased}
            oldest = min(keep)
            if self.client.collection_exists(collection):
                self._drop_unseen_points(collection, current, oldest)
            kept = {collection}
            for generation in generations:
                record = self._meta_record(generation)
                if record is not None and generation in keep:
                    kept.add(str(record["collection"]))
                else:
                    self.client.delete(self.meta, points_selector=models.PointIdsList(
                        points=[generation]), wait=True)
                    removed.append(generation_name(generation))
            for found in self.client.get_collections().collections:
                if schema.is_points_collection(self.name, found.name) and found.name not in kept:
                    self.client.delete_collection(found.name)
                    removed.append(found.name)
        return removed

    def _undo_unpublished(self, collection: str, current: int) -> None:
        """Drop the points and removals of writers that never published (a crash)."""
        unpublished = models.Filter(must=[models.FieldCondition(
            key="gen_from", range=models.Range(gt=current))])
        self.client.delete(collection, points_selector=models.FilterSelector(
            filter=unpublished), wait=True)
        undone = models.Filter(must=[models.FieldCondition(
            key="gen_to", range=models.Range(gt=current, lt=schema.LIVE))])
        self.client.set_payload(collection, {"gen_to": schema.LIVE}, points=undone, wait=True)
        self._undo_group_entries(collection, current)

    def _undo_group_entries(self, collection: str, current: int) -> None:
        """Drop the group entries of generations never published."""
        unpublished = models.Filter(must=[models.FieldCondition(
            key=schema.GROUP_GENS, range=models.Range(gt=current))])
        fields = [schema.GROUP_IDS, schema.GROUP_GENS]
        offset: Any = None
        while True:
            batch, offset = self.client.scroll(collection, scroll_filter=unpublished,
                                               limit=256, offset=offset, with_payload=fields)
            for point in batch:
                payload = point.payload or {}
                gens = [g for g in payload.get(schema.GROUP_GENS) or () if g <= current]
                ids = list(payload.get(schema.GROUP_IDS) or ())[: len(gens)]
                self.client.set_payload(collection, {schema.GROUP_IDS: ids,
                                                     schema.GROUP_GENS: gens},
                                        points=[point.id], wait=True)
            if offset is None:
                break

    def _drop_unseen_points(self, collection: str, current: int, oldest: int) -> None:
        self._undo_unpublished(collection, current)
        gone = models.Filter(must=[models.FieldCondition(
            key="gen_to", range=models.Range(lte=oldest))])
        self.client.delete(collection, points_selector=models.FilterSelector(filter=gone),
                           wait=True)

    def check(self) -> CheckReport:
        name = self.current()
        if name is None:
            raise IndexMissing(f"no index in {self.index_dir}: run `search index` first "
                               "(or pass --index DIR)")
        reader = self.open(name)
        try:
            catalog = reader.catalog
            problems: list[str] = []
            where = models.Filter(must=schema.in_generation(catalog.generation))
            with reported(self.location):
                count = self.client.count(reader.collection, count_filter=where,
                                          exact=True).count
            if count != catalog.paragraphs:
                problems.append(f"the catalog counts {catalog.paragraphs} paragraphs, "
                                f"collection {reader.collection} holds {count} in {name}")
            missing = 0
            for entry in catalog.files.values():
                try:
                    reader.paragraphs(list(entry.pids))
                except KeyError:
                    missing += 1
        finally:
            reader.close()  # its lease would keep the generation from collection for an hour
        if missing:
            problems.append(f"{missing} seed file(s) lack paragraphs in {reader.collection}")
        return CheckReport(str(self.index_dir), name, catalog.model, catalog.dim,
                           catalog.articles, count, count, count, None, tuple(problems))

    # -- the meta collection ---------------------------------------------------------------
    def _has_meta(self) -> bool:
        return bool(call(self.location, lambda: self.client.collection_exists(self.meta)))

    def _ensure_meta(self) -> None:
        if not self._has_meta():
            call(self.location, lambda: schema.create_meta_collection(self.client, self.meta))

    def _meta_record(self, point_id: int) -> dict[str, Any] | None:
        if not self._has_meta():
            return None
        found = call(self.location, lambda: self.client.retrieve(self.meta, [point_id]))
        return dict(found[0].payload or {}) if found else None

    def _generation_record(self, name: str) -> dict[str, Any]:
        record = self._meta_record(int(name.lstrip("g")))
        if record is None:
            raise IndexCorrupt(f"generation {name} of {self.name} is not in {self.meta} at "
                               f"{self.location}; run `search index --rebuild`")
        return record

    def _generations(self) -> tuple[list[int], list[int]]:
        """The generations recorded, and those leased by readers (expired leases go)."""
        ids: list[int] = []
        leased: list[int] = []
        offset: Any = None
        now = time.time()
        while True:
            batch, offset = self.client.scroll(self.meta, limit=256, offset=offset,
                                               with_payload=["lease", "since"])
            for point in batch:
                number, payload = int(point.id), point.payload or {}
                if number >= schema.FIRST_LEASE_ID:
                    if now - float(payload.get("since", 0)) < LEASE_SECONDS:
                        leased.append(int(payload["lease"]))
                    else:
                        self.client.delete(self.meta, points_selector=models.PointIdsList(
                            points=[number]), wait=True)
                elif number != schema.CURRENT_ID:
                    ids.append(number)
            if offset is None:
                return sorted(ids), leased

    def _last_generation(self) -> int:
        with reported(self.location):
            return max(self._generations()[0], default=0)


def factory(index_dir: Path, options: dict[str, Any], settings: object) -> QdrantBackend:
    """The registry's way to make one, from the options recorded in the index folder: a
    `location` (URL or folder; by default the folder `qdrant` inside the index folder) and
    the collections' `name`. The API key comes from QDRANT_API_KEY."""
    import os

    location = str(options.get("location") or Path(index_dir) / "qdrant")
    return QdrantBackend(index_dir, location, str(options.get("name", "search")),
                         os.environ.get("QDRANT_API_KEY") or None)
