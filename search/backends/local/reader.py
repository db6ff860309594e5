"""One local generation, open for reading: paragraphs, keyword index and vectors.

A reader never changes once opened. While open it holds a lease on its generation, so that
writers do not delete its files, and its segment files stay open for the texts of hits.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from contextlib import ExitStack

import numpy as np

from search.backends.facts import compose_facts
from search.backends.group_table import GroupTable
from search.backends.local.dense import DenseIndex
from search.backends.local.groups import read_groups
from search.backends.local.keyword import KeywordIndex
from search.backends.local.manifest import REBUILD_HINT, Manifest
from search.backends.local.paragraphs import Paragraphs, SegmentFiles, scan
from search.backends.local.store import IndexStore
from search.backends.local.vectors import load_dense
from search.errors import IndexCorrupt
from search.records import (
    ArticleRecord,
    Candidate,
    Facts,
    Filters,
    ParagraphColumns,
    ParagraphRecord,
)


class LocalReader:
    """A `GenerationReader` over Whoosh and FAISS. Use `LocalReader.load`."""

    def __init__(self, manifest: Manifest, paragraphs: Paragraphs, keyword: KeywordIndex,
                 dense: DenseIndex, ef_search: int, resources: ExitStack,
                 groups: GroupTable | None = None) -> None:
        self.manifest = manifest
        self.catalog = manifest.catalog
        self.paragraph_store = paragraphs
        self.keyword = keyword
        self.dense = dense
        self.ef_search = ef_search
        self._articles = {article.id: article for article in paragraphs.articles}
        self._matching = functools.lru_cache(maxsize=8)(paragraphs.matching)
        self._resources = resources
        self._groups = groups or GroupTable({})

    @classmethod
    def load(cls, store: IndexStore, name: str, ef_search: int) -> LocalReader:
        resources = ExitStack()
        try:
            resources.enter_context(store.lease(name))
            manifest = store.read_manifest(name)
            files = SegmentFiles()
            found = scan(store.segments, manifest, files, resources)
            keyword = KeywordIndex.open(store.keyword_dir(name))
            resources.callback(keyword.close)
            paragraphs = Paragraphs(found, files)
            dense = load_dense(store, manifest, found.vector_rows, paragraphs.pids)
            groups = GroupTable(read_groups(store.generations / name))
        except FileNotFoundError as exc:
            resources.close()
            raise IndexCorrupt(f"{store.root}: {exc.filename} is missing; {REBUILD_HINT}") from exc
        except BaseException:
            resources.close()
            raise
        return cls(manifest, paragraphs, keyword, dense, ef_search, resources, groups)

    @property
    def approximate(self) -> bool:
        return self.dense.approximate

    def keyword_candidates(self, text: str, lang: str, limit: int,
                           filters: Filters) -> list[Candidate]:
        return self.keyword.search(text, limit, self._allowed(filters), lang,
                                   self.paragraph_store.langs)

    def vector_candidates(self, vector: np.ndarray, limit: int,
                          filters: Filters) -> list[Candidate]:
        return self._with_langs(
            self.dense.search(vector, limit, self._allowed(filters), self.ef_search))

    def _with_langs(self, found: list[Candidate]) -> list[Candidate]:
        langs = self.paragraph_store.langs([c.pid for c in found])
        # Not dataclasses.replace: it costs ~30 times more, per candidate of every query.
        return [Candidate(c.pid, c.score, c.coverage, lang)
                for c, lang in zip(found, langs, strict=True)]

    def _allowed(self, filters: Filters) -> np.ndarray | None:
        """The pids that pass the filters (None: all), computed once for both sides and the
        feedback search of a query."""
        if filters.is_empty():
            return None
        return self._matching(filters)

    def vector(self, pid: int) -> np.ndarray:
        return self.dense.vector(pid)

    def paragraphs(self, pids: Sequence[int]) -> list[ParagraphRecord]:
        return self.paragraph_store.many(pids)

    def langs(self, pids: Sequence[int]) -> list[str]:
        return self.paragraph_store.langs(pids)

    def article_ids(self, pids: Sequence[int]) -> list[str]:
        return self.paragraph_store.article_ids(pids)

    def article(self, article_id: str) -> ArticleRecord | None:
        return self._articles.get(article_id)

    def articles(self, article_ids: Sequence[str]) -> list[ArticleRecord | None]:
        return [self._articles.get(article_id) for article_id in article_ids]

    def groups(self, pids: Sequence[int]) -> list[int]:
        self.paragraph_store.langs(pids)  # KeyError for a pid not in this generation
        return self._groups.groups(pids)

    def group_members(self, group_ids: Sequence[int]) -> dict[int, list[int]]:
        wanted = [int(group) for group in group_ids]
        return self._groups.members(wanted, self.paragraph_store.live(wanted).__contains__)

    def facts(self, pids: Sequence[int]) -> Facts:
        return compose_facts(pids, self.groups, self.group_members,
                             self.paragraph_store.located, self.articles)

    def columns(self, pids: Sequence[int]) -> ParagraphColumns:
        return self.paragraph_store.columns(pids, self._groups.groups)

    def close(self) -> None:
        self._resources.close()
