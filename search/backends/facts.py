"""`GenerationReader.facts` composed from a reader's own cheap lookups, for backends whose
lookups are in process (the local one, the memory one of the tests): no round trips to save,
so one composition serves them all."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from search.records import ArticleRecord, Facts, ParagraphFacts


def compose_facts(pids: Sequence[int], groups: Callable[[Sequence[int]], list[int]],
                  members: Callable[[Sequence[int]], dict[int, list[int]]],
                  located: Callable[[Sequence[int]], list[tuple[str, int, str]]],
                  articles: Callable[[Sequence[str]], list[ArticleRecord | None]]) -> Facts:
    """Facts from `groups`, `members` (of group ids), `located` ((article id, position,
    language) of each pid) and `articles` (records of article ids)."""
    asked = list(dict.fromkeys(int(pid) for pid in pids))
    group_of = dict(zip(asked, groups(asked), strict=True))
    found = {group: tuple(row) for group, row in members(sorted(set(group_of.values()))).items()}
    others = [m for row in found.values() for m in row if m not in group_of]
    others = list(dict.fromkeys(others))
    group_of.update(zip(others, groups(others), strict=True))
    every = list(group_of)
    places = dict(zip(every, located(every), strict=True))
    wanted = list(dict.fromkeys(article_id for article_id, _, _ in places.values()))
    records = dict(zip(wanted, articles(wanted), strict=True))
    facts = {}
    for pid in every:
        article_id, position, lang = places[pid]
        article = records[article_id]
        if article is None:  # a reader always holds the articles of its paragraphs
            raise KeyError(article_id)
        facts[pid] = ParagraphFacts(pid, article_id, position, lang, group_of[pid],
                                    article.title, article.date, article.source,
                                    article.place, article.url)
    return Facts(facts, found)
