"""Alerts at scale: 10,000 alerts against a generation adding 1,000 paragraphs (target <= 2 s),
and what 1,000 alerts add to a `search index` run of 1,000 paragraphs (target <= 10 %).

The paragraphs are XQuAD-R dev's (11 languages); the alerts are its questions (70 %, hybrid
queries) and watchlists of 3-5 names (30 %: capitalised words inside a sentence that at most
three of the new paragraphs hold). Vectors come from a
hashing encoder of the default model's dimension (512), so the runs measure the alerts, not
the model: the index runs embed nothing real, which makes the share the alerts add to them an
upper bound (with the real model a run of 1,000 paragraphs takes minutes, not seconds). The
alerts' query vectors are stored before timing, as after their first evaluation.

    python bench/alerts.py                   # bench/results/alerts.json
    python bench/alerts.py --alerts 2000 --repeat 1

Exits with status 2 when the XQuAD-R data folder is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import regex

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import (  # noqa: E402
    DATA,
    LANGUAGES,
    machine,
    questions,
    require_data,
    save_result,
    xquad_sources,
)

from search.alerts import AlertKind, AlertStore, after_publish  # noqa: E402
from search.alerts.deliver import DeliveryPolicy  # noqa: E402
from search.alerts.evaluate import NewParagraph, evaluate  # noqa: E402
from search.alerts.watch import encode_queries  # noqa: E402
from search.backends import open_backend  # noqa: E402
from search.config import Settings  # noqa: E402
from search.encoders.base import Encoder, ModelInfo  # noqa: E402
from search.encoders.precision import cpu_flags  # noqa: E402
from search.index.updater import update_index  # noqa: E402
from search.ingest.language import LanguageDetector  # noqa: E402
from search.ranking.query import Mode  # noqa: E402

SETTINGS = Settings(model="hash512")
_WORD = regex.compile(r"\w+")
# A name: a capitalised word of 5+ letters inside a sentence (not its first word).
_NAME = regex.compile(r"(?<=\p{Ll}[,;]? )\p{Lu}\p{Ll}{4,}\b")


class HashModel:
    """Bag-of-words vectors from hashed words: deterministic, and texts sharing words are
    close; the default model's dimension, so the matrix work is the real size."""

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = np.zeros((len(texts), 512), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=4)
                vectors[row, int.from_bytes(digest.digest(), "little") % 512] += 1.0
            vectors[row, 0] += 1e-3
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


ENCODER = Encoder(HashModel(), ModelInfo("hash512", 512, None, 1500))
DETECTOR = LanguageDetector()


def write_corpus(data: Path, seeds: Path, first: int, count: int) -> list[str]:
    """XQuAD-R paragraphs number first..first+count (in a fixed shuffled order) as JSONL
    articles of one paragraph; their texts."""
    paragraphs = [(s.lang, s.title, " ".join(p)) for lang in LANGUAGES
                  for s in xquad_sources(data, lang) for p in s.paragraphs]
    random.Random(7).shuffle(paragraphs)
    chosen = paragraphs[first : first + count]
    seeds.mkdir(parents=True, exist_ok=True)
    with (seeds / f"part-{first:05d}.jsonl").open("w", encoding="utf-8") as out:
        for n, (lang, title, text) in enumerate(chosen):
            out.write(json.dumps({"id": f"{first + n}", "lang": lang, "title": title,
                                  "text": text}, ensure_ascii=False) + "\n")
    return [text for _, _, text in chosen]


