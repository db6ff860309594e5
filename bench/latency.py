"""Query latency and vector recall on the 100,000-paragraph index, in process.

Build the index first (see bench/corpus.py), then:

    python bench/latency.py --index /tmp/search-bench/index-100k
    python bench/latency.py --per-language 20 --no-plain      # a quick look
    python bench/latency.py --per-language 50 --no-plain --ef-sweep 384,768,1024,2048 \
        --name latency-ef                     # recall at other efSearch values

Queries are XQuAD-R questions in all 11 languages (the same questions in each), asked through
`Engine.search` in hybrid, keyword and semantic mode (page 1, 10 hits, each hit highlighted as
the API returns it). Also measured:

- where a hybrid query's time goes (language detection, keyword side, query encoding, vector
  side; the rest is fusion and building the hits);
- recall@10 and recall@100 of the engine's vector search (HNSW at this size) against an exact
  flat inner-product search over the same vectors;
- the keyword side beside a plain Whoosh index of the same paragraphs (one field, default
  analyzer, QueryParser with an OR group), built once next to the index.

Prints a table and writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np
from corpus import (
    DATA,
    LANGUAGES,
    machine,
    percentiles,
    print_table,
    questions,
    require_data,
    save_result,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search.backends.local import LocalBackend  # noqa: E402
from search.backends.local.reader import LocalReader  # noqa: E402
from search.backends.local.vectors import live_vectors  # noqa: E402
from search.engine import Engine  # noqa: E402
from search.ranking.hits import build_hits  # noqa: E402
from search.ranking.policy import rank  # noqa: E402
from search.ranking.query import Mode, Query, understand  # noqa: E402

INDEX = Path("/tmp/search-bench/index-100k")
WARMUP = 30


def timed(function, *args) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args)
    return (time.perf_counter() - started) * 1000, result


def mode_latency(engine: Engine, asked: list[tuple[str, str]], mode: Mode) -> dict:
    """Milliseconds per Engine.search call, overall and per language."""
    for _lang, text in asked[:WARMUP]:
        engine.search(Query(text=text, mode=mode))
    by_lang: dict[str, list[float]] = {lang: [] for lang in LANGUAGES}
    for lang, text in asked:
        ms, _page = timed(engine.search, Query(text=text, mode=mode))
        by_lang[lang].append(ms)
    every = [ms for values in by_lang.values() for ms in values]
    return {"all": percentiles(every),
            "by_language": {lang: percentiles(v) for lang, v in by_lang.items()}}


def hybrid_parts(engine: Engine, reader: LocalReader, asked: list[tuple[str, str]]) -> dict:
    """The steps of a hybrid query timed one by one, as Engine.search runs them (fusion, which
    takes microseconds, is left out)."""
    encoder = engine.encoder()
    window, settings = engine.settings.window, engine.settings
    languages = reader.catalog.languages
    parts: dict[str, list[float]] = {
        "checks and language detection": [], "keyword side": [], "query encoding": [],
        "vector side": [], "10 hits (texts, highlight, snippet)": []}
    for _lang, text in asked:
        ms, q = timed(understand, Query(text=text), settings, languages, engine._detector)
        parts["checks and language detection"].append(ms)
        ms, _ = timed(reader.keyword_candidates, q.text, q.lang, window, q.filters)
        parts["keyword side"].append(ms)
        ms, vector = timed(encoder.encode_query, q.text)
        parts["query encoding"].append(ms)
        ms, _ = timed(reader.vector_candidates, vector, window, q.filters)
        parts["vector side"].append(ms)
        shown = rank(q, reader, vector, encoder.info.languages, settings, window)[:10]
        ms, _ = timed(build_hits, shown, q, reader)
        parts["10 hits (texts, highlight, snippet)"].append(ms)
    return {name: percentiles(values) for name, values in parts.items()}


def vector_recall(engine: Engine, snapshot: LocalReader, asked: list[tuple[str, str]],
                  sweep: Sequence[int] = ()) -> dict:
    """The engine's vector search against exact search over the same live vectors; and the
    top 10's recall and time at each efSearch value of `sweep`."""
    ef_search = engine.settings.hnsw_ef_search
    backend = engine.backend
    assert isinstance(backend, LocalBackend), "vector recall is measured on the local backend"
    pids, vectors = live_vectors(backend.store, snapshot.manifest)
    exact = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    exact.add_with_ids(np.ascontiguousarray(vectors), pids)
    del vectors
    queries = engine.encoder().encode_queries([text for _lang, text in asked])
    result: dict = {"approximate": snapshot.dense.approximate, "vectors": int(len(pids)),
                    "ef_search": ef_search}
    truth10: list[set[int]] = []
    for k in (10, 100):
        found, engine_ms, exact_ms = [], [], []
        for vector in queries:
            ms, approx = timed(snapshot.dense.search, vector, k, None, ef_search)
            engine_ms.append(ms)
            ms, (_scores, ids) = timed(exact.search, vector.reshape(1, -1), k)
            exact_ms.append(ms)
            truth = set(ids[0].tolist())
            found.append(len(truth & {c.pid for c in approx}) / k)
            if k == 10:
                truth10.append(truth)
        result[f"recall@{k}"] = round(float(np.mean(found)), 4)
        result[f"min_recall@{k}"] = round(float(np.min(found)), 2)
        result[f"engine_ms@{k}"] = percentiles(engine_ms)
        result[f"exact_ms@{k}"] = percentiles(exact_ms)
    result["ef_sweep"] = {}
    for ef in sweep:
        found, engine_ms = [], []
        for vector, truth in zip(queries, truth10, strict=True):
            ms, approx = timed(snapshot.dense.search, vector, 10, None, ef)
            engine_ms.append(ms)
            found.append(len(truth & {c.pid for c in approx}) / 10)
        result["ef_sweep"][ef] = {"recall@10": round(float(np.mean(found)), 4),
                                  "min_recall@10": round(float(np.min(found)), 2),
                                  "ms@10": percentiles(engine_ms)}
    return result


