"""The keyword side of two versions of the code, side by side in one run: build time, index
size and query latency at 100,000 paragraphs.

Each side is a source tree. Each builds its own keyword index (only the Whoosh side, with
`KeywordIndex`, from the corpus of bench/corpus.py: one paragraph per blank-line block) in a
worker process, then both indexes are searched by two worker processes: every question goes
to one and then the other, alternating which goes first, so that both meet the same machine
load. A worker times `KeywordIndex.search(question, 100, lang=...)` (the question's language, as
the engine passes it, to the versions that take one), which is the whole keyword side of a
query (`LocalReader.keyword_candidates` without filters), and returns its top 10, so the run
also tells how far the two versions' rankings differ.

    python bench/keyword_side_by_side.py --old /work/main --new .
    python bench/keyword_side_by_side.py --old /work/main --new . --paragraphs 5000 \
        --per-language 10 --work /tmp/kw-small                    # a quick look

Prints a table and writes bench/results/keyword-side-by-side.json. Exits with status 2 when the
XQuAD-R data folder is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from corpus import (
    DATA,
    OUT,
    machine,
    percentiles,
    print_table,
    questions,
    require_data,
    save_result,
)

WARMUP = 30
BUILD = r"""
import json, sys, time
from pathlib import Path
from search.backends.local.keyword import KeywordDoc, KeywordIndex

corpus, folder, limit = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])

def docs():
    pid = 0
    for path in sorted(corpus.glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            article = json.loads(line)
            for text in article["text"].split("\n\n"):
                if pid == limit:
                    return
                pid += 1
                yield KeywordDoc(pid, article["lang"], article["title"], text)

folder.mkdir(parents=True)
started = time.perf_counter()
with KeywordIndex.create(folder) as index:
    index.add(docs())
    index.commit()
    count = index.count()
size = sum(f.stat().st_size for f in folder.iterdir())
print(json.dumps({"paragraphs": count, "build_s": round(time.perf_counter() - started, 1),
                  "size_mb": round(size / 1e6, 1)}))
"""
SEARCH = r"""
import inspect, json, sys, time
from pathlib import Path
from search.backends.local.keyword import KeywordIndex

index = KeywordIndex.open(Path(sys.argv[1]))
# The query's language, as the engine passes it, where the version takes one.
takes_lang = "lang" in inspect.signature(index.search).parameters
limit = int(sys.argv[2])
print("ready", flush=True)
for line in sys.stdin:
    lang, text = json.loads(line)
    started = time.perf_counter()
    hits = index.search(text, limit, lang=lang) if takes_lang else index.search(text, limit)
    ms = (time.perf_counter() - started) * 1000
    print(json.dumps({"ms": ms, "top": [hit.pid for hit in hits[:10]]}), flush=True)
"""


class Side:
    """A source tree, its keyword index and a worker process searching it."""

    def __init__(self, name: str, tree: str, work: Path) -> None:
        self.name, self.tree = name, Path(tree).resolve()
        self.index = work / name
        self.env = {**os.environ, "PYTHONPATH": str(self.tree)}
        self.process: subprocess.Popen[str] | None = None

    def build(self, corpus: Path, paragraphs: int) -> dict:
        if self.index.exists():
            return {"reused": str(self.index)}
        done = subprocess.run(
            [sys.executable, "-c", BUILD, str(corpus), str(self.index), str(paragraphs)],
            env=self.env, cwd=self.tree, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    def start(self, limit: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SEARCH, str(self.index), str(limit)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env=self.env, cwd=self.tree)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit(f"the {self.name} worker did not start")

    def ask(self, lang: str, text: str) -> dict:
        assert self.process is not None and self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps([lang, text]) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def stop(self) -> None:
        if self.process is not None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=60)


def compare(old: Side, new: Side, asked: list[tuple[str, str]]) -> dict:
    first = {side.name: side.ask(*asked[0])["ms"] for side in (old, new)}
    for lang, text in asked[:WARMUP]:
        old.ask(lang, text)
        new.ask(lang, text)
    times: dict[str, list[float]] = {old.name: [], new.name: []}
    overlap: list[float] = []
    for number, (lang, text) in enumerate(asked):
        order = (old, new) if number % 2 == 0 else (new, old)
        answers = {side.name: side.ask(lang, text) for side in order}
        for name, answer in answers.items():
            times[name].append(answer["ms"])
        a, b = answers[old.name]["top"], answers[new.name]["top"]
        overlap.append(len(set(a) & set(b)) / max(len(a), 1))
    result = {name: percentiles(values) for name, values in times.items()}
    result["ratio"] = {key: round(result[new.name][key] / result[old.name][key], 3)
                       for key in ("p50", "p95", "mean")}
    result["first_query_ms"] = {name: round(ms, 1) for name, ms in first.items()}
    result["top10_overlap"] = round(sum(overlap) / len(overlap), 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="source tree of the old code")
    parser.add_argument("--new", default=".", help="source tree of the new code")
    parser.add_argument("--corpus", type=Path, default=OUT)
    parser.add_argument("--work", type=Path, default=Path("/tmp/search-bench/keyword-sbs"))
    parser.add_argument("--paragraphs", type=int, default=100_000)
    parser.add_argument("--per-language", type=int, default=50)
    parser.add_argument("--limit", type=int, default=100, help="candidates per query")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--name", default="keyword-side-by-side")
    args = parser.parse_args()
    require_data(args.data)
    asked = questions(args.data, args.per_language)
    old, new = Side("old", args.old, args.work), Side("new", args.new, args.work)
    built = {side.name: side.build(args.corpus, args.paragraphs) for side in (old, new)}
    for side in (old, new):
        side.start(args.limit)
    try:
        result = compare(old, new, asked)
    finally:
        old.stop()
        new.stop()
    result.update(build=built, questions=len(asked), limit=args.limit, machine=machine(),
                  trees={"old": str(old.tree), "new": str(new.tree)})
    rows = [["", "p50 ms", "p95 ms", "mean ms"]]
    rows += [[name, result[name]["p50"], result[name]["p95"], result[name]["mean"]]
             for name in ("old", "new")]
    rows.append(["new/old", result["ratio"]["p50"], result["ratio"]["p95"],
                 result["ratio"]["mean"]])
    print_table(rows)
    print(f"first query (new: builds the typo vocabulary): {result['first_query_ms']} ms; "
          f"top-10 overlap {result['top10_overlap']}; build {built}")
    print(save_result(args.name, result))


if __name__ == "__main__":
    main()
