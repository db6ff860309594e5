"""One published generation of the in-memory backend, and the reader that answers from it.

A `Generation` is built once from a writer's contents and never changes afterwards, so any
number of readers may share it across threads without locks.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from math import log

import numpy as np

from search.analysis import field_language, tokens
from search.backends.facts import compose_facts
from search.backends.group_table import GroupTable
from search.records import (
    ArticleRecord,
    Candidate,
    Catalog,
    CheckReport,
    Facts,
    Filters,
    ParagraphColumns,
    ParagraphRecord,
)

BM25_K1 = 1.2
BM25_B = 0.75


@dataclass(frozen=True)
class Analyzed:
    """A paragraph as the keyword side sees it: its analysis language and term counts."""

    code: str
    counts: Mapping[str, int]
    length: int

    @classmethod
    def of(cls, title: str, text: str, lang: str) -> Analyzed:
        """Title and text analyzed together with the paragraph's language analyzer."""
        terms = tokens(f"{title}\n{text}", lang)
        return cls(field_language(lang), dict(Counter(terms)), len(terms))


@dataclass(frozen=True)
class Contents:
    """Everything a generation stores; the writer hands over its own copies."""

    articles: Mapping[str, ArticleRecord]
    paragraphs: Mapping[int, ParagraphRecord]
    vectors: Mapping[int, np.ndarray]  # read-only float32 rows
    analyzed: Mapping[int, Analyzed]
    groups: Mapping[int, int]  # translation group of paragraphs that are not alone


class _Language:
    """BM25 statistics of one analysis language: the documents of the other languages never
    count, as in the local backend, so a small language is not under-weighted."""

    def __init__(self, docs: Mapping[int, Analyzed]) -> None:
        self.docs = len(docs)
        self.lengths = {pid: doc.length for pid, doc in docs.items()}
        self.average = sum(self.lengths.values()) / self.docs or 1.0
        self.postings: dict[str, dict[int, int]] = {}
        for pid, doc in docs.items():
            for term, count in doc.counts.items():
                self.postings.setdefault(term, {})[pid] = count

    def score(self, terms: Sequence[str], scores: dict[int, float],
              coverage: dict[int, float]) -> None:
        """Add the BM25 score of each document matching any of `terms` to `scores`, and to
        `coverage` its share of the distinct terms (no postings budget here)."""
        distinct = dict.fromkeys(terms)
        for term in distinct:
            postings = self.postings.get(term)
            if not postings:
                continue
            for pid in postings:
                coverage[pid] = coverage.get(pid, 0.0) + 1.0 / len(distinct)
            df = len(postings)
            idf = log(1.0 + (self.docs - df + 0.5) / (df + 0.5))
            for pid, tf in postings.items():
                norm = BM25_K1 * (1.0 - BM25_B + BM25_B * self.lengths[pid] / self.average)
                scores[pid] = scores.get(pid, 0.0) + idf * tf * (BM25_K1 + 1.0) / (tf + norm)


