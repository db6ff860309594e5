"""Indexing speed: a whole `search index` run on English, Russian and Chinese paragraphs.

    python bench/indexing.py                       # 1,200 paragraphs, then a profiled run
    python bench/indexing.py --paragraphs 600 --no-profile

The corpus: equal shares of English, Russian and Chinese paragraphs of about 120 words (Chinese
ones as long as 120 English words translate to, by the XQuAD-R character ratio), recombined
from XQuAD-R sentences, ten to an article, as JSON Lines without a language field (so that
language detection runs as it does for most seeds). Each run indexes them from scratch into a
new folder (cold embedding cache) with `search index --json`; the rate is paragraphs over the
command's wall time, which includes starting Python and loading the model.

The profiled run samples the same command with py-spy (all threads, idle frames dropped; pass
--py-spy PATH if it is not on PATH) and reports where the time goes. Prints tables and writes
bench/results/indexing.json.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from corpus import (
    DATA,
    Source,
    count_words,
    machine,
    print_table,
    require_data,
    save_result,
    search_command,
    xquad_sources,
)

ROOT = Path(__file__).resolve().parents[1]
WORK = Path("/tmp/search-bench/indexing")
MIX = ("en", "ru", "zh")
WORDS = 120
# Each sample goes to the first stage (in this order) with a frame on its stack; a frame is
# "path:function" or a part of a path. "of which" lines are shares of all samples too.
STAGES = {
    "model loading (with its imports)": ("search/encoders/loading.py:load_encoder",),
    "embedding (encoder)": ("search/encoders/base.py:encode",),
    "language detection": ("search/ingest/language.py:detect",),
    "keyword index (second thread)": ("search/index/updater.py:_write_text",),
    "writing segments and vectors": ("search/backends/local/segments.py:write_segment",),
    "embedding cache": ("search/index/embedding_cache.py:put_many",
                        "search/index/embedding_cache.py:get_many"),
    "publishing the generation": ("search/backends/local/writer.py:publish",),
    "reading and chunking seeds": ("search/index/updater.py:collect",),
    "start-up and other imports": ("<frozen importlib._bootstrap>:_find_and_load",),
}
DETAILS = {
    "embedding: tokenizing": ("search/encoders/base.py:encode",
                              "search/encoders/use_model.py:preprocess"),
    "embedding: model forward": ("search/encoders/base.py:encode",
                                 "search/encoders/use_model.py:forward"),
    "keyword: text analysis": ("search/index/updater.py:_write_text", "search/analysis.py"),
    "keyword: Whoosh commit": ("search/index/updater.py:_write_text",
                               "whoosh/writing.py:commit"),
}


def sized(source: Source, rng: random.Random, target: int) -> str | None:
    """Consecutive sentences of one article from a random start, stopping at `target` words
    (whitespace words; characters for Chinese)."""
    pool = source.sentences
    start = rng.randrange(len(pool))
    picked: list[str] = []
    size = 0
    for sentence in pool[start:] + pool[:start]:
        picked.append(sentence)
        size += len(sentence) if source.lang == "zh" else len(sentence.split())
        if size >= target:
            break
    text = ("" if source.lang == "zh" else " ").join(picked)
    return text if size >= target * 0.8 and count_words(text) >= 8 else None


def build_corpus(data: Path, out: Path, total: int, seed: int) -> dict:
    rng = random.Random(seed)
    sources = {lang: xquad_sources(data, lang) for lang in MIX}
    english_words = sum(len(s.split()) for src in sources["en"] for s in src.sentences)
    chinese_chars = sum(len(s) for src in sources["zh"] for s in src.sentences)
    targets = {"en": WORDS, "ru": WORDS, "zh": round(WORDS * chinese_chars / english_words)}
    taken: set[str] = set()
    records = []
    for lang in MIX:
        texts: list[str] = []
        wanted = total // len(MIX) + (MIX.index(lang) < total % len(MIX))
        tries = 0
        while len(texts) < wanted:
            tries += 1
            if tries > 100 * wanted:  # each start sentence gives one text: ~600 per language
                raise SystemExit(f"only {len(texts)} distinct {lang} paragraphs could be made; "
                                 "ask for fewer with --paragraphs")
            text = sized(rng.choice(sources[lang]), rng, targets[lang])
            if text and text not in taken:
                taken.add(text)
                texts.append(text)
        for start in range(0, len(texts), 10):
            records.append({"id": f"{lang}-{start // 10:04d}", "title": f"{lang} {start // 10}",
                            "text": "\n\n".join(texts[start : start + 10])})
    rng.shuffle(records)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    (out / "mix.jsonl").write_text(lines, encoding="utf-8")
    lengths = {lang: statistics.mean(len(t.split()) if lang != "zh" else len(t)
                                     for r in records if r["id"].startswith(lang)
                                     for t in r["text"].split("\n\n")) for lang in MIX}
    return {"paragraphs": len(taken), "articles": len(records), "target_size": targets,
            "mean_size": {k: round(v) for k, v in lengths.items()},
            "size_unit": "words (zh: characters)"}


def index_once(seeds: Path, index: Path, profiler: list[str] | None = None) -> dict:
    if index.exists():
        shutil.rmtree(index)
    command = search_command("index", "--rebuild", "--seeds", str(seeds), "--index", str(index),
                             "--json")
    started = time.perf_counter()
    done = subprocess.run([*(profiler or []), *command], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    seconds = time.perf_counter() - started
    # py-spy prints its own lines around the command's JSON.
    summary, _end = json.JSONDecoder().raw_decode(done.stdout[done.stdout.index("{"):])
    return {"wall_s": round(seconds, 2), "in_process_s": summary["seconds"],
            "paragraphs": summary["paragraphs_added"],
            "paragraphs_per_s": round(summary["paragraphs_added"] / seconds, 1),
            "command": " ".join(command[-8:])}


def profile(seeds: Path, index: Path, py_spy: str, raw: Path) -> dict:
    """Sample a run with py-spy and sum the samples by stage and by leaf function."""
    run = index_once(seeds, index, [py_spy, "record", "--format", "raw", "--rate", "100",
                                    "--threads", "-o", str(raw), "--"])
    return {"run": run, **summarize(raw)}


def summarize(raw: Path) -> dict:
    stacks: collections.Counter[str] = collections.Counter()
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        stacks[stack] += int(count)
    total = sum(stacks.values())
    stages: collections.Counter[str] = collections.Counter()
    details: collections.Counter[str] = collections.Counter()
    for stack, n in stacks.items():
        frames = stack.split(";")

        def has(needle: str, frames: list[str] = frames) -> bool:
            return any(_frame_matches(frame, needle) for frame in frames)

        stage = next((name for name, needles in STAGES.items() if any(map(has, needles))),
                     "other (no Python frame, or elsewhere)")
        stages[stage] += n
        for name, (outer, *inner) in DETAILS.items():
            if has(outer) and any(map(has, inner)):
                details[name] += n
    threads = collections.Counter()
    leaves = collections.Counter()
    for stack, n in stacks.items():
        frames = stack.split(";")
        threads[frames[0]] += n
        leaves[_short(frames[-1])] += n
    return {
        "samples": total,
        "by_thread_pct": {k: round(100 * v / total, 1) for k, v in threads.most_common()},
        "by_stage_pct": {k: round(100 * v / total, 1) for k, v in stages.most_common()},
        "details_pct": {k: round(100 * details[k] / total, 1) for k in DETAILS},
        "top_leaf_functions_pct": {k: round(100 * v / total, 1)
                                   for k, v in leaves.most_common(15)},
    }


def _frame_matches(frame: str, needle: str) -> bool:
    """py-spy raw frames look like 'function (path/to/file.py:123)'; a needle is
    'path:function' or a part of a path."""
    function, _, where = frame.partition(" (")
    if ":" in needle:
        path, _, name = needle.rpartition(":")
        return (function == name or function.endswith("." + name)) and path in where
    return needle in where


def _short(frame: str) -> str:
    function, _, where = frame.partition(" (")
    where = where.rstrip(")")
    parts = where.split("/")
    return f"{function} ({'/'.join(parts[-2:])})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--paragraphs", type=int, default=1200)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    args = parser.parse_args()
    require_data(args.data)
    seeds, index = args.work / "seeds", args.work / "index"
    at_start = machine()
    result: dict = {"corpus": build_corpus(args.data, seeds, args.paragraphs, 6)}
    result["runs"] = [index_once(seeds, index) for _ in range(args.runs)]
    result["best_paragraphs_per_s"] = max(r["paragraphs_per_s"] for r in result["runs"])
    if not args.no_profile:
        result["profile"] = profile(seeds, index, args.py_spy, args.work / "profile.txt")
    result["machine"] = {"start": at_start, "end": machine()}
    save_result("indexing", result)
    report(result)


def report(result: dict) -> None:
    c = result["corpus"]
    print(f"{c['paragraphs']} paragraphs (mean size {c['mean_size']} {c['size_unit']}); "
          f"load average at start {result['machine']['start']['loadavg']}, "
          f"at end {result['machine']['end']['loadavg']}")
    rows: list[list[object]] = [["run", "wall s", "in-process s", "paragraphs/s"]]
    for number, run in enumerate(result["runs"], start=1):
        rows.append([number, run["wall_s"], run["in_process_s"], run["paragraphs_per_s"]])
    print_table(rows)
    p = result.get("profile")
    if p:
        print(f"\nprofiled run (py-spy, {p['samples']} samples, slower than unprofiled): "
              f"{p['run']['wall_s']} s")
        print_table([["stage", "% of samples"], *[[k, v] for k, v in p["by_stage_pct"].items()],
                     *[[k, v] for k, v in p["details_pct"].items()]])
        print_table([["thread", "% of samples"], *[[k, v] for k, v in p["by_thread_pct"].items()]])
        print_table([["leaf function", "% of samples"],
                     *[[k, v] for k, v in p["top_leaf_functions_pct"].items()]])


if __name__ == "__main__":
    main()
