"""Batch search and export at scale: 1,000 names in keyword mode and 1,000 questions in
hybrid mode as one batch, against the same queries one by one through /api/search (one
run, side by side), and the memory of exporting 100,000 rows.

    python bench/corpus.py --out /tmp/search-bench/corpus-100k
    search index --seeds /tmp/search-bench/corpus-100k --index /tmp/search-bench/index-100k-usem3 \\
        --model usem3
    python bench/batch.py --parts keyword,hybrid \\
        --hybrid-index /tmp/search-bench/index-100k-usem3

The keyword part needs no model: its 100,000-paragraph index is built here with a hashing
encoder when the folder holds none (the keyword side never reads vectors). The hybrid part
uses an index built with a real model and loads that index's own model (bundled: e5-small or
usem3, never downloaded); embedding 100,000 paragraphs with e5-small takes hours on 2 cores,
so the recorded hybrid part runs on usem3, and beside it times encoding the same questions
with e5-small, in one batch and one by one (what the batch and /api/search pay for e5's
query vectors). The export part builds its own corpus, where every paragraph matches, and
samples the process's resident memory while 100,000 rows are written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import regex

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import DATA, machine, questions, save_result  # noqa: E402

from search.config import Settings  # noqa: E402
from search.encoders.base import ModelInfo  # noqa: E402
from search.encoders.loading import load_encoder  # noqa: E402
from search.encoders.precision import cpu_flags  # noqa: E402
from search.encoders.queries import encode_query_batch  # noqa: E402
from search.engine import Engine  # noqa: E402
from search.index.updater import update_index  # noqa: E402
from search.investigate.batch import run_batch  # noqa: E402
from search.investigate.batch_input import BatchInput, BatchItem  # noqa: E402
from search.investigate.export import ExportFormat, export_lines  # noqa: E402
from search.memo import ANALYSIS  # noqa: E402
from search.ranking.query import Mode, Query  # noqa: E402

WORK = Path("/tmp/search-bench")
_WORD = regex.compile(r"\w+")
_NAME = regex.compile(r"\b\p{Lu}\p{Ll}{3,}\b")


class HashingEncoder:
    """Bag-of-words vectors from hashed words: the keyword benchmarks need an index, not
    meaning."""

    def __init__(self, dim: int = 64) -> None:
        self.info = ModelInfo(name="hashing", dim=dim, languages=None, max_chars=2000)

    def encode(self, texts, batch_size: int = 64) -> np.ndarray:
        vectors = np.zeros((len(texts), self.info.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8", "replace"), digest_size=4)
                vectors[row, int.from_bytes(digest.digest(), "little") % self.info.dim] += 1.0
            vectors[row, 0] += 1e-3
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def hashing_index(seeds: Path, index: Path) -> Path:
    if not (index / "CURRENT").exists():
        started = time.perf_counter()
        encoder = HashingEncoder()
        update_index(seeds, index, Settings(model="hashing"), lambda: encoder)
        print(f"indexed {seeds} in {time.perf_counter() - started:.0f} s", flush=True)
    return index


def names(corpus: Path, count: int, seed: int = 6) -> list[str]:
    """`count` capitalised words of the corpus (names, places, in several scripts), a tenth
    of them with a typo, and a tenth made up."""
    found: dict[str, None] = {}
    for path in sorted(corpus.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            for word in _NAME.findall(json.loads(line)["text"]):
                found.setdefault(word)
    rng = random.Random(seed)
    chosen = rng.sample(sorted(found), count)
    for i in range(0, count, 10):
        word = chosen[i]
        chosen[i] = word[:2] + word[3] + word[2] + word[4:]  # swapped letters
    for i in range(5, count, 10):
        chosen[i] = "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(9)).title()
    return chosen


def time_batch(engine: Engine, texts: list[str], mode: Mode) -> float:
    batch = BatchInput([BatchItem(i + 1, text) for i, text in enumerate(texts)])
    started = time.perf_counter()
    run_batch(engine, batch, mode)
    return time.perf_counter() - started


def time_one_by_one(index: Path, encoder_factory, texts: list[str], mode: Mode) -> float:
    from web import create_app

    app = create_app({"TESTING": True, "INDEX_DIR": index, "ENCODER_FACTORY": encoder_factory,
                      "LOAD_MODEL": mode is not Mode.KEYWORD, "FOLLOW_INTERVAL": 0})
    try:
        client = app.test_client()
        started = time.perf_counter()
        for text in texts:
            answer = client.get("/api/search", query_string={"q": text, "mode": mode.value})
            assert answer.status_code == 200, answer.get_data(as_text=True)
        return time.perf_counter() - started
    finally:
        app.extensions["search"].close()


def side_by_side(index: Path, encoder_factory, texts: list[str], mode: Mode) -> dict:
    warm = ["warm up", "Kyiv talks"]
    with Engine(index, encoder_factory=encoder_factory).open() as engine:
        model = engine.stats().model
        time_batch(engine, warm, mode)
        # Both sides start with no word analysed: the batch would otherwise leave the
        # analyses of the paragraphs it explained to the queries one by one.
        ANALYSIS.clear()
        batch = time_batch(engine, texts, mode)
    # What counting costs: the same batch counting among as few candidates as /api/search
    # (a fresh engine: pages are cached by their count window, but not analyses).
    with Engine(index, encoder_factory=encoder_factory).open() as engine:
        time_batch(engine, warm, mode)  # loads the model
        ANALYSIS.clear()
        with few_counted(engine.settings.count_window):
            small = time_batch(engine, texts, mode)
    ANALYSIS.clear()
    one_by_one = time_one_by_one(index, encoder_factory, texts, mode)
    return {"queries": len(texts), "mode": mode.value, "model": model,
            "batch_s": round(batch, 2),
            "batch_ms_per_query": round(1000 * batch / len(texts), 2),
            "batch_counting_as_api_ms_per_query": round(1000 * small / len(texts), 2),
            "one_by_one_s": round(one_by_one, 2),
            "one_by_one_ms_per_query": round(1000 * one_by_one / len(texts), 2),
            "speedup": round(one_by_one / batch, 2)}


@contextmanager
def few_counted(window: int) -> Iterator[None]:
    """run_batch counting among `window` candidates a side, as /api/search does."""
    import search.investigate.batch as batch_module

    kept = batch_module.BATCH_COUNT_WINDOW, batch_module.MEANING_COUNT_WINDOW
    batch_module.BATCH_COUNT_WINDOW = batch_module.MEANING_COUNT_WINDOW = window
    try:
        yield
    finally:
        batch_module.BATCH_COUNT_WINDOW, batch_module.MEANING_COUNT_WINDOW = kept


def query_encoding(model: str, texts: list[str]) -> dict:
    """Encoding `texts` as queries with `model`, in one batch (Engine.encode_queries's way)
    and one by one (/api/search's), on one torch thread as the engine runs queries."""
    encoder = load_encoder(model, 1)
    encode_query_batch(encoder, texts[:8])
    encoder.encode_query(texts[0])
    started = time.perf_counter()
    encode_query_batch(encoder, texts)
    batched = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        encoder.encode_query(text)
    single = time.perf_counter() - started
    return {"model": model, "queries": len(texts), "batch_s": round(batched, 2),
            "batch_ms_per_query": round(1000 * batched / len(texts), 2),
            "one_by_one_s": round(single, 2),
            "one_by_one_ms_per_query": round(1000 * single / len(texts), 2)}


def summary(result: dict) -> str:
    """The figures in a few lines."""
    lines = [f"load average {result['machine']['loadavg']}, "
             f"{result['machine']['nproc']} cores, CPU flags {' '.join(result['cpu_flags'])}"]
    for part, target in (("keyword", 10.0), ("hybrid", 30.0)):
        if part in result:
            r = result[part]
            lines.append(f"{part} ({r['model']}, {r['queries']} queries): batch "
                         f"{r['batch_s']} s ({r['batch_ms_per_query']} ms/query, target "
                         f"{target:.0f} s), one by one {r['one_by_one_s']} s "
                         f"({r['one_by_one_ms_per_query']} ms/query), x{r['speedup']}; "
                         f"the batch counting among as few as /api/search: "
                         f"{r['batch_counting_as_api_ms_per_query']} ms/query")
    if "query_encoding" in result:
        r = result["query_encoding"]
        lines.append(f"{r['model']} query vectors ({r['queries']}): batched {r['batch_s']} s "
                     f"({r['batch_ms_per_query']} ms/query), one by one {r['one_by_one_s']} s")
    if "export" in result:
        r = result["export"]
        lines.append(f"export {r['rows']} rows in {r['seconds']} s, resident memory "
                     f"{r['rss_before_mb']} -> {r['rss_by_rows_mb'][-1][1]} MB")
    return "\n".join(lines)


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def export_memory(rows: int) -> dict:
    """Resident memory while exporting `rows` matches (every paragraph of a generated
    corpus names the harbour), sampled every 10,000 rows."""
    seeds = WORK / f"export-corpus-{rows}"
    if not seeds.exists():
        seeds.mkdir(parents=True)
        with (seeds / "feed.jsonl").open("w", encoding="utf-8") as out:
            for a in range(rows // 10):
                text = "\n\n".join(f"Paragraph {p} of story {a} about the harbour, the "
                                   f"ferries and item {a * 10 + p} of the council."
                                   for p in range(10))
                out.write(json.dumps({"id": f"s{a}", "title": f"Story {a}", "lang": "en",
                                      "date": f"2024-{a % 12 + 1:02d}-01", "text": text}) + "\n")
    index = hashing_index(seeds, WORK / f"export-index-{rows}")
    encoder = HashingEncoder()
    samples: list[tuple[int, float]] = []
    with Engine(index, encoder_factory=lambda model: encoder).open() as engine:
        before = rss_mb()
        started = time.perf_counter()
        matching = engine.matches(Query("harbour", mode=Mode.KEYWORD), rows)
        listed = rss_mb()
        written = 0
        with open("/dev/null", "w", encoding="utf-8") as sink:
            for line in export_lines(matching, ExportFormat.CSV, rows):
                sink.write(line)
                written += 1
                if written % 10_000 == 0:
                    samples.append((written, round(rss_mb(), 1)))
        seconds = time.perf_counter() - started
    return {"rows": written - 1, "seconds": round(seconds, 1),
            "rss_before_mb": round(before, 1), "rss_after_listing_mb": round(listed, 1),
            "rss_by_rows_mb": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=WORK / "corpus-100k")
    parser.add_argument("--keyword-index", type=Path, default=WORK / "index-100k-hashing-b")
    parser.add_argument("--hybrid-index", type=Path, default=WORK / "index-100k-usem3")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--export-rows", type=int, default=100_000)
    parser.add_argument("--parts", default="keyword,hybrid,export",
                        help="any of keyword, hybrid, export (hybrid also times e5-small's "
                             "query vectors)")
    parser.add_argument("--query-model", default="e5-small",
                        help="the model whose query encoding is timed beside the hybrid part")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    flags = sorted(cpu_flags() & {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni",
                                  "amx_bf16", "amx_int8"})
    result: dict = {"machine": machine(), "cpu_flags": flags, "command": " ".join(sys.argv)}
    if "keyword" in parts:
        index = hashing_index(args.corpus, args.keyword_index)
        encoder = HashingEncoder()
        result["keyword"] = {"index": str(index), **side_by_side(
            index, lambda model: encoder, names(args.corpus, args.queries), Mode.KEYWORD)}
        print(result["keyword"], flush=True)
    if "hybrid" in parts:
        asked = [q for _, q in questions(DATA, -(-args.queries // 11))][: args.queries]
        result["hybrid"] = {"index": str(args.hybrid_index), **side_by_side(
            args.hybrid_index, None, asked, Mode.HYBRID)}
        print(result["hybrid"], flush=True)
        result["query_encoding"] = query_encoding(args.query_model, asked)
        print(result["query_encoding"], flush=True)
    if "export" in parts:
        result["export"] = export_memory(args.export_rows)
        print(result["export"], flush=True)
    # Parts run apart (--parts) add to the recorded result, each with its machine state.
    recorded = ROOT / "bench" / "results" / "batch.json"
    earlier = json.loads(recorded.read_text(encoding="utf-8")) if recorded.exists() else {}
    for part in ("keyword", "hybrid", "query_encoding", "export"):
        if part in result:
            result[part] |= {"machine": result["machine"], "cpu_flags": flags,
                             "command": result["command"]}
    save_result("batch", earlier | result)
    print(summary(result), flush=True)


if __name__ == "__main__":
    main()
