"""What a model's cosines mean: the semantic floors of matching, measured per model.

A semantic candidate matches a query when its cosine with the query is at or above a floor
(search/ranking/matching.py). Where that floor lies is a property of the model's vectors, and
of whether the paragraph is in the query's language: multilingual-e5-small puts a right answer
in the query's own language near cosine 0.88 and one in another language near 0.80, while an
unrelated paragraph in the query's language reaches 0.81 (bench/absent.py on XQuAD-R dev,
docs/benchmarks.md). One floor for both would either answer few cross-lingual questions or
match most absent topics, so the floor for a paragraph in another language is its own.
(A paragraph whose story the index also holds in the query's language is judged by the
same-language floor, with that version's cosine: search/ranking/matching.py.)
USE multilingual v3's cosines need no such split (0.30 for both). A model measured by no one
(any other sentence-transformers folder) gets USE's figures; Settings can set either floor.
"""

from __future__ import annotations

from dataclasses import dataclass

from search.config import BundledModel, Settings


@dataclass(frozen=True)
class SemanticFloors:
    """The cosine at or above which a semantic candidate matches."""

    same: float  # the paragraph is in the query's language
    cross: float  # it is in another language

    def floor(self, query_lang: str, paragraph_lang: str | None) -> float:
        """The floor for a paragraph in `paragraph_lang` (None: unknown, taken as the
        query's) and a query in `query_lang`."""
        return self.same if paragraph_lang in (None, query_lang) else self.cross

    @property
    def lowest(self) -> float:
        return min(self.same, self.cross)


# The highest floors on a 0.01 grid that answer at least 97 % of questions asked in the
# paragraphs' language and 90 % of those asked in another, less one step for unseen data
# (bench/absent.py; docs/benchmarks.md "Semantic floors").
MEASURED = {
    BundledModel.E5_SMALL.value: SemanticFloors(same=0.83, cross=0.75),
    BundledModel.USEM3.value: SemanticFloors(same=0.30, cross=0.30),
}
UNMEASURED = MEASURED[BundledModel.USEM3.value]


def semantic_floors(model: str, settings: Settings) -> SemanticFloors:
    """The floors for an index built with `model`: the measured ones, unless `settings` sets
    them."""
    measured = MEASURED.get(model, UNMEASURED)
    return SemanticFloors(
        measured.same if settings.semantic_floor is None else settings.semantic_floor,
        measured.cross if settings.semantic_floor_cross is None else settings.semantic_floor_cross,
    )
