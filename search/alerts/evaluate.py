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

from search.alerts.records import Alert, AlertKind, Why
from search.alerts.terms import (
    Entry,
    coverage,
    explained,
    found_words,
    index_entries,
    paragraph_terms,
)
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


@dataclass(frozen=True)
class Match:
    """An alert fired on a paragraph: its evidence (0.5..1) and why."""

    alert_id: int
    pid: int
    score: float
    why: Why


def searches_meaning(alert: Alert) -> bool:
    return alert.kind is AlertKind.QUERY and alert.mode is not Mode.KEYWORD


def searches_words(alert: Alert) -> bool:
    return alert.kind is AlertKind.WATCHLIST or alert.mode is not Mode.SEMANTIC


def evaluate(alerts: Sequence[Alert], since: Mapping[int, int],
             alert_vectors: Mapping[int, np.ndarray], paragraphs: Sequence[NewParagraph],
             vectors: np.ndarray, settings: Settings, floors: SemanticFloors,
             bias: LanguageBias | None = None,
             alert_langs: Mapping[int, str] | None = None) -> list[Match]:
    """The matches of `alerts` among `paragraphs` (whose unit vectors are the rows of
    `vectors`), each alert only on paragraphs from its `since` id on and admitted by its
    filters; by alert, then pid. `alert_langs` are the queries' languages (a query without
    one has its words looked for in every language); a cosine is held to the floor for a
    paragraph in the query's language or in another (`floors`)."""
    if not alerts or not paragraphs:
        return []
    langs = alert_langs or {}
    cosines = _cosines(alerts, alert_vectors, paragraphs, vectors, bias, langs)
    words = _words(alerts, langs, paragraphs, settings.min_coverage)
    thresholds = _stories(alerts, alert_vectors, paragraphs, cosines, floors, langs)
    worded: dict[int, list[int]] = {}
    for a, j in words:
        worded.setdefault(a, []).append(j)
    pids = np.array([p.record.pid for p in paragraphs], dtype=np.int64)
    matches: list[Match] = []
    for a in sorted(worded.keys() | cosines.keys(), key=lambda a: alerts[a].id):
        alert = alerts[a]
        row, floor = cosines.get(a), thresholds.get(a)
        # The semantic side for every paragraph, then the keyword side where words were found.
        evidence = (scaled_rows(row, floor) if row is not None and floor is not None
                    else np.zeros(len(paragraphs)))
        for j in worded.get(a, []):
            coverage = words[(a, j)].coverage or 0.0
            evidence[j] = max(evidence[j], scaled(coverage, settings.min_coverage))
        candidates = np.flatnonzero((evidence >= MATCH) & (pids >= since.get(alert.id, 0)))
        for j in candidates.tolist():
            paragraph = paragraphs[j]
            if not alert.filters.is_empty() and not _admits(alert, paragraph):
                continue
            found = words.get((a, j))
            why = Why(found.words if found else (), found.coverage if found else None,
                      round(float(row[j]), 4) if row is not None else None)
            matches.append(Match(alert.id, paragraph.record.pid,
                                 round(float(evidence[j]), 4), why))
    return matches


def _stories(alerts: Sequence[Alert], alert_vectors: Mapping[int, np.ndarray],
             paragraphs: Sequence[NewParagraph], cosines: dict[int, np.ndarray],
             floors: SemanticFloors, langs: Mapping[int, str]) -> dict[int, np.ndarray]:
    """Each alert's floor for every paragraph, as the engine's matching holds them
    (search.ranking.matching): the same-language floor in the alert's language, the
    cross-lingual one elsewhere, except where the paragraph's story is also told in the
    alert's language: there the same-language floor, and the cosine (raised in `cosines`)
    the better of the paragraph's and that version's."""
    paragraph_langs = np.array([p.record.lang for p in paragraphs])
    told_in: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    thresholds = {}
    for a, row in cosines.items():
        lang = langs.get(alerts[a].id)
        floor = np.where(paragraph_langs == lang, floors.same, floors.cross)
        thresholds[a] = floor
        if lang is None:
            continue
        if lang not in told_in:  # the paragraphs told in `lang` too, and those versions
            told = [j for j, p in enumerate(paragraphs)
                    if p.record.lang != lang and lang in p.translations]
            told_in[lang] = (np.array(told, dtype=np.int64), np.stack(
                [paragraphs[j].translations[lang] for j in told]) if told else np.empty(0))
        told_j, versions = told_in[lang]
        if len(told_j):
            row[told_j] = np.maximum(row[told_j], versions @ alert_vectors[alerts[a].id])
            floor[told_j] = floors.same
    return thresholds


