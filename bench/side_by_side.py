"""Query latency of two versions of the engine, side by side in one run, and whether they agree.

Each side is a source tree and an index built by that tree. Both are loaded in worker
processes; every question is sent to one and then the other, alternating which goes first, so
that both meet the same machine load. Each worker times `Engine.search` in process (page 1,
10 hits, highlighted, as the API answers) and returns its top 10, so the run also tells whether
the two versions rank alike.

    git worktree add /tmp/base <old commit>
    PYTHONPATH=/tmp/base python -m search.cli index --seeds S --index /tmp/old-index
    python -m search.cli index --seeds S --index /tmp/new-index
    python bench/side_by_side.py --a /tmp/base:/tmp/old-index --b .:/tmp/new-index

Prints a table of p50/p95/mean per mode for both sides with the ratio b/a, and writes
bench/results/side-by-side.json. Exits with status 2 when the XQuAD-R data folder is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from corpus import DATA, machine, percentiles, print_table, questions, require_data, save_result

MODES = ("hybrid", "keyword", "semantic")
WORKER = r"""
import json, sys, time
from search.engine import Engine
try:
    from search.ranking.query import Mode, Query
except ImportError:  # a tree from before the ranking package
    from search.query import Mode, Query

engine = Engine(sys.argv[1]).open()
engine.encoder()
engine.search(Query("warm up", size=1))
print("ready", flush=True)
for line in sys.stdin:
    asked = json.loads(line)
    started = time.perf_counter()
    page = engine.search(Query(asked["text"], mode=Mode(asked["mode"])))
    ms = (time.perf_counter() - started) * 1000
    print(json.dumps({"ms": ms, "top": [[h.paragraph_id, round(h.score, 4)] for h in page.hits]}),
          flush=True)
"""


class Side:
    def __init__(self, name: str, spec: str) -> None:
        tree, _, index = spec.partition(":")
        self.name, self.tree, self.index = name, Path(tree).resolve(), Path(index)
        env = {**os.environ, "PYTHONPATH": str(self.tree)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(self.index)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env=env, cwd=self.tree)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit(f"{name}: the worker for {spec} did not start")

    def ask(self, text: str, mode: str) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"text": text, "mode": mode}) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, help="TREE:INDEX of the first version")
    parser.add_argument("--b", required=True, help="TREE:INDEX of the second version")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--per-language", type=int, default=50)
    parser.add_argument("--name", default="side-by-side", help="results file name")
    args = parser.parse_args()
    require_data(args.data)
    asked = questions(args.data, args.per_language)
    at_start = machine()
    sides = [Side("a", args.a), Side("b", args.b)]
    times: dict[str, dict[str, list[float]]] = {s.name: {m: [] for m in MODES} for s in sides}
    same_ids = same_scores = 0
    started = time.perf_counter()
    try:
        for number, (mode, (_lang, text)) in enumerate(
                (mode, q) for mode in MODES for q in asked):
            order = sides if number % 2 == 0 else sides[::-1]
            answers = {side.name: side.ask(text, mode) for side in order}
            for name, answer in answers.items():
                times[name][mode].append(answer["ms"])
            a, b = answers["a"]["top"], answers["b"]["top"]
            same_ids += [pid for pid, _ in a] == [pid for pid, _ in b]
            same_scores += a == b
    finally:
        for side in sides:
            side.close()
    total = len(MODES) * len(asked)
    result = {
        "a": args.a, "b": args.b, "questions": len(asked), "seconds": round(
            time.perf_counter() - started, 1),
        "modes": {mode: {name: percentiles(times[name][mode]) for name in ("a", "b")}
                  for mode in MODES},
        "same_top10_ids": f"{same_ids}/{total}", "same_top10_scores": f"{same_scores}/{total}",
        "machine": {"start": at_start, "end": machine()},
    }
    save_result(args.name, result)
    rows: list[list[object]] = [["ms", "a p50", "b p50", "b/a", "a p95", "b p95", "b/a",
                                 "a mean", "b mean", "b/a"]]
    for mode, stats in result["modes"].items():
        row: list[object] = [mode]
        for key in ("p50", "p95", "mean"):
            a_value, b_value = stats["a"][key], stats["b"][key]
            row += [a_value, b_value, round(b_value / a_value, 2) if a_value else "-"]
        rows.append(row)
    print(f"a = {args.a}\nb = {args.b}\n{len(asked)} questions per mode; load average at start "
          f"{at_start['loadavg']}, at end {result['machine']['end']['loadavg']}")
    print_table(rows)
    print(f"same top-10 ids: {same_ids}/{total}; same ids and scores: {same_scores}/{total}")


if __name__ == "__main__":
    main()
