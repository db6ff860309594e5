"""What one query has read of its candidates: the reader is asked once per stage, for every
pid the stage needs that the query does not hold yet: the few columns counting needs of
every candidate (GenerationReader.columns), the whole facts and translation groups of those
it ranks first, judges by their translations or shows (GenerationReader.facts)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from search.backends.base import GenerationReader
from search.records import ParagraphColumns, ParagraphFacts
from search.results import Translation


class KnownFacts:
    """The facts a query has read, by pid, and its candidates' translation groups."""

    def __init__(self, reader: GenerationReader) -> None:
        self._reader = reader
        self._facts: dict[int, ParagraphFacts] = {}
        self._members: dict[int, tuple[int, ...]] = {}
        # The columns read, a list per field, and each pid's row in them: a count reads
        # thousands, and picks them again in its order.
        self._columns = ParagraphColumns([], [], [], [], [])
        self._row: dict[int, int] = {}
        self._langs: dict[int, str] = {}  # languages of pids read for nothing else

    def columns(self, pids: Sequence[int]) -> ParagraphColumns:
        """The columns of `pids`, in that order, reading those not known yet in one call
        (GenerationReader.columns: what counting needs of every candidate, without the
        members of their groups)."""
        row, facts, held = self._row, self._facts, self._columns
        missing = [pid for pid in dict.fromkeys(pids) if pid not in row and pid not in facts]
        if missing:
            self._extend(missing, self._reader.columns(missing))
        also = [pid for pid in dict.fromkeys(pids) if pid not in row]  # read as facts
        if also:
            read = [facts[pid] for pid in also]
            self._extend(also, ParagraphColumns(
                [f.lang for f in read], [f.article_id for f in read], [f.group for f in read],
                [f.date for f in read], [f.source for f in read]))
        at = [row[pid] for pid in pids]
        return ParagraphColumns([held.langs[i] for i in at], [held.article_ids[i] for i in at],
                                [held.groups[i] for i in at], [held.dates[i] for i in at],
                                [held.sources[i] for i in at])

    def _extend(self, pids: list[int], found: ParagraphColumns) -> None:
        held = self._columns
        self._row.update(zip(pids, range(len(held.langs), len(held.langs) + len(pids)),
                             strict=True))
        held.langs.extend(found.langs)
        held.article_ids.extend(found.article_ids)
        held.groups.extend(found.groups)
        held.dates.extend(found.dates)
        held.sources.extend(found.sources)

    def langs(self, pids: Sequence[int]) -> list[str]:
        """The language of each of `pids`, reading those not known yet in one call
        (GenerationReader.langs: the members of a thousand candidates' groups are judged by
        it alone)."""
        known, row, facts = self._langs, self._row, self._facts
        missing = [pid for pid in dict.fromkeys(pids)
                   if pid not in known and pid not in row and pid not in facts]
        if missing:
            known.update(zip(missing, self._reader.langs(missing), strict=True))
        langs = self._columns.langs
        return [langs[row[pid]] if pid in row else facts[pid].lang if pid in facts
                else known[pid] for pid in pids]

    def members(self, groups: Sequence[int]) -> dict[int, tuple[int, ...]]:
        """The members of each of `groups`, in pid order, reading the groups not known yet
        in one call."""
        known = self._members
        missing = [group for group in dict.fromkeys(groups) if group not in known]
        if missing:
            found = self._reader.group_members(missing)
            known.update((group, tuple(found.get(group, ()))) for group in missing)
        return {group: known[group] for group in groups}

    def read(self, pids: Iterable[int]) -> None:
        """Read the facts of the pids not read yet, in one call."""
        missing = [pid for pid in dict.fromkeys(pids) if pid not in self._facts]
        if missing:
            found = self._reader.facts(missing)
            self._facts.update(found.paragraphs)
            self._members.update(found.members)

    def of(self, pids: Sequence[int]) -> list[ParagraphFacts]:
        self.read(pids)
        return [self._facts[pid] for pid in pids]

    def partners(self, pids: Sequence[int]) -> list[list[int]]:
        """For each of `pids`, the other members of its translation group (one per
        language)."""
        return [[m for m in self._members.get(fact.group, ()) if m != fact.pid]
                for fact in self.of(pids)]

    def translations(self, pids: Sequence[int]) -> list[tuple[Translation, ...]]:
        """For each of `pids`, the other members of its translation group, by language."""
        rows = self.partners(pids)
        self.read(m for row in rows for m in row)
        return [tuple(sorted((_translation(self._facts[m]) for m in row),
                             key=lambda t: (t.lang, t.paragraph_id)))
                for row in rows]


def _translation(fact: ParagraphFacts) -> Translation:
    return Translation(fact.paragraph_id, fact.article_id, fact.position, fact.lang, fact.title)
