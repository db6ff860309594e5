"""Exact before transliterated: at equal evidence, a paragraph holding the query's words as
typed ranks above one that matched only through their Latin forms.

The keyword side indexes words of other alphabets also in Latin letters (search.analysis),
so a query typed in Latin script matches a Cyrillic, Greek or Arabic paragraph through those
forms, and per-language statistics may score such a match above the paragraph that holds the
word as typed. A paragraph whose language is written in none of the query's scripts can only
have matched that way. Among keyword candidates of equal coverage (the same evidence, see
search.ranking.matching), those are moved after the others; the scores stay where they were
in the list, so nothing else of the ranking changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import regex

from search.records import Candidate

# Languages written in another script than Latin (others are taken as Latin-script).
_SCRIPT_OF = {
    **dict.fromkeys(("ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "mn", "tg"), "Cyrillic"),
    **dict.fromkeys(("ar", "fa", "ur", "ps", "ug"), "Arabic"),
    "el": "Greek", "he": "Hebrew", "yi": "Hebrew", "hy": "Armenian", "ka": "Georgian",
    **dict.fromkeys(("hi", "mr", "ne", "sa"), "Devanagari"),
    "bn": "Bengali", "ta": "Tamil", "te": "Telugu", "th": "Thai", "ko": "Hangul",
    **dict.fromkeys(("zh", "ja"), "Han"),
}
_SCRIPTS = sorted({"Latin", *_SCRIPT_OF.values()})
_LETTER = {script: regex.compile(rf"\p{{Script={script}}}") for script in _SCRIPTS}
_KANA = regex.compile(r"[\p{Script=Hiragana}\p{Script=Katakana}]")


def scripts_of(text: str) -> frozenset[str]:
    """The scripts the letters of `text` are written in (of those this module knows)."""
    found = {script for script, letter in _LETTER.items() if letter.search(text)}
    if _KANA.search(text):
        found.add("Han")  # Japanese mixes kana with Han
    return frozenset(found)


def as_typed(lang: str | None, query_scripts: frozenset[str]) -> bool:
    """Whether a paragraph in `lang` can hold the query's words as typed (its language is
    written in one of the query's scripts); True when either is unknown."""
    if lang is None or not query_scripts:
        return True
    return _SCRIPT_OF.get(lang.split("-")[0], "Latin") in query_scripts


def exact_first(found: Sequence[Candidate], query: str) -> list[Candidate]:
    """Keyword candidates (best first) with, among those of equal coverage, the ones that
    hold the query's words as typed first, each group in its own order; every position keeps
    its score."""
    scripts = scripts_of(query)
    # Judged once a language: a count has thousands of candidates in a dozen languages.
    elsewhere = {lang: not as_typed(lang, scripts) for lang in {c.lang for c in found}}
    by_coverage: dict[float | None, list[int]] = {}
    for at, candidate in enumerate(found):
        by_coverage.setdefault(candidate.coverage, []).append(at)
    moved = list(found)
    for positions in by_coverage.values():
        keys = [elsewhere[found[at].lang] for at in positions]
        if keys == sorted(keys):
            continue  # already as typed first
        members = [found[at] for at in positions]
        ordered = sorted(members, key=lambda c: elsewhere[c.lang])  # stable
        for at, candidate in zip(positions, ordered, strict=True):
            # Not dataclasses.replace: ~30 times slower, for every candidate of a count.
            moved[at] = Candidate(candidate.pid, found[at].score, candidate.coverage,
                                  candidate.lang)
    return moved
