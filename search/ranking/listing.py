"""From a query's fused ranking to what it lists: its results in order, their shown scores,
the total, the facets, and the closest paragraphs when nothing matches.

The fused ranking (search.ranking.policy, over `Settings.window` candidates a side) decides
the order and is not changed here. What matches (search.ranking.matching) decides the rest:
`total` and the facets count the matches; a query without any lists nothing (the index has
nothing about it) and offers its closest paragraphs apart; a query with matches lists its
whole ranking, then the matches beyond the ranking window but within the count window (by
evidence). Date order lists the matches only, newest first; a recency boost reorders.

Shown scores are comparable across queries: a match's relative fused score (its fused score
over the best fused score of the query, so 1 for the first) times the query's best absolute
evidence (0.5..1, see search.ranking.matching), times its recency factor when a recency
boost is asked. So the first hit of a query whose words or meaning are plainly in the index
scores near 1, a weak match about 0.5, and a paragraph's score no longer owes its size to
min-max normalization alone. The closest non-matching paragraphs show their own evidence,
which is below 0.5.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple, TypeVar

from search.config import Settings
from search.encoders.calibration import SemanticFloors
from search.ranking.fusion import Fused
from search.ranking.known import KnownFacts
from search.ranking.matching import Matches, find_matches
from search.ranking.ordering import Collapse, Sort, newest_first, recency_factor
from search.ranking.query import Understood
from search.records import Candidate
from search.results import NO_SOURCE, UNDATED, Facets

T = TypeVar("T")


@dataclass(frozen=True)
class Listed:
    """A paragraph to show: its ranking evidence, shown score, coverage and evidence."""

    fused: Fused
    score: float
    coverage: float | None
    evidence: float | None  # None: not judged (a plain ranking shown as it is)
    recency: float | None


@dataclass(frozen=True)
class Listing:
    listed: list[Listed]
    total: int
    total_relation: str
    facets: Facets
    closest: list[Listed]


class _Ranked(NamedTuple):  # a tuple: a count makes one per match, frozen ones cost 3x
    pid: int
    relevance: float  # the fused score over the query's best, 0..1, times any recency factor
    fused: Fused | None  # None for a match beyond the ranking, made only if it is listed


def list_matches(q: Understood, known: KnownFacts, fused: Sequence[Fused],
                 keyword: Sequence[Candidate], semantic: Sequence[Candidate],
                 settings: Settings, floors: SemanticFloors, today: date) -> Listing:
    """The listing of a query. `fused` is its ranking; `keyword` and `semantic` are both
    sides' candidates over the count window (`settings.count_window`); `known` reads what
    the query's candidates need, once per stage."""
    # Every candidate's columns in one call (what counting and ordering read of them); the
    # whole facts of those shown are read with the page.
    known.columns([c.pid for c in (*keyword, *semantic)])
    matches = find_matches(keyword, semantic, settings.count_window, floors, q.text_lang,
                           settings.min_coverage, _members_in(q.text_lang, semantic, known))
    matched = matches.matched
    # In relevance order a query that matches lists its whole ranking (the weaker candidates
    # where the ranking puts them: a cross-lingual answer's cosine is often under the floor);
    # date order lists the matches only; a query without matches offers its ranking's first
    # page as its closest paragraphs.
    ordered, beyond = _relevance_order(fused, matches, keyword, semantic,
                                       everything=not matched or q.sort is Sort.RELEVANCE)
    pids = [item.pid for item in ordered]
    columns = known.columns(pids)
    article_ids = columns.article_ids
    dates = columns.dates
    factors: list[float | None] = [None] * len(ordered)
    indexed = list(range(len(ordered)))
    if q.recency is not None:
        factors = [recency_factor(d, today, q.recency) for d in dates]
        ordered = [_Ranked(item.pid, item.relevance * (factor or 1.0), item.fused)
                   for item, factor in zip(ordered, factors, strict=True)]
        indexed.sort(key=lambda i: (-ordered[i].relevance, i))
    if q.sort is Sort.DATE:
        indexed = newest_first(indexed, [dates[i] for i in indexed])
    if q.one_per_article:
        indexed = first_of_each(indexed, [article_ids[i] for i in indexed])
    if q.collapse is Collapse.TRANSLATIONS:
        preferred = set(q.filters.languages) or {q.lang}
        groups, langs = columns.groups, columns.langs
        indexed = represented(indexed, [groups[i] for i in indexed],
                              [langs[i] in preferred and (pids[i] in matched or not matched)
                               for i in indexed])
    relation = "eq" if matches.complete else "gte"
    if not matched:
        closest = [_listed(ordered[i].fused or beyond(pids[i]),
                           matches.evidence.get(pids[i], 0.0), matches, factors[i])
                   for i in indexed[: q.size]]
        return Listing([], 0, relation, Facets(), closest)
    best = matches.best()
    listed = [_listed(ordered[i].fused or beyond(pids[i]), best * ordered[i].relevance, matches,
                      factors[i]) for i in indexed]
    counted = [i for i, pid in enumerate(pids) if pid in matched]
    facets = _facets([columns.langs[i] for i in counted], [columns.sources[i] for i in counted],
                     [dates[i] for i in counted])
    return Listing(listed, len(counted), relation, facets, [])