def make_alerts(index: Path, data: Path, texts: list[str], count: int) -> None:
    """`count` alerts, their query vectors stored as after a first evaluation."""
    rng = random.Random(11)
    asked = [q for _, q in questions(data, count // len(LANGUAGES) + 1)]
    counts: dict[str, int] = {}
    for text in texts:
        for name in set(_NAME.findall(text)):
            counts[name] = counts.get(name, 0) + 1
    names = sorted(name for name, count in counts.items() if count <= 3)  # rare: names
    with AlertStore(index) as store:
        live = open_backend(index, SETTINGS).current()
        since = open_backend(index, SETTINGS).catalog(live).next_pid if live else 1
        with store.transaction() as db:
            for n in range(count):
                watchlist = n % 10 >= 7
                text = ("\n".join(rng.sample(names, rng.randint(3, 5))) if watchlist
                        else asked[n % len(asked)])
                db.execute(
                    "INSERT INTO alerts (name, kind, text, mode, filters, feed_token, created,"
                    " since_pid) VALUES (?, ?, ?, ?, ?, ?, '', ?)",
                    (f"a{n}", (AlertKind.WATCHLIST if watchlist else AlertKind.QUERY).value,
                     text, Mode.HYBRID.value,
                     json.dumps({"languages": [], "article_ids": [], "sources": [],
                                 "date_from": None, "date_to": None}), f"t{n}", since))
            db.execute("INSERT OR REPLACE INTO state VALUES ('watermark', ?)", (str(since),))
        alerts = [a for a in store.alerts() if a.kind is AlertKind.QUERY]
        vectors = encode_queries(ENCODER, [a.text for a in alerts])
        store.save_vectors(SETTINGS.model, {a.id: vectors[i] for i, a in enumerate(alerts)})


def index(seeds: Path, index_dir: Path) -> float:
    started = time.perf_counter()
    summary = update_index(seeds, index_dir, SETTINGS, lambda: ENCODER, detector=DETECTOR)
    assert not summary.warnings, summary.warnings
    return time.perf_counter() - started


def evaluation(work: Path, data: Path, alerts: int) -> dict:
    """10,000 alerts against a generation adding 1,000 paragraphs: the hook, timed alone."""
    seeds, index_dir = work / "eval-seeds", work / "eval-index"
    write_corpus(data, seeds, 0, 300)
    index(seeds, index_dir)
    new = write_corpus(data, seeds, 300, 1000)
    make_alerts(index_dir, data, new, alerts)
    store_file = index_dir / "alerts.sqlite"
    aside = work / "aside.sqlite"
    for suffix in ("", "-wal", "-shm"):  # the update publishes without the alerts ...
        if Path(f"{store_file}{suffix}").exists():
            shutil.move(f"{store_file}{suffix}", f"{aside}{suffix}")
    index(seeds, index_dir)
    for suffix in ("", "-wal", "-shm"):  # ... and the hook then evaluates what it added
        if Path(f"{aside}{suffix}").exists():
            shutil.move(f"{aside}{suffix}", f"{store_file}{suffix}")
    backend = open_backend(index_dir, SETTINGS)
    tracemalloc.start()
    started = time.perf_counter()
    run = after_publish(index_dir, backend, SETTINGS, lambda: ENCODER,
                        policy=DeliveryPolicy(budget=0))
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert not run.warnings and run.evaluated >= 1000, (run.warnings, run.evaluated)
    pure = _pure_evaluation(index_dir, backend, run.evaluated)
    return {"alerts": alerts, "new_paragraphs": run.evaluated, "seconds": round(seconds, 3),
            "pure_evaluate_seconds": round(pure, 3), "hits": run.recorded.hits,
            "translations": run.recorded.translations,
            "peak_python_mb": round(peak / 2**20, 1)}


def _pure_evaluation(index_dir: Path, backend, count: int) -> float:
    """`evaluate` alone (no reading, no recording) on the same paragraphs and alerts."""
    live = backend.current()
    reader = backend.open(live)
    try:
        catalog = reader.catalog
        pids = sorted(p for e in catalog.files.values() for p in e.pids)[-count:]
        records = reader.paragraphs(pids)
        articles = {a.id: a for a in reader.articles([r.article_id for r in records]) if a}
        paragraphs = [NewParagraph(r, articles[r.article_id]) for r in records]
        vectors = np.stack([reader.vector(p) for p in pids])
    finally:
        reader.close()
    with AlertStore(index_dir, writable=False) as store:
        alerts, stored = store.alerts(), store.vectors(SETTINGS.model)
    started = time.perf_counter()
    evaluate(alerts, {}, stored, paragraphs, vectors, SETTINGS)
    return time.perf_counter() - started


def index_runs(work: Path, data: Path, alerts: int, repeat: int) -> dict:
    """A `search index` run adding 1,000 paragraphs, without and with `alerts` alerts,
    alternating, `repeat` times each."""
    times: dict[str, list[float]] = {"without": [], "with": []}
    for n in range(repeat):
        for case in ("without", "with"):
            seeds, index_dir = work / f"{case}-{n}-seeds", work / f"{case}-{n}-index"
            write_corpus(data, seeds, 0, 300)
            index(seeds, index_dir)
            new = write_corpus(data, seeds, 300, 1000)
            if case == "with":
                make_alerts(index_dir, data, new, alerts)
            times[case].append(index(seeds, index_dir))
    without, with_ = statistics.median(times["without"]), statistics.median(times["with"])
    return {"alerts": alerts, "new_paragraphs": "1,000 articles (~1,030 paragraphs)",
            "seconds_without": [round(t, 3) for t in times["without"]],
            "seconds_with": [round(t, 3) for t in times["with"]],
            "median_without": round(without, 3), "median_with": round(with_, 3),
            "added_share": round(with_ / without - 1, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--run-alerts", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    require_data(args.data)
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as folder:
        work = Path(folder)
        found = {"machine": machine(), "cpu_flags_avx512": "avx512f" in cpu_flags(),
                 "command": "python bench/alerts.py " + " ".join(sys.argv[1:]),
                 "evaluation": evaluation(work, args.data, args.alerts),
                 "index_run": index_runs(work, args.data, args.run_alerts, args.repeat)}
    print(json.dumps(found, indent=1))
    save_result("alerts", found)


if __name__ == "__main__":
    main()
