"""Every alert against the paragraphs one generation added, in one batch.

The engine's matching rule (search.ranking.matching) decides: a paragraph matches an alert
when its keyword evidence (the share of the query's words it holds, search.alerts.terms) is
at least `min_coverage`, or its cosine with the query is at least the model's semantic floor
(search/encoders/calibration.py), each on
the side the alert's mode searches. The cosines of all alerts with all new paragraphs are one
matrix product; semantic-mode alerts are corrected for language bias as the engine's dense
side is (search.ranking.language_bias), hybrid ones keep raw cosine as the engine's hybrid
matching does. Watchlists are keyword-only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from search.alerts.arrays import within
from search.alerts.records import Alert, AlertKind, AlertMatches, Why
from search.alerts.terms import (
    Entry,
    EntryWords,
    WordTerms,
    entries_found,
    index_entries,
    paragraph_terms,
    share_typos,
)
from search.analysis import AnalysedWord
from search.config import Settings
from search.encoders.calibration import SemanticFloors
from search.ranking.language_bias import LanguageBias
from search.ranking.matching import MATCH, scaled, scaled_rows
from search.ranking.query import Mode
from search.records import ArticleRecord, ParagraphRecord


@dataclass(frozen=True)
class NewParagraph:
    """A paragraph the generation added, with its article, and the vectors of its
    translation group's other members by language (its story told elsewhere)."""

    record: ParagraphRecord
    article: ArticleRecord
    translations: Mapping[str, np.ndarray] = field(default_factory=dict)


def searches_meaning(alert: Alert) -> bool:
    return alert.kind is AlertKind.QUERY and alert.mode is not Mode.KEYWORD


def searches_words(alert: Alert) -> bool:
    return alert.kind is AlertKind.WATCHLIST or alert.mode is not Mode.SEMANTIC


# Alerts judged at a time: bounds the memory of their evidence over a chunk of paragraphs.
ALERT_BLOCK = 1_000


def evaluate(alerts: Sequence[Alert], since: Mapping[int, int],
             alert_vectors: Mapping[int, np.ndarray], paragraphs: Sequence[NewParagraph],
             vectors: np.ndarray, settings: Settings, floors: SemanticFloors,
             bias: LanguageBias | None = None,
             alert_langs: Mapping[int, str] | None = None,
             analysed: WordTerms | None = None) -> AlertMatches:
    """The matches of `alerts` among `paragraphs` (whose unit vectors are the rows of
    `vectors`), each alert only on paragraphs from its `since` id on and admitted by its
    filters; by alert, then pid. `alert_langs` are the queries' languages (a query without
    one has its words looked for in every language); a cosine is held to the floor for a
    paragraph in the query's language or in another (`floors`). Words' terms are taken from
    `analysed` where it has them, and added to it."""
    matches = AlertMatches()
    if not alerts or not paragraphs:
        return matches
    langs = alert_langs or {}
    words = _words(alerts, langs, paragraphs, settings.min_coverage, analysed or WordTerms())
    told = _Told.of(paragraphs)
    order = sorted(range(len(alerts)), key=lambda a: alerts[a].id)
    # One BLAS thread: the products are small, and OpenBLAS's threads spin against whatever
    # else runs (serve workers' queries, the writer): 10x slower on a busy 2-core machine
    # (OpenMathLib/OpenBLAS#731).
    with threadpool_limits(1, user_api="blas"):
        for start in range(0, len(order), ALERT_BLOCK):
            block = [alerts[a] for a in order[start : start + ALERT_BLOCK]]
            worded = {(r, j): why for r, a in enumerate(order[start : start + ALERT_BLOCK])
                      for j, why in words.get(a, {}).items()}
            matches.add(_block(block, worded, since, alert_vectors, paragraphs, vectors,
                              settings, floors, bias, langs, told))
    return matches


