"""The updater's grouping step: removed paragraphs leave their groups, new ones join their
translations' groups (search/translations/), and the writer stores what changed.

It runs after the new vectors are known and before publishing, reading the previous
generation through its own reader; only the groups that removed or new paragraphs touch
change, never the rest of the index.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from search.backends.base import GenerationReader, GenerationWriter
from search.encoders.centering import LanguageCentroids
from search.records import Filters, NewArticle
from search.translations import GroupingParams, Passage, after_removal, anchors_of, group_new

# A language's mean is used for centering only once it is the mean of this many paragraphs:
# the mean of a few articles is mostly their topic, and subtracting it would hide the very
# likeness between translations that grouping looks for.
MIN_CENTERED = 50


class NewPassages:
    """The new paragraphs as grouping needs them, noted as their articles stream past."""

    def __init__(self) -> None:
        self.passages: list[Passage] = []
        self.seconds = 0.0

    def noting(self, articles: Iterable[NewArticle]) -> Iterator[NewArticle]:
        for article in articles:
            started = time.perf_counter()
            self.passages.extend(Passage(p.pid, article.id, p.lang, p.position,
                                         anchors_of(p.text)) for p in article.paragraphs)
            self.seconds += time.perf_counter() - started
            yield article


def centering_statistics(previous: LanguageCentroids | None, vectors: np.ndarray,
                         langs: Sequence[str]) -> LanguageCentroids:
    """`previous` statistics plus the vectors, restricted to the languages with enough
    paragraphs to trust their mean."""
    return trusted((previous or LanguageCentroids()).added(vectors, langs))


def trusted(stats: LanguageCentroids) -> LanguageCentroids:
    """The statistics of the languages with enough paragraphs to trust their mean."""
    kept = [lang for lang, count in stats.counts.items() if count >= MIN_CENTERED]
    return LanguageCentroids({lang: stats.sums[lang] for lang in kept},
                             {lang: stats.counts[lang] for lang in kept})


class _Previous:
    """The previous generation as grouping reads it: without the removed paragraphs, with
    the groups they leave renamed (`search.translations.grouping.Previous`)."""

    def __init__(self, reader: GenerationReader, removed: set[int],
                 renamed: dict[int, int], centroids: LanguageCentroids) -> None:
        self.reader = reader
        self.removed = removed
        self.renamed = renamed  # old group id -> new
        self.original = {new: old for old, new in renamed.items()}
        self.centroids = centroids

    def nearest(self, centered: np.ndarray, limit: int) -> list[list[int]]:
        found = []
        for row in centered:
            candidates = self.reader.vector_candidates(row, limit, Filters())
            found.append([c.pid for c in candidates if c.pid not in self.removed])
        return found

    def passages(self, pids: Sequence[int]) -> list[Passage]:
        return [Passage(r.pid, r.article_id, r.lang, r.position, anchors_of(r.text))
                for r in self.reader.paragraphs(pids)]

    def centered(self, pids: Sequence[int]) -> np.ndarray:
        if not pids:
            return np.zeros((0, self.reader.catalog.dim), dtype=np.float32)
        vectors = np.stack([self.reader.vector(pid) for pid in pids])
        return self.centroids.center(vectors, self.reader.langs(pids))

    def article_pids(self, article_id: str) -> list[int]:
        article = self.reader.article(article_id)
        if article is None:
            return []
        return [pid for pid in article.paragraph_pids if pid not in self.removed]

    def groups(self, pids: Sequence[int]) -> dict[int, int]:
        return {pid: self.renamed.get(group, group)
                for pid, group in zip(pids, self.reader.groups(pids), strict=True)}

    def group_members(self, group_ids: Sequence[int]) -> dict[int, list[int]]:
        asked = {self.original.get(group, group): group for group in group_ids}
        members = self.reader.group_members(list(asked))
        return {asked[old]: [pid for pid in pids if pid not in self.removed]
                for old, pids in members.items()}


def update_groups(writer: GenerationWriter, reader: GenerationReader | None,
                  removed: Sequence[int], new: NewPassages, new_pids: np.ndarray,
                  vectors: np.ndarray, centroids: LanguageCentroids,
                  params: GroupingParams | None = None) -> float:
    """Regroup what the run changed and set it on the writer (after its removals); the
    seconds it took, noting the new paragraphs included. `centroids` are the new
    generation's language statistics."""
    started = time.perf_counter()
    gone = set(int(pid) for pid in removed)
    renamed: dict[int, int] = {}
    if reader is not None and gone:
        members = reader.group_members(sorted(set(reader.groups(sorted(gone)))))
        changes = after_removal(gone, members)
        _set(writer, changes)
        renamed = {group: changes[pid] for group, pids in members.items()
                   for pid in pids if pid in changes}
    by_pid = {p.pid: p for p in new.passages}
    passages = [by_pid[int(pid)] for pid in new_pids]
    langs = [p.lang for p in passages]
    stats = trusted(centroids)
    centered = stats.center(vectors, langs)
    previous = None if reader is None else _Previous(reader, gone, renamed, stats)
    _set(writer, group_new(passages, centered, previous, params))
    return time.perf_counter() - started + new.seconds


def _set(writer: GenerationWriter, groups: dict[int, int]) -> None:
    if groups:
        pids = sorted(groups)
        writer.set_groups(pids, [groups[pid] for pid in pids])
