"""Running a batch of queries against the engine, and its results as CSV and JSON.

Queries go to the engine in chunks: the vectors a chunk needs are encoded in one call
(Engine.encode_queries), then each query is ranked with its vector. The keyword side keeps
its per-term work (document frequencies, near spellings, Latin forms) in caches per
generation, so names a batch repeats across queries cost one lookup. Matches are counted
among `BATCH_COUNT_WINDOW` candidates a side (queries that search meaning among
`MEANING_COUNT_WINDOW`, see `_counted`), so a count is exact up to it and marked "at least"
beyond. Only the first hits shown are highlighted; the others of the spelling sample are
explained alone (Engine.search's `whole`). The forms of their words are kept in a table of
the batch's own (search.ranking.word_forms), not in the process's memo.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from search.cycles import cycles_collected_after
from search.engine import Engine
from search.errors import SearchError
from search.investigate.batch_input import BatchInput, BatchItem
from search.investigate.export import BOM, csv_line, plain, why
from search.ranking.query import Mode, Query
from search.ranking.word_forms import WordTable
from search.records import Filters
from search.results import Hit, SearchPage

BATCH_COUNT_WINDOW = 10_000
MEANING_COUNT_WINDOW = 1_000
CHUNK = 128
FIRST_HITS = 3
# The spellings of a query's words are gathered from its best matches, one per article, so
# that each language's spelling shows (reading every match would cost a paragraph each).
SPELLING_SAMPLE = 10


@dataclass(frozen=True)
class BatchHit:
    paragraph_id: str
    article_id: str
    title: str
    lang: str
    date: str | None
    score: float
    why: str
    snippet: str


@dataclass(frozen=True)
class QueryResult:
    """One line of a batch: its matches counted, by language, the spellings its best
    matches (one per article, SPELLING_SAMPLE of them) hold the query's words in, and its
    first hits; or why it could not run."""

    line: int
    query: str
    mode: str
    total: int = 0
    total_relation: str = "eq"
    languages: dict[str, int] = field(default_factory=dict)
    spellings: tuple[str, ...] = ()
    hits: tuple[BatchHit, ...] = ()
    error: str | None = None


Progress = Callable[[int, int], None]


def run_batch(engine: Engine, batch: BatchInput, mode: Mode = Mode.KEYWORD,
              first_hits: int = FIRST_HITS, progress: Progress | None = None
              ) -> list[QueryResult]:
    """Every query of `batch` (in `mode` unless its row says otherwise) and every problem
    line, in line order. `progress(done, total)` is called after each chunk."""
    results = [QueryResult(p.line, p.text, "", error=p.reason) for p in batch.problems]
    items = batch.items
    words = WordTable()
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        queries = [_query(item, mode, first_hits) for item in chunk]
        vectors = engine.encode_queries(queries)
        with cycles_collected_after():  # a chunk at a time: what cycles it leaves stay few
            for item, query, vector in zip(chunk, queries, vectors, strict=True):
                results.append(_run_one(engine, item, query, vector, first_hits, words))
        if progress is not None:
            progress(min(start + CHUNK, len(items)), len(items))
    return sorted(results, key=lambda result: result.line)


def _query(item: BatchItem, mode: Mode, first_hits: int) -> Query:
    return Query(item.text, mode=item.mode or mode, size=max(first_hits, SPELLING_SAMPLE),
                 one_per_article=True,
                 filters=Filters(languages=item.languages, date_from=item.date_from,
                                 date_to=item.date_to))


def _run_one(engine: Engine, item: BatchItem, query: Query, vector: np.ndarray | None,
             first_hits: int, words: WordTable) -> QueryResult:
    try:
        page = _counted(engine, query, vector, first_hits, words)
    except SearchError as exc:
        return QueryResult(item.line, item.text, Mode(query.mode).value, error=str(exc))
    hits = tuple(_batch_hit(hit) for hit in page.hits[:first_hits]) if page.total else ()
    spellings = tuple(dict.fromkeys(spelling for hit in page.hits if page.total
                                    for term in hit.explain.terms for spelling in term.found))
    return QueryResult(item.line, item.text, Mode(query.mode).value, page.total,
                       page.total_relation, dict(page.facets.languages), spellings, hits)


def _counted(engine: Engine, query: Query, vector: np.ndarray | None, first_hits: int,
             words: WordTable) -> SearchPage:
    """The query's page with its matches counted among BATCH_COUNT_WINDOW candidates a side,
    or MEANING_COUNT_WINDOW for a query that searches meaning: its semantic side always
    fills the window, and every candidate is read and judged, so on the 100,000-paragraph
    benchmark index (docs/benchmarks.md) a hybrid question cost 3.8 times more counted among
    10,000 than among 1,000. Its count is then "at least" more often."""
    window = BATCH_COUNT_WINDOW if query.mode is Mode.KEYWORD else MEANING_COUNT_WINDOW
    return engine.search(query, vector=vector, count_window=window, whole=first_hits,
                         words=words)


def _batch_hit(hit: Hit) -> BatchHit:
    return BatchHit(hit.paragraph_id, hit.article_id, hit.title, hit.lang, hit.date, hit.score,
                    why(hit.explain.terms, hit.explain.semantic_score), plain(hit.snippet))


def result_to_dict(result: QueryResult) -> dict[str, object]:
    found = asdict(result)
    found["spellings"] = list(result.spellings)
    return found


def result_from_dict(found: dict[str, Any]) -> QueryResult:
    """The QueryResult `result_to_dict` gave `found`."""
    return QueryResult(found["line"], found["query"], found["mode"], found["total"],
                       found["total_relation"], dict(found["languages"]),
                       tuple(found["spellings"]),
                       tuple(BatchHit(**hit) for hit in found["hits"]), found["error"])


def results_json(results: Sequence[QueryResult]) -> str:
    return json.dumps({"queries": len(results),
                       "failed": sum(1 for r in results if r.error is not None),
                       "results": [result_to_dict(r) for r in results]},
                      ensure_ascii=False, indent=2)


def csv_columns(results: Sequence[QueryResult]) -> list[str]:
    languages = sorted({code for r in results for code in r.languages})
    return ["line", "query", "mode", "total", "total_relation",
            *(f"lang_{code}" for code in languages), "spellings", "first_hits", "error"]


def results_csv(results: Sequence[QueryResult]) -> Iterator[str]:
    """One row per line of the batch, with a column of counts per language (UTF-8 with a
    BOM, fields quoted, formulas neutralized: see search.investigate.export)."""
    columns = csv_columns(results)
    languages = [c.removeprefix("lang_") for c in columns if c.startswith("lang_")]
    yield BOM + csv_line(columns)
    for r in results:
        first = " | ".join(f"{h.paragraph_id} ({h.why})" for h in r.hits)
        yield csv_line([r.line, r.query, r.mode, "" if r.error else r.total,
                        "" if r.error else r.total_relation,
                        *("" if r.error else r.languages.get(code, 0) for code in languages),
                        "; ".join(r.spellings), first, r.error or ""])