def _admits(alert: Alert, paragraph: NewParagraph) -> bool:
    a = paragraph.article
    return alert.filters.admits(paragraph.record.lang, a.id, a.source, a.date)


def _cosines(alerts: Sequence[Alert], alert_vectors: Mapping[int, np.ndarray],
             paragraphs: Sequence[NewParagraph], vectors: np.ndarray,
             bias: LanguageBias | None, alert_langs: Mapping[int, str]
             ) -> dict[int, np.ndarray]:
    """Each meaning-searching alert's cosine with every paragraph: one matrix product."""
    rows = [a for a, alert in enumerate(alerts)
            if searches_meaning(alert) and alert.id in alert_vectors]
    if not rows:
        return {}
    queries = np.stack([_query_vector(alerts[a], alert_vectors, bias, alert_langs)
                        for a in rows]).astype(np.float32)
    scores = queries @ np.asarray(vectors, dtype=np.float32).T
    if bias is not None:
        corrected = [i for i, a in enumerate(rows) if alerts[a].mode is Mode.SEMANTIC]
        langs = sorted(bias.offsets)
        if corrected and langs:
            offsets = np.stack([bias.offsets[lang] for lang in langs])
            shift = queries[corrected] @ offsets.T  # (alerts, languages)
            column = {lang: i for i, lang in enumerate(langs)}
            where = np.array([column.get(p.record.lang, -1) for p in paragraphs])
            has = where >= 0
            scores[np.ix_(np.array(corrected), np.flatnonzero(has))] -= shift[:, where[has]]
    return {a: scores[i] for i, a in enumerate(rows)}


def _query_vector(alert: Alert, alert_vectors: Mapping[int, np.ndarray],
                  bias: LanguageBias | None, alert_langs: Mapping[int, str]) -> np.ndarray:
    vector = alert_vectors[alert.id]
    if bias is not None and alert.mode is Mode.SEMANTIC and alert.id in alert_langs:
        return bias.debiased(vector, alert_langs[alert.id])
    return vector


def _words(alerts: Sequence[Alert], langs: Mapping[int, str],
           paragraphs: Sequence[NewParagraph], min_coverage: float
           ) -> dict[tuple[int, int], Why]:
    """(alert, paragraph) -> the words found by the alert's best entry, where it reaches
    `min_coverage`, with how each word was found."""
    entries = [Entry(a, text, alert.kind is AlertKind.WATCHLIST,
                     langs.get(alert.id) if alert.kind is AlertKind.QUERY else None)
               for a, alert in enumerate(alerts) if searches_words(alert)
               for text in alert.entries]
    if not entries:
        return {}
    words = [entry.words() for entry in entries]
    by_lang: dict[str, list[int]] = {}
    for j, paragraph in enumerate(paragraphs):
        by_lang.setdefault(paragraph.record.lang, []).append(j)
    best: dict[tuple[int, int], Why] = {}
    for lang, members in by_lang.items():
        index = index_entries(entries, words, lang)
        for j in members:
            paragraph = paragraphs[j]
            found = found_words(index, paragraph_terms(
                (paragraph.record.text, paragraph.article.title), lang))
            for entry in {e for e, _ in found}:
                share = coverage(index, entry, found)
                key = (entries[entry].alert, j)
                if share >= min_coverage and share > (best[key].coverage or 0.0
                                                      if key in best else 0.0):
                    best[key] = Why(explained(index, entry, found), round(share, 4))
    return best