def plain_whoosh(snapshot: LocalReader, folder: Path, asked: list[tuple[str, str]]) -> dict:
    """A plain Whoosh index of the same paragraphs (built once), queried like a naive app would,
    beside the engine's keyword side on the same questions."""
    import whoosh.index
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.qparser import OrGroup, QueryParser

    built_s = None
    if not whoosh.index.exists_in(str(folder)):
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        index = whoosh.index.create_in(str(folder), Schema(pid=ID(stored=True), text=TEXT()))
        writer = index.writer(limitmb=256)
        for paragraph in snapshot.paragraph_store.in_order():
            writer.add_document(pid=str(paragraph.pid), text=paragraph.text)
        writer.commit()
        built_s = round(time.perf_counter() - started, 1)
    index = whoosh.index.open_dir(str(folder))
    parser = QueryParser("text", index.schema, group=OrGroup)
    plain_ms, ours_ms, failed = [], [], 0
    with index.searcher() as searcher:
        for _lang, text in asked[:WARMUP]:
            searcher.search(parser.parse(text), limit=100)
        for _lang, text in asked:
            try:
                ms, _ = timed(lambda t: searcher.search(parser.parse(t), limit=100), text)
                plain_ms.append(ms)
            except Exception:  # noqa: BLE001 - a naive parser failing on a question is the point
                failed += 1
            ms, _ = timed(snapshot.keyword.search, text, 100)
            ours_ms.append(ms)
    return {"plain_whoosh": percentiles(plain_ms), "plain_failed": failed,
            "engine_keyword_side": percentiles(ours_ms), "plain_build_s": built_s,
            "plain_dir": str(folder)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=INDEX)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--per-language", type=int, default=100,
                        help="questions per language (the same ones in every language)")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain Whoosh run")
    parser.add_argument("--name", default="latency", help="results file name")
    parser.add_argument("--ef-sweep", default="",
                        help="also measure top-10 vector recall at these efSearch values, "
                             "e.g. 384,768,1024")
    args = parser.parse_args()
    require_data(args.data)
    asked = questions(args.data, args.per_language)
    at_start = machine()

    started = time.perf_counter()
    engine = Engine(args.index).open()
    open_s = time.perf_counter() - started
    ms, _ = timed(engine.encoder)
    result: dict = {"index": str(args.index), "queries": len(asked), "open_s": round(open_s, 1),
                    "model_load_s": round(ms / 1000, 1)}
    with engine._reader() as snapshot:  # the live generation, for the per-part timings
        assert isinstance(snapshot, LocalReader), "the per-part timings read the local backend"
        result["paragraphs"] = snapshot.catalog.paragraphs
        result["modes"] = {m.value: mode_latency(engine, asked, m) for m in Mode}
        result["hybrid_parts"] = hybrid_parts(engine, snapshot, asked)
        sweep = [int(v) for v in args.ef_sweep.split(",") if v.strip()]
        result["vectors"] = vector_recall(engine, snapshot, asked, sweep)
        if not args.no_plain:
            folder = args.index.with_name(args.index.name + "-plain-whoosh")
            result["keyword_vs_plain"] = plain_whoosh(snapshot, folder, asked)
    engine.close()
    result["machine"] = {"start": at_start, "end": machine()}
    save_result(args.name, result)
    report(result)


def report(result: dict) -> None:
    print(f"{result['paragraphs']} paragraphs, {result['queries']} questions "
          f"({len(LANGUAGES)} languages); load average at start "
          f"{result['machine']['start']['loadavg']}, at end {result['machine']['end']['loadavg']}")
    rows: list[list[object]] = [["ms", "p50", "p95", "p99", "mean", "max"]]
    for mode, stats in result["modes"].items():
        s = stats["all"]
        rows.append([f"Engine.search {mode}", s["p50"], s["p95"], s["p99"], s["mean"], s["max"]])
    for part, s in result["hybrid_parts"].items():
        rows.append([f"  hybrid: {part}", s["p50"], s["p95"], s["p99"], s["mean"], s["max"]])
    vectors = result["vectors"]
    for k in (10, 100):
        for side in ("engine", "exact"):
            s = vectors[f"{side}_ms@{k}"]
            rows.append([f"vectors top-{k} {side}", s["p50"], s["p95"], s["p99"], s["mean"],
                         s["max"]])
    plain = result.get("keyword_vs_plain")
    if plain:
        for name in ("engine_keyword_side", "plain_whoosh"):
            s = plain[name]
            rows.append([f"top-100 {name}", s["p50"], s["p95"], s["p99"], s["mean"], s["max"]])
    print_table(rows)
    print(f"recall@10 {vectors['recall@10']} (min {vectors['min_recall@10']}), "
          f"recall@100 {vectors['recall@100']} (min {vectors['min_recall@100']}); "
          f"approximate: {vectors['approximate']}")
    for ef, found in vectors.get("ef_sweep", {}).items():
        print(f"efSearch {ef}: recall@10 {found['recall@10']} (min {found['min_recall@10']}), "
              f"p50 {found['ms@10']['p50']} ms, p95 {found['ms@10']['p95']} ms")
    if plain and plain["plain_failed"]:
        print(f"plain Whoosh failed to parse {plain['plain_failed']} questions")


if __name__ == "__main__":
    main()