def first_of_each(items: Sequence[T], keys: Sequence[Hashable]) -> list[T]:
    """The first item of each key, in order (`keys` gives each item's key)."""
    seen: set[Hashable] = set()
    first = []
    for item, key in zip(items, keys, strict=True):
        if key not in seen:
            seen.add(key)
            first.append(item)
    return first


def represented(items: Sequence[T], keys: Sequence[Hashable], preferred: Sequence[bool]
                ) -> list[T]:
    """Each key once, at the place of its first item, represented by its first preferred
    item if it has one, else by its first item (a story shown by its member in the query's
    language)."""
    chosen: dict[Hashable, int] = {}  # in the order of each key's first item
    for at, (key, liked) in enumerate(zip(keys, preferred, strict=True)):
        if key not in chosen or (liked and not preferred[chosen[key]]):
            chosen[key] = at
    return [items[at] for at in chosen.values()]


def _relevance_order(fused: Sequence[Fused], matches: Matches, keyword: Sequence[Candidate],
                     semantic: Sequence[Candidate], everything: bool
                     ) -> tuple[list[_Ranked], Callable[[int], Fused]]:
    """The matches (`everything`: all candidates) in ranking order, each with its fused score
    over the query's best, then the matches beyond the ranking window, by evidence, below
    the last one; and what makes the Fused of one beyond (its ranks on both sides), for
    those listed (one an article keeps few of thousands)."""
    matched = matches.matched
    top = max((item.score for item in fused), default=0.0)
    ranked = [_Ranked(item.pid, item.score / top if top > 0 else 0.0, item)
              for item in fused if everything or item.pid in matched]
    seen = {item.pid for item in fused}
    evidence = matches.evidence
    # Sorted as pairs, not by a key function: a count has thousands of matches beyond.
    beyond = [pid for _, pid in sorted((-evidence[pid], pid) for pid in matched
                                       if pid not in seen)]
    wanted = set(beyond)
    keyword_at = {c.pid: (rank, c.score) for rank, c in enumerate(keyword, start=1)
                  if c.pid in wanted} if wanted else {}
    semantic_at = {c.pid: (rank, c.score) for rank, c in enumerate(semantic, start=1)
                   if c.pid in wanted} if wanted else {}

    def fused_of(pid: int) -> Fused:
        k_rank, k_score = keyword_at.get(pid, (None, None))
        s_rank, s_score = semantic_at.get(pid, (None, None))
        return Fused(pid, 0.0, k_rank, k_score, s_rank, s_score)

    if beyond:
        last = ranked[-1].relevance if ranked else 1.0
        ranked += [_Ranked(pid, last * evidence[pid], None) for pid in beyond]
    return ranked, fused_of


def _listed(item: Fused, score: float, matches: Matches, factor: float | None) -> Listed:
    return Listed(item, round(score, 6), matches.coverage.get(item.pid),
                  round(matches.evidence.get(item.pid, 0.0), 6), factor)


def _facets(langs: Sequence[str], sources: Sequence[str | None],
            dates: Sequence[str | None]) -> Facets:
    """The facets of the matches, from their languages, sources and dates."""
    by_source = Counter(source or NO_SOURCE for source in sources)
    months = Counter(day[:7] if day else UNDATED for day in dates)
    month_order = sorted(months, key=lambda m: (m == UNDATED, [-ord(ch) for ch in m]))
    days = Counter(day[:10] if day else UNDATED for day in dates)
    return Facets(_by_count(Counter(langs)), _by_count(by_source),
                  {month: months[month] for month in month_order},
                  dict(sorted(days.items(), key=lambda item: (item[0] == UNDATED, item[0]))))


def _members_in(lang: str, semantic: Sequence[Candidate], known: KnownFacts
                ) -> dict[int, int]:
    """For the semantic candidates in another language than `lang`, the member of their
    translation group in `lang`, where there is one: read as columns and groups, not as
    whole facts (a query judges a thousand candidates, each with a member per language)."""
    others = [c.pid for c in semantic if c.lang != lang]
    groups = known.columns(others).groups
    rows = known.members(groups)
    everyone = list(dict.fromkeys(m for row in rows.values() for m in row))
    langs = dict(zip(everyone, known.langs(everyone), strict=True))
    found: dict[int, int] = {}
    for pid, group in zip(others, groups, strict=True):
        member = next((m for m in rows[group] if m != pid and langs[m] == lang), None)
        if member is not None:
            found[pid] = member
    return found


def _by_count(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
