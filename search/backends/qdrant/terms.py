"""Keyword terms as Qdrant sparse vectors, with BM25 weights computed here.

Each paragraph gets one sparse vector, named after its analysis language, holding its text
terms and its title terms (in a separate id space): Qdrant's IDF modifier then counts
document frequencies per language and per field among that language's paragraphs, which is
how the local backend's BM25 counts them. The document side carries BM25's saturation and
length normalization (k1, b, the language's average length when the paragraph was added);
the query side carries the title boost. The terms are the project's own analyzers', so both
backends see the same words, Latin forms of names in other alphabets included (weighed at
TRANSLIT_WEIGHT in queries). Typo tolerance is the local backend's alone: it needs the index's
vocabulary, which a Qdrant collection does not list.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from search import analysis

BM25_K1 = 1.2
BM25_B = 0.75
TITLE_BOOST = 1.5  # as the local keyword side
TRANSLIT_WEIGHT = 0.5  # as the local keyword side
_TITLE_SPACE = "\x00title:"


def vector_name(lang: str) -> str:
    """The sparse vector of a paragraph language's analysis language."""
    return f"kw_{analysis.field_language(lang)}"


def vector_names() -> list[str]:
    return [f"kw_{code}" for code in sorted(analysis.LANGUAGES | {analysis.UNKNOWN})]


def term_id(term: str, title: bool = False) -> int:
    """A 32-bit id for a term (Qdrant's sparse indices are u32)."""
    key = (_TITLE_SPACE + term) if title else term
    return zlib.crc32(key.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class Lengths:
    """A language's document count and summed text and title lengths (in terms)."""

    docs: int = 0
    text: int = 0
    title: int = 0

    def plus(self, other: Lengths, sign: int = 1) -> Lengths:
        return Lengths(self.docs + sign * other.docs, self.text + sign * other.text,
                       self.title + sign * other.title)


def analyzed(text: str, lang: str) -> list[str]:
    """Every term the index holds for ``text``: words' own terms and Latin forms of names."""
    return [term for term, _ in analysis.marked_tokens(text, lang)]


def document_vector(text_terms: list[str], title_terms: list[str],
                    average: Lengths) -> tuple[list[int], list[float]]:
    """BM25 term weights (without IDF) of one paragraph, as sparse indices and values."""
    weights: dict[int, float] = {}
    for terms, title in ((text_terms, False), (title_terms, True)):
        if not terms:
            continue
        mean = (average.title if title else average.text) / max(average.docs, 1) or 1.0
        norm = BM25_K1 * ((1 - BM25_B) + BM25_B * len(terms) / mean)
        counts: dict[str, int] = {}
        for term in terms:
            counts[term] = counts.get(term, 0) + 1
        for term, tf in counts.items():
            key = term_id(term, title)
            weights[key] = weights.get(key, 0.0) + tf * (BM25_K1 + 1) / (tf + norm)
    indices = sorted(weights)
    return indices, [weights[i] for i in indices]


def query_vector(text: str, code: str) -> tuple[list[int], list[float]]:
    """The query's terms as one analysis language sees them: text terms weigh 1 (Latin forms
    of words in other alphabets TRANSLIT_WEIGHT), title terms the title boost times that.
    Empty when the language finds no words in it."""
    weights: dict[int, float] = {}
    for term, latin in analysis.marked_tokens(text, code, query=True):
        weight = TRANSLIT_WEIGHT if latin else 1.0
        weights[term_id(term)] = max(weight, weights.get(term_id(term), 0.0))
        title_id = term_id(term, title=True)
        weights[title_id] = max(TITLE_BOOST * weight, weights.get(title_id, 0.0))
    indices = sorted(weights)
    return indices, [weights[i] for i in indices]