def _block(alerts: Sequence[Alert], words: Mapping[tuple[int, int], Why],
           since: Mapping[int, int], alert_vectors: Mapping[int, np.ndarray],
           paragraphs: Sequence[NewParagraph], vectors: np.ndarray, settings: Settings,
           floors: SemanticFloors, bias: LanguageBias | None, langs: Mapping[int, str],
           told: _Told) -> AlertMatches:
    """The matches of a block of alerts (`words`: (row, paragraph) -> the words found): the
    evidence of every alert and paragraph as one matrix, the matches read from it at once."""
    meaning = [r for r, alert in enumerate(alerts)
               if searches_meaning(alert) and alert.id in alert_vectors]
    cosines, floors_held = _cosines([alerts[r] for r in meaning], alert_vectors, paragraphs,
                                    vectors, bias, langs, floors, told)
    evidence = np.zeros((len(alerts), len(paragraphs)), dtype=np.float32)
    evidence[meaning] = scaled_rows(cosines, floors_held)
    for (r, j), why in words.items():
        evidence[r, j] = max(evidence[r, j], scaled(why.coverage or 0.0, settings.min_coverage))
    firsts = np.array([since.get(alert.id, 0) for alert in alerts], dtype=np.int64)
    pids = np.array([p.record.pid for p in paragraphs], dtype=np.int64)
    fired = (evidence >= MATCH) & (pids[None, :] >= firsts[:, None])
    for r, alert in enumerate(alerts):
        if not alert.filters.is_empty():
            fired[r] &= [_admits(alert, p) for p in paragraphs]
    rows, columns = np.nonzero(fired)
    cosine_row = np.full(len(alerts), -1, dtype=np.int64)
    cosine_row[meaning] = np.arange(len(meaning))
    has_cosine = cosine_row[rows] >= 0
    cosine: list[float | None] = [None] * len(rows)
    if meaning:
        values = np.round(cosines[np.maximum(cosine_row[rows], 0), columns].astype(np.float64), 4)
        cosine = [c if has else None
                  for c, has in zip(values.tolist(), has_cosine.tolist(), strict=True)]
    # np.nonzero gives row-major order: a (row, paragraph)'s place found by its flat position.
    flat = rows * len(paragraphs) + columns
    placed = list(words.items())
    wanted = np.array([r * len(paragraphs) + j for (r, j), _ in placed], dtype=np.int64)
    worded = {n: Why(found.words, found.coverage, cosine[n])
              for (_, found), n, fired_too in zip(placed, np.searchsorted(flat, wanted).tolist(),
                                                  within(wanted, flat).tolist(), strict=True)
              if fired_too}
    ids = np.array([alert.id for alert in alerts], dtype=np.int64)
    return AlertMatches(ids[rows].tolist(), pids[columns].tolist(),
                        np.round(evidence[rows, columns].astype(np.float64), 4).tolist(),
                        cosine, worded)


@dataclass(frozen=True)
class _Told:
    """The paragraphs' languages, and for each language the paragraphs in another one whose
    story is also told in it, with the vectors of those versions."""

    langs: np.ndarray  # each paragraph's language, by its number in `numbers`
    numbers: dict[str, int]
    versions: dict[str, tuple[np.ndarray, np.ndarray]]

    @classmethod
    def of(cls, paragraphs: Sequence[NewParagraph]) -> _Told:
        told: dict[str, list[int]] = {}
        for j, p in enumerate(paragraphs):
            for lang in p.translations:
                if lang != p.record.lang:
                    told.setdefault(lang, []).append(j)
        numbers: dict[str, int] = {}
        langs = [numbers.setdefault(p.record.lang, len(numbers)) for p in paragraphs]
        for lang in told:
            numbers.setdefault(lang, len(numbers))
        return cls(np.array(langs, dtype=np.int64), numbers, {
            lang: (np.array(js, dtype=np.int64),
                   np.stack([paragraphs[j].translations[lang] for j in js]).astype(np.float32))
            for lang, js in told.items()})


def _admits(alert: Alert, paragraph: NewParagraph) -> bool:
    a = paragraph.article
    return alert.filters.admits(paragraph.record.lang, a.id, a.source, a.date)