class Generation:
    """A complete, immutable generation: the catalog, the stored records and their indexes."""

    def __init__(self, catalog: Catalog, contents: Contents) -> None:
        self.catalog = catalog
        self.contents = contents
        by_code: dict[str, dict[int, Analyzed]] = {}
        for pid, doc in contents.analyzed.items():
            by_code.setdefault(doc.code, {})[pid] = doc
        self._languages = {code: _Language(docs) for code, docs in sorted(by_code.items())}
        self._pids = np.array(sorted(contents.vectors), dtype=np.int64)
        rows = [contents.vectors[int(pid)] for pid in self._pids]
        matrix = np.array(rows, dtype=np.float64).reshape(len(rows), catalog.dim)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self._unit = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
        self.groups = GroupTable(contents.groups)

    @property
    def name(self) -> str:
        return self.catalog.name

    def keyword(self, text: str, limit: int, filters: Filters) -> list[Candidate]:
        """BM25 over title + text; the query analyzed the way of each language present."""
        if limit <= 0 or not text.strip():
            return []
        scores: dict[int, float] = {}
        coverage: dict[int, float] = {}
        for code, language in self._languages.items():
            language.score(tokens(text, code), scores, coverage)
        return self._best(scores.items(), limit, filters, coverage)

    def nearest(self, vector: np.ndarray, limit: int, filters: Filters) -> list[Candidate]:
        """Every stored vector by cosine with `vector` (brute force, exact)."""
        if limit <= 0 or not self._pids.size:
            return []
        query = np.asarray(vector, dtype=np.float64).reshape(-1)
        if query.shape != (self.catalog.dim,):
            raise ValueError(f"a {self.catalog.dim}-d vector is needed, not {query.shape}")
        norm = float(np.linalg.norm(query))
        if norm == 0.0:
            return []
        scores = self._unit @ (query / norm)
        return self._best(zip(self._pids.tolist(), scores.tolist(), strict=True), limit, filters)

    def _best(self, scored: Iterable[tuple[int, float]], limit: int, filters: Filters,
              coverage: Mapping[int, float] | None = None) -> list[Candidate]:
        pairs = [(pid, score) for pid, score in scored
                 if filters.is_empty() or self.admits(pid, filters)]
        pairs.sort(key=lambda pair: (-pair[1], pair[0]))
        return [Candidate(int(pid), float(score),
                          None if coverage is None else min(1.0, round(coverage[pid], 6)))
                for pid, score in pairs[:limit]]

    def admits(self, pid: int, filters: Filters) -> bool:
        paragraph = self.contents.paragraphs[pid]
        article = self.contents.articles[paragraph.article_id]
        return filters.admits(paragraph.lang, article.id, article.source, article.date)

    def check(self, index_dir: str) -> CheckReport:
        """Compare the catalog with what is stored."""
        catalog, stored = self.catalog, self.contents
        problems: list[str] = []

        def compare(what: str, listed: object, found: object) -> None:
            if listed != found:
                problems.append(f"the catalog lists {what} {listed}, storage holds {found}")

        compare("articles", catalog.articles, len(stored.articles))
        compare("paragraphs", catalog.paragraphs, len(stored.paragraphs))
        compare("languages", catalog.languages,
                dict(sorted(Counter(p.lang for p in stored.paragraphs.values()).items())))
        listed = {pid for entry in catalog.files.values() for pid in entry.pids}
        if listed != set(stored.paragraphs):
            problems.append(f"{len(listed ^ set(stored.paragraphs))} paragraph ids differ "
                            "between the catalog's files and storage")
        if any(pid >= catalog.next_pid for pid in stored.paragraphs):
            problems.append(f"paragraph ids at or above next_pid {catalog.next_pid}")
        if set(stored.vectors) != set(stored.paragraphs):
            problems.append("the paragraphs with vectors are not the stored paragraphs")
        if any(v.shape != (catalog.dim,) for v in stored.vectors.values()):
            problems.append(f"vectors that are not {catalog.dim}-d")
        if set(stored.analyzed) != set(stored.paragraphs):
            problems.append("the keyword side does not hold the stored paragraphs")
        return CheckReport(
            index_dir, catalog.name, catalog.model, catalog.dim, len(stored.articles),
            len(stored.paragraphs), len(stored.vectors), len(stored.analyzed), None,
            tuple(problems),
        )


class MemoryReader:
    """A generation open for reading; closing it lets garbage collection drop the generation."""

    def __init__(self, generation: Generation, release: Callable[[], None]) -> None:
        self.catalog = generation.catalog
        self._generation = generation
        self._release = release
        self._closed = False
        self._lock = threading.Lock()

    @property
    def approximate(self) -> bool:
        return False

    def keyword_candidates(self, text: str, lang: str, limit: int,
                           filters: Filters) -> list[Candidate]:
        # `lang` is not used, as in the local backend: every language is searched its own way.
        return self._with_langs(self._generation.keyword(text, limit, filters))

    def vector_candidates(self, vector: np.ndarray, limit: int,
                          filters: Filters) -> list[Candidate]:
        return self._with_langs(self._generation.nearest(vector, limit, filters))

    def _with_langs(self, found: list[Candidate]) -> list[Candidate]:
        return [replace(c, lang=lang)
                for c, lang in zip(found, self.langs([c.pid for c in found]), strict=True)]

    def vector(self, pid: int) -> np.ndarray:
        return self._generation.contents.vectors[pid].copy()

    def paragraphs(self, pids: Sequence[int]) -> list[ParagraphRecord]:
        stored = self._generation.contents.paragraphs
        return [stored[pid] for pid in pids]

    def langs(self, pids: Sequence[int]) -> list[str]:
        return [paragraph.lang for paragraph in self.paragraphs(pids)]

    def article_ids(self, pids: Sequence[int]) -> list[str]:
        return [paragraph.article_id for paragraph in self.paragraphs(pids)]

    def article(self, article_id: str) -> ArticleRecord | None:
        return self._generation.contents.articles.get(article_id)

    def articles(self, article_ids: Sequence[str]) -> list[ArticleRecord | None]:
        return [self.article(article_id) for article_id in article_ids]

    def groups(self, pids: Sequence[int]) -> list[int]:
        self.paragraphs(pids)  # KeyError for a pid not in this generation
        return self._generation.groups.groups(pids)

    def group_members(self, group_ids: Sequence[int]) -> dict[int, list[int]]:
        stored = self._generation.contents.paragraphs
        return self._generation.groups.members(group_ids, stored.__contains__)

    def facts(self, pids: Sequence[int]) -> Facts:
        return compose_facts(pids, self.groups, self.group_members, self._located,
                             self.articles)

    def columns(self, pids: Sequence[int]) -> ParagraphColumns:
        found = self.paragraphs(pids)
        articles = [self._generation.contents.articles[p.article_id] for p in found]
        return ParagraphColumns([p.lang for p in found], [p.article_id for p in found],
                                self.groups(pids), [a.date for a in articles],
                                [a.source for a in articles])

    def _located(self, pids: Sequence[int]) -> list[tuple[str, int, str]]:
        return [(p.article_id, p.position, p.lang) for p in self.paragraphs(pids)]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._release()
