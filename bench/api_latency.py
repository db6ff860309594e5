"""Sequential hybrid /api/search latency over HTTP, on the 1,320 XQuAD-R paragraphs of 11
languages, one code tree or two side by side.

    python bench/api_latency.py                          # this tree
    python bench/api_latency.py --base /tmp/base         # and another tree, interleaved

Each XQuAD-R paragraph becomes an article (seeds in JSONL, one file per language), indexed
once with the default model by this tree. Each tree then serves the index with a default
`search serve` (one process per tree, started as a subprocess with that tree first on
PYTHONPATH), and the script asks each server the same real questions, one request at a time,
alternating between the servers so that both see the same machine load. Prints p50 and p95
per tree and writes bench/results/api-latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from corpus import DATA, LANGUAGES, machine, percentiles, questions, require_data, save_result

ROOT = Path(__file__).resolve().parents[1]


def write_seeds(data: Path, seeds: Path) -> int:
    """One article per XQuAD-R paragraph; returns how many."""
    seeds.mkdir(parents=True, exist_ok=True)
    count = 0
    for lang in LANGUAGES:
        doc = json.loads((data / f"{lang}.json").read_text(encoding="utf-8"))
        rows = []
        for article in doc["data"]:
            for n, paragraph in enumerate(article["paragraphs"]):
                rows.append({"id": f"{article['title']}-{n}", "lang": lang,
                             "title": article["title"].replace("_", " "),
                             "text": paragraph["context"]})
        (seeds / f"{lang}.jsonl").write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
        count += len(rows)
    return count


def command(tree: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    return [sys.executable, "-c", "from search.cli import main; main()", *args], env


def start_server(tree: Path, index: Path) -> tuple[subprocess.Popen, str]:
    args, env = command(tree, "serve", "--index", str(index), "--port", "0", "--workers", "1")
    server = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("serving http://"):
        server.kill()
        raise SystemExit(f"{tree}: the server did not start: {line!r}")
    return server, re.match(r"serving (http://[^/]+)", line).group(1)  # type: ignore[union-attr]


def ask(base_url: str, text: str) -> float:
    url = f"{base_url}/api/search?" + urllib.parse.urlencode({"q": text})
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as answer:
        answer.read()
        assert answer.status == 200
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--base", type=Path, help="another code tree to measure beside this")
    parser.add_argument("--per-language", type=int, default=30)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "api-bench")
    parser.add_argument("--name", default="api-latency")
    args = parser.parse_args()
    require_data(args.data)
    seeds, index = args.work / "seeds", args.work / "index"
    paragraphs = write_seeds(args.data, seeds)
    build, env = command(ROOT, "index", "--seeds", str(seeds), "--index", str(index))
    subprocess.run(build, env=env, check=True, stdout=subprocess.DEVNULL)
    trees = {"this": ROOT, **({"base": args.base} if args.base else {})}
    servers = {name: start_server(tree, index) for name, tree in trees.items()}
    try:
        asked = questions(args.data, args.per_language)
        for _server, url in servers.values():  # warm up: caches, lazy imports
            for _, text in asked[:22]:
                ask(url, text + " ?")
        times: dict[str, list[float]] = {name: [] for name in servers}
        for _, text in asked:
            for name, (_, url) in servers.items():
                times[name].append(ask(url, text))
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)
    result = {"paragraphs": paragraphs, "languages": len(LANGUAGES), "queries": len(asked),
              "mode": "hybrid (default), sequential, one request at a time over HTTP",
              "trees": {name: str(tree) for name, tree in trees.items()},
              "latency_ms": {name: percentiles(values) for name, values in times.items()},
              "machine": machine()}
    for name, stats in result["latency_ms"].items():
        print(f"{name:5} p50 {stats['p50']:.1f} ms  p95 {stats['p95']:.1f} ms  "
              f"({len(times[name])} queries)")
    print(f"wrote {save_result(args.name, result)}")


if __name__ == "__main__":
    main()
