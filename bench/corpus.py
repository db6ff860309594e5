"""A 100,000-paragraph multilingual corpus for the speed and memory benchmarks.

Built from the XQuAD-R dev paragraphs (11 languages, 1,320 paragraphs) and seeds/*.txt. Every
original paragraph is kept as it is; the rest are new paragraphs made by recombining sentences of
one article in one language (so each stays on one topic and in one language, with the length
distribution of the originals), all distinct. Generated paragraphs are grouped ten to an article
and written as JSON Lines files (one object per article: id, title, text, lang) that
`search index --seeds <out>` reads. The same seed gives the same corpus.

    python bench/corpus.py                              # /tmp/search-bench/corpus-100k
    python bench/corpus.py --paragraphs 3000 --out /tmp/c3k
    search index --seeds /tmp/search-bench/corpus-100k --index /tmp/search-bench/index-100k

Exits with status 2 when the XQuAD-R data folder is missing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search.ingest.chunking import count_words, split_paragraphs  # noqa: E402
from search.ingest.language import LanguageDetector  # noqa: E402
from search.ingest.seeds import read_articles, scan_seeds  # noqa: E402

DATA = Path("/work/shared/data/xquad-r-dev")
LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
OUT = Path("/tmp/search-bench/corpus-100k")
RESULTS = ROOT / "bench" / "results"
PARAGRAPHS = 100_000
PER_ARTICLE = 10
ARTICLES_PER_FILE = 500
# Generated paragraphs stay well inside the indexer's 1,500-character paragraph limit and above
# its 6-word minimum, so that each one is indexed as exactly one paragraph.
MAX_CHARS = 1400
MIN_WORDS = 8
_SENTENCE = re.compile(r"(?<=[.!?。！？؟।])\s+|(?<=[。！？])")


@dataclass(frozen=True)
class Source:
    """One article in one language: its paragraphs, each a list of sentences."""

    title: str
    lang: str
    paragraphs: list[list[str]]

    @property
    def sentences(self) -> list[str]:
        return [s for paragraph in self.paragraphs for s in paragraph]


def missing_data(data: Path) -> list[str]:
    return [lang for lang in LANGUAGES if not (data / f"{lang}.json").is_file()]


def require_data(data: Path) -> None:
    """Exit with status 2 and one line saying so when the XQuAD-R folder is not there (it is
    ../shared/data/xquad-r-dev beside a development checkout, absent from a user's clone)."""
    absent = missing_data(data)
    if absent:
        print(f"XQuAD-R data not found: {data} lacks {', '.join(absent)} (.json); "
              "pass --data DIR", file=sys.stderr)
        sys.exit(2)


def xquad_sources(data: Path, lang: str) -> list[Source]:
    """The articles of one XQuAD-R language file, split into sentences as the data gives them."""
    doc = json.loads((data / f"{lang}.json").read_text(encoding="utf-8"))
    sources = []
    for article in doc["data"]:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            sentences = [_tidy(s) for s in paragraph.get("sentences") or [paragraph["context"]]]
            paragraphs.append([s for s in sentences if s])
        sources.append(Source(article["title"].replace("_", " "), lang, paragraphs))
    return sources


def seed_sources(seeds: Path) -> list[Source]:
    """The articles of seeds/, their language detected, split at sentence ends."""
    detector = LanguageDetector()
    files, _problems = scan_seeds(seeds)
    sources = []
    for seed_file in files:
        for article in read_articles(seeds, seed_file):
            paragraphs = [
                [s for s in (_tidy(x) for x in _SENTENCE.split(block)) if s]
                for block in article.text.split("\n\n")
            ]
            lang = article.lang or detector.detect(article.text)
            sources.append(Source(article.title, lang, [p for p in paragraphs if p]))
    return sources


def _tidy(text: str) -> str:
    return " ".join(text.replace("\ufeff", " ").split())


def _joined(sentences: list[str], lang: str) -> str:
    return ("" if lang in ("zh", "ja") else " ").join(sentences)


def article_paragraphs(source: Source, count: int, rng: random.Random,
                       taken: set[str]) -> list[str]:
    """Up to `count` new paragraphs from one article, each as many sentences as a random
    original paragraph of it has, drawn from the whole article and kept in their order."""
    pool = source.sentences
    texts: list[str] = []
    for _attempt in range(count * 20):
        if len(texts) == count or len(pool) < 2:
            break
        length = min(max(len(rng.choice(source.paragraphs)), 2), len(pool))
        picks = sorted(rng.sample(range(len(pool)), length))
        text = _joined([pool[i] for i in picks], source.lang)
        while len(text) > MAX_CHARS and len(picks) > 1:
            picks.pop(rng.randrange(len(picks)))
            text = _joined([pool[i] for i in picks], source.lang)
        if len(text) > MAX_CHARS or count_words(text) < MIN_WORDS or text in taken:
            continue
        taken.add(text)
        texts.append(text)
    return texts


def build(data: Path, seeds: Path, out: Path, total: int, seed: int) -> dict:
    """Write the corpus into `out` (replacing it) and return a summary."""
    rng = random.Random(seed)
    by_lang = {lang: xquad_sources(data, lang) for lang in LANGUAGES}
    extra = seed_sources(seeds) if seeds.is_dir() else []
    originals = [s for sources in by_lang.values() for s in sources] + extra
    for source in extra:
        if source.lang in by_lang:
            by_lang[source.lang].append(source)

    records: list[dict] = []
    taken: set[str] = set()
    for number, source in enumerate(originals):
        texts = [_joined(p, source.lang) for p in source.paragraphs]
        taken.update(texts)
        records.append(_record(f"orig-{source.lang}-{number:04d}", source.title, source.lang,
                               texts))
    # A few originals are longer than the indexer's paragraph limit and become two paragraphs.
    original_count = _chunks(records)
    to_make = max(total - original_count, 0)
    shares = {lang: to_make // len(LANGUAGES) + (i < to_make % len(LANGUAGES))
              for i, lang in enumerate(LANGUAGES)}
    for lang in LANGUAGES:
        made = part = 0
        while made < shares[lang]:
            source = rng.choice(by_lang[lang])
            want = min(PER_ARTICLE, shares[lang] - made)
            texts = article_paragraphs(source, want, rng, taken)
            if texts:
                records.append(_record(f"gen-{lang}-{part:05d}", f"{source.title} ({part + 1})",
                                       lang, texts))
                made += len(texts)
                part += 1

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files = 0
    for start in range(0, len(records), ARTICLES_PER_FILE):
        chunk = records[start : start + ARTICLES_PER_FILE]
        lines = [json.dumps(_public(r), ensure_ascii=False) for r in chunk]
        (out / f"corpus-{files:03d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        files += 1
    paragraphs = _chunks(records)
    if paragraphs != max(total, original_count):
        raise SystemExit(f"the chunker sees {paragraphs} paragraphs, not {total}")
    languages: dict[str, int] = {}
    for r in records:
        languages[r["lang"]] = languages.get(r["lang"], 0) + len(r["paragraphs"])
    return {
        "out": str(out), "files": files, "articles": len(records), "paragraphs": paragraphs,
        "original_paragraphs": original_count, "languages": dict(sorted(languages.items())),
        "bytes": sum(p.stat().st_size for p in out.iterdir()), "seed": seed,
    }


def _record(article_id: str, title: str, lang: str, paragraphs: list[str]) -> dict:
    return {"id": article_id, "title": title, "lang": lang, "paragraphs": paragraphs}


def _public(record: dict) -> dict:
    return {"id": record["id"], "title": record["title"], "text": "\n\n".join(record["paragraphs"]),
            "lang": record["lang"]}


def _chunks(records: list[dict]) -> int:
    """Paragraphs as the indexer's chunker will see them."""
    return sum(len(split_paragraphs("\n\n".join(r["paragraphs"]))) for r in records)


# -- shared by the speed benchmarks (bench/latency.py, update.py, server.py, indexing.py) ------


def questions(data: Path, per_language: int, seed: int = 6) -> list[tuple[str, str]]:
    """(language, question) pairs: `per_language` XQuAD-R questions of each language, chosen at
    random (the same ones in every language), interleaved language by language."""
    docs = {lang: json.loads((data / f"{lang}.json").read_text(encoding="utf-8"))
            for lang in LANGUAGES}
    asked = {lang: [qa["question"].strip() for art in doc["data"] for par in art["paragraphs"]
                    for qa in par["qas"]] for lang, doc in docs.items()}
    count = min(len(v) for v in asked.values())
    chosen = random.Random(seed).sample(range(count), min(per_language, count))
    return [(lang, asked[lang][i]) for i in chosen for lang in LANGUAGES]


def percentiles(values_ms: list[float]) -> dict[str, float]:
    """p50, p95, p99, mean and max of a list of milliseconds (nearest-rank percentiles)."""
    ordered = sorted(values_ms)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]

    return {"n": len(ordered), "p50": round(rank(50), 2), "p95": round(rank(95), 2),
            "p99": round(rank(99), 2), "mean": round(sum(ordered) / len(ordered), 2),
            "max": round(ordered[-1], 2)}


def machine() -> dict:
    """Where and when a measurement ran: cores, CPU model, load average, versions."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model,
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "when": datetime.now(UTC).isoformat(timespec="seconds"), **_code_version()}


def _code_version() -> dict:
    """The commit measured, and the engine files that differed from it (a shared work tree)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip("\n")

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted": git("status", "--porcelain", "--", "search", "web").splitlines()}


def save_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def search_command(*args: str) -> list[str]:
    """The `search` CLI as a command line: the installed script, else `python -m search.cli`."""
    script = Path(sys.executable).with_name("search")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "search.cli", *args]


def print_table(rows: list[list[object]]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="XQuAD-R dev folder")
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--paragraphs", type=int, default=PARAGRAPHS)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    require_data(args.data)
    started = time.perf_counter()
    summary = build(args.data, args.seeds, args.out, args.paragraphs, args.seed)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    for key, value in summary.items():
        print(f"{key:<20} {value}")
    save_result("corpus", {"machine": machine(), **summary})


if __name__ == "__main__":
    main()
