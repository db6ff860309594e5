"""From scored links between paragraphs to groups: one paragraph per language and per article.

Links are taken best first; a link joins two groups when together they still hold at most one
paragraph of each language and of each article. A group's id is its smallest pid: ids grow,
so a group that new paragraphs join keeps its id, and only a group whose first member goes
changes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    """A paragraph as grouping sees it."""

    pid: int
    lang: str
    article_id: str


@dataclass(frozen=True)
class Link:
    """Evidence that two paragraphs say the same thing; higher scores are taken first."""

    first: int
    second: int
    score: float


class _Groups:
    """Union-find over members, each root knowing its group's languages and articles."""

    def __init__(self, members: Iterable[Member]) -> None:
        self.parent: dict[int, int] = {}
        self.langs: dict[int, set[str]] = {}
        self.articles: dict[int, set[str]] = {}
        for member in members:
            self.parent[member.pid] = member.pid
            self.langs[member.pid] = {member.lang}
            self.articles[member.pid] = {member.article_id}

    def root(self, pid: int) -> int:
        while self.parent[pid] != pid:
            self.parent[pid] = self.parent[self.parent[pid]]
            pid = self.parent[pid]
        return pid

    def join(self, first: int, second: int) -> bool:
        """Join the groups of two paragraphs if they can hold each other; whether they did."""
        a, b = self.root(first), self.root(second)
        if a == b or self.langs[a] & self.langs[b] or self.articles[a] & self.articles[b]:
            return False
        a, b = min(a, b), max(a, b)
        self.parent[b] = a
        self.langs[a] |= self.langs.pop(b)
        self.articles[a] |= self.articles.pop(b)
        return True


def assign(members: Sequence[Member], existing: Mapping[int, int],
           links: Iterable[Link]) -> dict[int, int]:
    """The group id of every member.

    members: every paragraph that a link names, and every member of an existing group that
    one of them is in. existing: the group id of paragraphs already grouped (the old
    generation's, without the removed paragraphs); these groups are kept and may grow.
    """
    groups = _Groups(members)
    by_group: dict[int, list[int]] = {}
    for pid, group in existing.items():
        by_group.setdefault(group, []).append(pid)
    for pids in by_group.values():
        for pid in pids[1:]:
            groups.join(pids[0], pid)
    for link in sorted(links, key=lambda k: (-k.score, min(k.first, k.second),
                                             max(k.first, k.second))):
        if link.first in groups.parent and link.second in groups.parent:
            groups.join(link.first, link.second)
    return {member.pid: groups.root(member.pid) for member in members}


def after_removal(removed: Iterable[int], members: Mapping[int, Sequence[int]]
                  ) -> dict[int, int]:
    """The new group id of the remaining members of groups that lost paragraphs, for the
    groups whose smallest pid went (members: each touched group's members)."""
    gone = set(removed)
    changed: dict[int, int] = {}
    for group, pids in members.items():
        left = sorted(pid for pid in pids if pid not in gone)
        if left and left[0] != group:
            changed.update((pid, left[0]) for pid in left)
    return changed
