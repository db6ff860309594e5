"""What one query has read of its candidates: the reader is asked once per stage, for every
pid the stage needs that the query does not hold yet (GenerationReader.facts)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from search.backends.base import GenerationReader
from search.records import ParagraphFacts
from search.results import Translation


class KnownFacts:
    """The facts a query has read, by pid, and its candidates' translation groups."""

    def __init__(self, reader: GenerationReader) -> None:
        self._reader = reader
        self._facts: dict[int, ParagraphFacts] = {}
        self._members: dict[int, tuple[int, ...]] = {}

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
