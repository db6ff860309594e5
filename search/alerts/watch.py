"""The hook a writer calls after publishing: evaluate what is new, then deliver.

`after_publish` is all the updater knows of alerts. It evaluates every alert against the live
paragraphs at or above the store's watermark (those the generation added, and those of any
generation a crash left unevaluated), records the stories in one transaction, then delivers
what the outbox holds within the delivery policy's budget. It never fails the caller: a
problem comes back as a warning, and what was not done is done by the next run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from search.alerts.deliver import DeliveryPolicy, DeliveryReport, deliver_pending
from search.alerts.evaluate import NewParagraph, evaluate, searches_meaning
from search.alerts.records import Alert, AlertKind, AlertMatches
from search.alerts.store import AlertStore
from search.alerts.stories import Recorded, record
from search.alerts.terms import analysis_mark
from search.analysis import field_language
from search.backends.base import Backend, Catalog, GenerationReader
from search.config import Settings
from search.cycles import cycles_collected_after
from search.encoders.base import Encoder
from search.encoders.calibration import semantic_floors
from search.errors import SearchError
from search.ranking.language_bias import language_bias

# New paragraphs read and evaluated at a time: bounds memory on a large first run.
CHUNK = 5_000


@dataclass
class AlertRun:
    """What one call of the hook did."""

    evaluated: int = 0  # new paragraphs
    recorded: Recorded = field(default_factory=Recorded)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    warnings: list[str] = field(default_factory=list)


def after_publish(index_dir: Path | str, backend: Backend, settings: Settings,
                  encoder: Callable[[], Encoder],
                  new: tuple[np.ndarray, np.ndarray] | None = None,
                  policy: DeliveryPolicy | None = None, rebuilt: bool = False) -> AlertRun:
    """Evaluate and deliver the alerts of `index_dir`, if it has any. `new` is the pids and
    vectors the writer just added (the rest are read from the generation). After a rebuild,
    which numbers paragraphs from 1 again, nothing of it is new: the watermark moves to its
    end and the old paragraph ids are forgotten (the hits stay)."""
    run = AlertRun()
    if not AlertStore.exists(index_dir):
        return run
    try:
        with AlertStore(index_dir) as store:
            live = backend.current()
            if rebuilt and live is not None:
                store.restart(backend.catalog(live).next_pid)
            evaluate_new(store, backend, settings, encoder, new, run)
            run.delivery = deliver_pending(store, policy or DeliveryPolicy.from_environ())
            run.warnings += [f"alert delivery failed: {f}" for f in run.delivery.failed]
    except (SearchError, OSError, sqlite3.Error) as exc:
        run.warnings.append(f"alerts not evaluated ({exc}); the next run will")
    return run


def evaluate_new(store: AlertStore, backend: Backend, settings: Settings,
                 encoder: Callable[[], Encoder], new: tuple[np.ndarray, np.ndarray] | None,
                 run: AlertRun) -> None:
    name = backend.current()
    watermark = store.watermark()
    if name is None or watermark is None:
        return
    catalog = backend.catalog(name)
    alerts = store.alerts()
    while watermark < catalog.next_pid:
        pids = _new_pids(catalog, watermark)[:CHUNK]
        upto = pids[-1] + 1 if len(pids) == CHUNK else catalog.next_pid
        with cycles_collected_after():
            found = (_evaluate(backend, catalog, store, alerts, settings, encoder, new, pids,
                               watermark, upto) if alerts and pids else None)
        if found is None:
            found = record(store, name, watermark, upto, alerts, AlertMatches(), {}, {})
        run.evaluated += len(pids)
        run.recorded.hits += found.hits
        run.recorded.translations += found.translations
        run.recorded.deliveries += found.deliveries
        if found.skipped:
            return
        watermark = upto


def _new_pids(catalog: Catalog, watermark: int) -> list[int]:
    """The live paragraphs at or above the watermark (ids are given in order, never reused)."""
    return sorted(pid for entry in catalog.files.values()
                  if entry.first_pid + entry.paragraphs > watermark
                  for pid in entry.pids if pid >= watermark)


def _evaluate(backend: Backend, catalog: Catalog, store: AlertStore, alerts: list[Alert],
              settings: Settings, encoder: Callable[[], Encoder],
              new: tuple[np.ndarray, np.ndarray] | None, pids: list[int], watermark: int,
              upto: int) -> Recorded:
    reader = backend.open(catalog.name)
    try:
        records = reader.paragraphs(pids)
        articles = reader.articles(sorted({r.article_id for r in records}))
        by_id = {a.id: a for a in articles if a is not None}
        groups = reader.groups(pids)
        members = reader.group_members(sorted(set(groups)))
        partners = {pid: [m for m in members.get(g, ()) if m != pid]
                    for pid, g in zip(pids, groups, strict=True)}
        paragraphs = [NewParagraph(r, by_id[r.article_id], _told(reader, partners[r.pid]))
                      for r in records]
        vectors = _vectors(reader, pids, new)
        bias = language_bias(catalog, settings.language_centering)
        langs = _alert_langs(store, alerts, catalog.languages)
        queries = _alert_vectors(store, alerts, catalog, encoder)
        # Words are analysed in the paragraphs' languages, the queries' own and none (lists).
        codes = {field_language(lang) for lang in [*(r.lang for r in records),
                                                   *langs.values(), None]}
        marks = {code: analysis_mark(code) for code in codes}
        analysed = store.word_terms(marks)
        matches = evaluate(alerts, store.since(), queries, paragraphs, vectors, settings,
                           semantic_floors(catalog.model, settings), bias, langs, analysed)
        store.save_word_terms(analysed, marks)
        return record(store, catalog.name, watermark, upto, alerts, matches,
                      {p.record.pid: p for p in paragraphs}, partners)
    finally:
        reader.close()


def _told(reader: GenerationReader, partners: Sequence[int]) -> dict[str, np.ndarray]:
    """The vectors of a paragraph's translations, by language."""
    if not partners:
        return {}
    return {lang: reader.vector(pid)
            for pid, lang in zip(partners, reader.langs(partners), strict=True)}