def _cosines(alerts: Sequence[Alert], alert_vectors: Mapping[int, np.ndarray],
             paragraphs: Sequence[NewParagraph], vectors: np.ndarray,
             bias: LanguageBias | None, alert_langs: Mapping[int, str], floors: SemanticFloors,
             told: _Told) -> tuple[np.ndarray, np.ndarray]:
    """The cosines of meaning-searching `alerts` (rows) with every paragraph, one matrix
    product, and the floor each is held to, as the engine's matching holds them
    (search.ranking.matching): the same-language floor in the alert's language, the
    cross-lingual one elsewhere, except where the paragraph's story is also told in the
    alert's language: there the same-language floor, and the cosine the better of the
    paragraph's and that version's. Semantic-mode alerts are corrected for language bias as
    the engine's dense side is; hybrid ones keep raw cosine as the engine's hybrid matching
    does."""
    if not alerts:
        empty = np.empty((0, len(paragraphs)), dtype=np.float32)
        return empty, empty
    queries = np.stack([_query_vector(alert, alert_vectors, bias, alert_langs)
                        for alert in alerts]).astype(np.float32)
    scores = queries @ np.asarray(vectors, dtype=np.float32).T
    if bias is not None:
        corrected = [i for i, alert in enumerate(alerts) if alert.mode is Mode.SEMANTIC]
        langs = sorted(bias.offsets)
        if corrected and langs:
            offsets = np.stack([bias.offsets[lang] for lang in langs])
            shift = queries[corrected] @ offsets.T  # (alerts, languages)
            column = {lang: i for i, lang in enumerate(langs)}
            where = np.array([column.get(p.record.lang, -1) for p in paragraphs])
            has = where >= 0
            scores[np.ix_(np.array(corrected), np.flatnonzero(has))] -= shift[:, where[has]]
    own = np.array([told.numbers.get(alert_langs.get(alert.id, ""), -1) for alert in alerts])
    thresholds = np.where(own[:, None] == told.langs[None, :], np.float32(floors.same),
                          np.float32(floors.cross))
    for lang, (columns, versions) in told.versions.items():
        rows = np.flatnonzero(own == told.numbers[lang])
        if len(rows):
            raw = np.stack([alert_vectors[alerts[r].id] for r in rows.tolist()]
                           ).astype(np.float32)
            cells = np.ix_(rows, columns)
            scores[cells] = np.maximum(scores[cells], raw @ versions.T)
            thresholds[cells] = floors.same
    return scores, thresholds


def _query_vector(alert: Alert, alert_vectors: Mapping[int, np.ndarray],
                  bias: LanguageBias | None, alert_langs: Mapping[int, str]) -> np.ndarray:
    vector = alert_vectors[alert.id]
    if bias is not None and alert.mode is Mode.SEMANTIC and alert.id in alert_langs:
        return bias.debiased(vector, alert_langs[alert.id])
    return vector


def _words(alerts: Sequence[Alert], langs: Mapping[int, str],
           paragraphs: Sequence[NewParagraph], min_coverage: float, analysed: WordTerms
           ) -> dict[int, dict[int, Why]]:
    """alert -> paragraph -> the words found by the alert's best entry, where it reaches
    `min_coverage`, with how each word was found."""
    entries = [Entry(a, text, alert.kind is AlertKind.WATCHLIST,
                     langs.get(alert.id) if alert.kind is AlertKind.QUERY else None)
               for a, alert in enumerate(alerts) if searches_words(alert)
               for text in alert.entries]
    if not entries:
        return {}
    prepared = EntryWords.of(entries, analysed)
    by_lang: dict[str, list[int]] = {}
    for j, paragraph in enumerate(paragraphs):
        by_lang.setdefault(paragraph.record.lang, []).append(j)
    indexes = {lang: index_entries(prepared, lang, analysed) for lang in by_lang}
    share_typos(list(indexes.values()))
    best: dict[int, dict[int, Why]] = {}
    for lang, members in by_lang.items():
        analysed_words: dict[str, AnalysedWord] = {}
        found = entries_found(indexes[lang], [
            paragraph_terms((paragraphs[j].record.text, paragraphs[j].article.title), lang,
                            analysed_words)
            for j in members], min_coverage)
        for (number, entry), (share, words) in found.items():
            j = members[number]
            of_alert = best.setdefault(entries[entry].alert, {})
            if j not in of_alert or share > (of_alert[j].coverage or 0.0):
                of_alert[j] = Why(words, share)
    return best
