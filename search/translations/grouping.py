"""Group new paragraphs with their translations, among themselves and in the groups of the
previous generation, without regrouping the rest of the index.

1. Neighbours: each new paragraph's nearest paragraphs of other languages and articles by
   language-centered cosine, among the new ones (an exact in-memory search) and in the
   previous generation (its own vector search).
2. Article pairs: an article whose paragraphs find at least `min_votes` of their neighbours
   in one other article is aligned with it (alignment.py), and the aligned pairs that score
   above `aligned_bar` are links: the order of paragraphs is evidence.
3. Lone pairs: any neighbour scoring above `lone_bar` (higher) is a link too.
4. Assignment (assignment.py): links best first, one paragraph per language and article.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from search.translations.alignment import align
from search.translations.assignment import Link, Member, assign
from search.translations.evidence import Anchors, anchor_score, pair_scores


@dataclass(frozen=True)
class Passage:
    """A paragraph as grouping needs it."""

    pid: int
    article_id: str
    lang: str
    position: int
    anchors: Anchors

    def member(self) -> Member:
        return Member(self.pid, self.lang, self.article_id)


@dataclass(frozen=True)
class GroupingParams:
    neighbours: int = 20  # per new paragraph, from the new ones and from the previous index
    min_votes: int = 2  # neighbours in one article that make it a candidate translation
    aligned_bar: float = 0.3  # score of a pair on the alignment of two articles
    lone_bar: float = 0.6  # score of a pair on its own


class Previous(Protocol):
    """The previous generation, as grouping reads it (removed paragraphs already left out)."""

    def nearest(self, centered: np.ndarray, limit: int) -> list[list[int]]:
        """For each centered query row, up to `limit` pids by decreasing similarity."""
        ...

    def passages(self, pids: Sequence[int]) -> list[Passage]: ...

    def centered(self, pids: Sequence[int]) -> np.ndarray:
        """Their language-centered unit vectors."""
        ...

    def article_pids(self, article_id: str) -> list[int]: ...

    def groups(self, pids: Sequence[int]) -> dict[int, int]:
        """The group id of each pid, as after the removals."""
        ...

    def group_members(self, group_ids: Sequence[int]) -> dict[int, list[int]]: ...


class _Pool:
    """Passages and centered vectors met so far, new and old, by pid."""

    def __init__(self, new: Sequence[Passage], vectors: np.ndarray,
                 previous: Previous | None) -> None:
        self.previous = previous
        self.passage = {p.pid: p for p in new}
        self.row = {p.pid: i for i, p in enumerate(new)}
        self.vectors = [np.asarray(vectors, dtype=np.float32)]
        self.count = len(new)
        self.by_article: dict[str, list[int]] = {}
        for p in new:
            self.by_article.setdefault(p.article_id, []).append(p.pid)

    def load(self, pids: Sequence[int]) -> None:
        missing = list(dict.fromkeys(pid for pid in pids if pid not in self.passage))
        if not missing or self.previous is None:
            return
        for p in self.previous.passages(missing):
            self.passage[p.pid] = p
        self.vectors.append(self.previous.centered(missing))
        for pid in missing:
            self.row[pid] = self.count
            self.count += 1

    def matrix(self, pids: Sequence[int]) -> np.ndarray:
        table = np.concatenate(self.vectors) if len(self.vectors) > 1 else self.vectors[0]
        self.vectors = [table]
        return table[[self.row[pid] for pid in pids]]

    def article(self, article_id: str) -> list[int]:
        if article_id not in self.by_article and self.previous is not None:
            pids = self.previous.article_pids(article_id)
            self.load(pids)
            self.by_article[article_id] = pids
        return self.by_article.get(article_id, [])


def nearest_new(centered: np.ndarray, limit: int) -> list[list[int]]:
    """Each row's nearest other rows by inner product, exactly (FAISS flat: n^2 d work,
    seconds at 10^4 rows, about a minute at 10^5 on two cores)."""
    import faiss

    rows = np.ascontiguousarray(centered, dtype=np.float32)
    if not len(rows):
        return []
    index = faiss.IndexFlatIP(rows.shape[1])
    index.add(rows)
    _, found = index.search(rows, min(limit + 1, len(rows)))
    return [[int(j) for j in row if j >= 0 and j != i] for i, row in enumerate(found)]


def group_new(new: Sequence[Passage], centered: np.ndarray, previous: Previous | None,
              params: GroupingParams | None = None) -> dict[int, int]:
    """The group id of every new paragraph and of every old one whose group id changes
    (when new paragraphs join two old groups into one)."""
    params = params or GroupingParams()
    pool = _Pool(new, centered, previous)
    wide = params.neighbours * 3  # room for the same-language and same-article ones
    candidates: dict[int, list[int]] = {}
    for p, rows in zip(new, nearest_new(centered, wide), strict=True):
        candidates[p.pid] = [new[j].pid for j in rows]
    if previous is not None and len(new):
        for p, found in zip(new, previous.nearest(centered, wide), strict=True):
            pool.load(found)
            candidates[p.pid] += found
    for p in new:
        mine = [q for q in candidates[p.pid] if _apart(p, pool.passage[q])]
        cos = pool.matrix([p.pid]) @ pool.matrix(mine).T if mine else np.zeros((1, 0))
        order = np.argsort(-cos[0], kind="stable")[: params.neighbours * 2]
        candidates[p.pid] = [mine[i] for i in order]
    links = _lone_links(new, candidates, pool, params)
    links += _aligned_links(new, candidates, pool, params)
    return _assigned(new, links, pool, previous)


def _apart(first: Passage, second: Passage) -> bool:
    return first.lang != second.lang and first.article_id != second.article_id


def _lone_links(new: Sequence[Passage], candidates: dict[int, list[int]], pool: _Pool,
                params: GroupingParams) -> list[Link]:
    links = []
    for p in new:
        found = candidates[p.pid]
        if not found:
            continue
        cos = (pool.matrix([p.pid]) @ pool.matrix(found).T)[0]
        for q, c in zip(found, cos.tolist(), strict=True):
            score = c + anchor_score(p.anchors, pool.passage[q].anchors)
            if score >= params.lone_bar:
                links.append(Link(p.pid, q, score))
    return links


def _aligned_links(new: Sequence[Passage], candidates: dict[int, list[int]], pool: _Pool,
                   params: GroupingParams) -> list[Link]:
    votes: dict[str, Counter[str]] = {}
    for p in new:
        seen = {pool.passage[q].article_id for q in candidates[p.pid][: params.neighbours]}
        votes.setdefault(p.article_id, Counter()).update(seen)
    links: list[Link] = []
    done: set[tuple[str, str]] = set()
    for article, counts in votes.items():
        for other, count in sorted(counts.items()):
            pair = (min(article, other), max(article, other))
            if count < params.min_votes or pair in done:
                continue
            done.add(pair)
            links += _align_articles(pool.article(article), pool.article(other), pool, params)
    return links


def _align_articles(first: list[int], second: list[int], pool: _Pool,
                    params: GroupingParams) -> list[Link]:
    """Links along the monotone alignment of two articles (paragraphs in position order),
    when it matches at least two pairs."""
    first = sorted(first, key=lambda pid: pool.passage[pid].position)
    second = sorted(second, key=lambda pid: pool.passage[pid].position)
    scores = pair_scores(pool.matrix(first), [pool.passage[p].anchors for p in first],
                         pool.matrix(second), [pool.passage[q].anchors for q in second])
    for i, p in enumerate(first):
        for j, q in enumerate(second):
            if pool.passage[p].lang == pool.passage[q].lang:
                scores[i, j] = -np.inf
    pairs = align(scores, params.aligned_bar)
    if len(pairs) < 2:
        return []
    return [Link(first[i], second[j], float(scores[i, j])) for i, j in pairs]


def _assigned(new: Sequence[Passage], links: list[Link], pool: _Pool,
              previous: Previous | None) -> dict[int, int]:
    """Assignment over the new paragraphs and the old groups the links reach; the group ids
    that are new or changed."""
    new_pids = {p.pid for p in new}
    old = sorted({pid for link in links for pid in (link.first, link.second)} - new_pids)
    existing: dict[int, int] = {}
    if previous is not None and old:
        of_old = previous.groups(old)
        members = previous.group_members(sorted(set(of_old.values())))
        existing = {pid: group for group, pids in members.items() for pid in pids}
        existing.update(of_old)
        pool.load(list(existing))
    members_all = [pool.passage[pid].member() for pid in [*new_pids, *existing]]
    result = assign(members_all, existing, links)
    return {pid: group for pid, group in result.items()
            if pid in new_pids or existing.get(pid) != group}