def _vectors(reader: GenerationReader, pids: Sequence[int],
             new: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """The vectors of `pids`: those the writer handed over, the rest read from the reader."""
    row = {int(pid): i for i, pid in enumerate(new[0])} if new is not None else {}
    if new is not None and all(pid in row for pid in pids):
        return np.asarray(new[1])[[row[pid] for pid in pids]]
    return np.stack([reader.vector(pid) for pid in pids]).astype(np.float32)


def _alert_vectors(store: AlertStore, alerts: list[Alert], catalog: Catalog,
                   encoder: Callable[[], Encoder]) -> dict[int, np.ndarray]:
    """The query vectors of the alerts that search meaning, for the index's model; those
    missing (new alerts, or a new model) are encoded in one batch and kept."""
    known = store.vectors(catalog.model)
    missing = [a for a in alerts if searches_meaning(a) and a.id not in known]
    if missing:
        encoded = encode_queries(encoder(), [a.text for a in missing])
        fresh = {a.id: encoded[i] for i, a in enumerate(missing)}
        store.save_vectors(catalog.model, fresh)
        known.update(fresh)
    return known


def encode_queries(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """Query vectors of `texts` in one batch, as the model encodes queries (a model with a
    query prefix has a batched query method)."""
    batched = getattr(encoder, "encode_queries", None)
    if batched is not None:
        return np.asarray(batched(list(texts)), dtype=np.float32)
    return encoder.encode(list(texts))


def _alert_langs(store: AlertStore, alerts: list[Alert], indexed: Collection[str]
                 ) -> dict[int, str]:
    """Each query's language, detected once and kept: the most likely of the index's
    languages, as the engine reads a query's words (short texts are easily mistaken)."""
    missing = [a for a in alerts if a.kind is AlertKind.QUERY and a.lang is None]
    if missing:
        from search.ingest.language import LanguageDetector

        detector = LanguageDetector()
        store.save_languages({a.id: detector.detect_query(a.text, indexed)[0] for a in missing})
        alerts[:] = store.alerts()
    return {a.id: a.lang for a in alerts if a.lang is not None}
