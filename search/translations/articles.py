"""Article-level groups: an article's versions in other languages, from its paragraphs'."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MIN_SHARE = 0.5


@dataclass(frozen=True)
class ArticleVersion:
    """Another article sharing groups with one: how many of its grouped paragraphs."""

    article_id: str
    shared: int


def article_versions(article_id: str, pids: Sequence[int], groups: Mapping[int, int],
                     members: Mapping[int, Sequence[int]], article_of: Mapping[int, str],
                     min_share: float = MIN_SHARE) -> list[ArticleVersion]:
    """The other articles holding a translation of at least `min_share` of this article's
    grouped paragraphs (those with a group of more than one member), most shared first, ties
    by id.

    pids: the article's paragraphs; groups: the group id of each; members: the members of
    each of those groups; article_of: the article of each member.
    """
    grouped = [pid for pid in pids if len(members.get(groups[pid], ())) > 1]
    if not grouped:
        return []
    shared: Counter[str] = Counter()
    for pid in grouped:
        shared.update({article_of[m] for m in members[groups[pid]]} - {article_id})
    need = min_share * len(grouped)
    found = [ArticleVersion(other, count) for other, count in shared.items() if count >= need]
    return sorted(found, key=lambda v: (-v.shared, v.article_id))
