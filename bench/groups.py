"""Translation groups on XQuAD-R dev, made by the project's indexer.

Each XQuAD article in each language is one article of the index, its paragraphs in order
(a .jsonl seed file per language). A paragraph's translations are the paragraphs with the
same article and paragraph number in the other languages. Reported:

- pairwise precision, recall and F1 of "same group" over pairs of languages the encoder
  covers (ar de en es ru th tr zh), over all pairs, and per language pair;
- the same for neighbouring values of each grouping threshold (flat is good);
- the index-time cost of grouping: seconds, and its share of the whole `search index` run;
- incremental: index all languages but one, add it, remove another; compare with the groups
  made from scratch.

    python bench/groups.py                       # writes bench/results/groups.json
    python bench/groups.py --languages en,de,el,hi --add el --remove de   # a quick look
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quality import CachedEncoder, load_language  # noqa: E402
from search.backends import open_backend  # noqa: E402
from search.config import Settings  # noqa: E402
from search.encoders.loading import load_encoder  # noqa: E402
from search.index.groups import centering_statistics  # noqa: E402
from search.index.summary import IndexSummary  # noqa: E402
from search.index.updater import update_index  # noqa: E402
from search.translations import GroupingParams, Passage, anchors_of, group_new  # noqa: E402

LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
COVERED = frozenset(("ar", "de", "en", "es", "ru", "th", "tr", "zh"))
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "xquad-r-dev"
RESULTS = ROOT / "bench" / "results" / "groups.json"

Unit = tuple[str, int, int]  # (language, XQuAD article, paragraph)
Pair = tuple[Unit, Unit]


def write_seeds(seeds: Path, data_dir: Path, languages: list[str]) -> dict[str, list[str]]:
    """One .jsonl per language, one record per XQuAD article; the paragraphs of each."""
    seeds.mkdir(parents=True, exist_ok=True)
    texts: dict[str, list[str]] = {}
    for lang in languages:
        data = load_language(data_dir, lang)
        by_article: dict[int, list[str]] = {}
        for key, text in data.paragraphs.items():
            by_article.setdefault(int(key[1:3]), []).append(text)
            texts[f"{lang}|{key}"] = [text]
        lines = [json.dumps({"id": f"a{a:02d}", "title": "-", "lang": lang,
                             "text": "\n\n".join(paragraphs)}, ensure_ascii=False)
                 for a, paragraphs in sorted(by_article.items())]
        (seeds / f"{lang}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return texts


def unit_of(article_id: str, text: str, lang: str, sources: dict[str, list[str]]) -> Unit:
    """The XQuAD paragraph an indexed paragraph (or a piece of one) comes from."""
    article = int(article_id.split("#a")[1])
    head = "".join(text.split())[:40]  # cleanup may change spaces
    for p in range(10):
        source = sources.get(f"{lang}|a{article:02d}p{p:02d}")
        if source and head in "".join(source[0].split()):
            return (lang, article, p)
    raise ValueError(f"no XQuAD paragraph holds {head!r}")


def read_index(index: Path) -> tuple[list[Passage], np.ndarray, dict[int, int], list[str]]:
    """Passages, vectors, groups and texts of the live generation."""
    backend = open_backend(index, Settings())
    reader = backend.open(backend.current() or "")
    try:
        pids = sorted(pid for entry in reader.catalog.files.values() for pid in entry.pids)
        records = reader.paragraphs(pids)
        passages = [Passage(r.pid, r.article_id, r.lang, r.position, anchors_of(r.text))
                    for r in records]
        vectors = np.stack([reader.vector(pid) for pid in pids])
        groups = dict(zip(pids, reader.groups(pids), strict=True))
        return passages, vectors, groups, [r.text for r in records]
    finally:
        reader.close()


def predicted_pairs(passages: list[Passage], texts: list[str], groups: dict[int, int],
                    sources: dict[str, list[str]]) -> set[Pair]:
    units = {p.pid: unit_of(p.article_id, t, p.lang, sources)
             for p, t in zip(passages, texts, strict=True)}
    members: dict[int, list[Unit]] = {}
    for pid, group in groups.items():
        members.setdefault(group, []).append(units[pid])
    return {tuple(sorted(pair)) for units_ in members.values()  # type: ignore[misc]
            for pair in itertools.combinations(units_, 2) if pair[0][0] != pair[1][0]}


def gold_pairs(languages: list[str], sources: dict[str, list[str]]) -> set[Pair]:
    keys = {key.split("|")[1] for key in sources}
    return {tuple(sorted(((a, int(k[1:3]), int(k[4:6])), (b, int(k[1:3]), int(k[4:6])))))
            for k in keys for a, b in itertools.combinations(languages, 2)}  # type: ignore


def scores(predicted: set[Pair], gold: set[Pair], keep) -> dict[str, float]:
    p = {pair for pair in predicted if keep(pair)}
    g = {pair for pair in gold if keep(pair)}
    hit = len(p & g)
    precision = hit / len(p) if p else 1.0
    recall = hit / len(g) if g else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "pairs": len(g)}


def evaluate(predicted: set[Pair], gold: set[Pair], languages: list[str]) -> dict:
    report = {
        "covered": scores(predicted, gold, lambda x: {x[0][0], x[1][0]} <= COVERED),
        "all": scores(predicted, gold, lambda x: True),
        "per_pair": {f"{a}-{b}": scores(predicted, gold,
                                        lambda x, a=a, b=b: {x[0][0], x[1][0]} == {a, b})
                     for a, b in itertools.combinations(sorted(languages), 2)},
    }
    return report


def index_run(seeds: Path, index: Path, encoder: CachedEncoder, rebuild: bool) -> IndexSummary:
    return update_index(seeds, index, Settings(), lambda: encoder, rebuild=rebuild)


def sweep(passages: list[Passage], vectors: np.ndarray, texts: list[str],
          sources: dict[str, list[str]], gold: set[Pair], languages: list[str]) -> dict:
    """F1 (covered, all) for each threshold at its neighbouring values, the others fixed."""
    langs = [p.lang for p in passages]
    centered = centering_statistics(None, vectors, langs).center(vectors, langs)
    base = GroupingParams()
    out: dict[str, dict[str, list[float]]] = {}
    for name, values in (("aligned_bar", (0.2, 0.3, 0.4)), ("lone_bar", (0.5, 0.6, 0.7)),
                         ("min_votes", (1, 2, 3)), ("neighbours", (10, 20, 40))):
        out[name] = {}
        for value in values:
            groups = group_new(passages, centered, None, replace(base, **{name: value}))
            found = evaluate(predicted_pairs(passages, texts, groups, sources), gold, languages)
            out[name][str(value)] = [found["covered"]["f1"], found["all"]["f1"]]
    return out


def agreement(first: set[Pair], second: set[Pair]) -> float:
    """F1 of one pair set against the other."""
    if not first and not second:
        return 1.0
    hit = len(first & second)
    return round(2 * hit / (len(first) + len(second)), 4)


def incremental(workdir: Path, data_dir: Path, languages: list[str], added: str, removed: str,
                encoder: CachedEncoder, sources: dict[str, list[str]],
                scratch: set[Pair], gold: set[Pair]) -> dict:
    seeds, index = workdir / "inc" / "seeds", workdir / "inc" / "index"
    write_seeds(seeds, data_dir, [lang for lang in languages if lang != added])
    index_run(seeds, index, encoder, rebuild=True)
    write_seeds(seeds, data_dir, [added])
    add = index_run(seeds, index, encoder, rebuild=False)
    passages, _, groups, texts = read_index(index)
    after_add = predicted_pairs(passages, texts, groups, sources)
    (seeds / f"{removed}.jsonl").unlink()
    remove = index_run(seeds, index, encoder, rebuild=False)
    passages, _, groups, texts = read_index(index)
    after_remove = predicted_pairs(passages, texts, groups, sources)
    rest = [lang for lang in languages if lang != removed]
    scratch_rest = {pair for pair in scratch if removed not in (pair[0][0], pair[1][0])}
    gold_rest = {pair for pair in gold if removed not in (pair[0][0], pair[1][0])}
    return {
        "added": added, "removed": removed,
        "add": {"seconds": round(add.seconds, 3), "grouping_seconds":
                round(add.grouping_seconds, 3), "vs_scratch_f1": agreement(after_add, scratch),
                "gold": {k: v for k, v in evaluate(after_add, gold, languages).items()
                         if k != "per_pair"}},
        "remove": {"seconds": round(remove.seconds, 3), "grouping_seconds":
                   round(remove.grouping_seconds, 3),
                   "vs_scratch_f1": agreement(after_remove, scratch_rest),
                   "gold": {k: v for k, v in evaluate(after_remove, gold_rest, rest).items()
                            if k != "per_pair"}},
    }


def markdown(report: dict) -> str:
    full = report["full"]
    lines = ["| pairs | precision | recall | F1 |", "|---|---:|---:|---:|"]
    for name in ("covered", "all"):
        s = full[name]
        lines.append(f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} |")
    langs = report["languages"]
    lines += ["", "F1 per language pair:", "", "| | " + " | ".join(langs) + " |",
              "|---|" + "---:|" * len(langs)]
    for a in langs:
        cells = []
        for b in langs:
            key = f"{min(a, b)}-{max(a, b)}"
            cells.append("" if a == b else f"{full['per_pair'][key]['f1']:.2f}")
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    cost = report["cost"]
    lines += ["", f"Grouping at index time: {cost['grouping_seconds']:.2f} s of "
              f"{cost['index_seconds']:.1f} s ({100 * cost['share']:.1f} %) for "
              f"{cost['paragraphs']} paragraphs.", "",
              "Neighbouring thresholds (F1 covered / all):", ""]
    for name, values in report["sweep"].items():
        lines.append(f"- {name}: " + ", ".join(f"{v}: {c:.3f} / {a:.3f}"
                                                for v, (c, a) in values.items()))
    if "incremental" in report:
        inc = report["incremental"]
        lines += ["", f"Incremental: add {inc['added']}: agreement with from-scratch pairs "
                  f"F1 {inc['add']['vs_scratch_f1']:.3f}, all-pairs F1 "
                  f"{inc['add']['gold']['all']['f1']:.3f}, grouping "
                  f"{inc['add']['grouping_seconds']:.2f} s; remove {inc['removed']}: agreement "
                  f"{inc['remove']['vs_scratch_f1']:.3f}, all-pairs F1 "
                  f"{inc['remove']['gold']['all']['f1']:.3f}."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with XQuAD-R's <lang>.json files (default: %(default)s)")
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--add", default="el", help="the language added incrementally")
    parser.add_argument("--remove", default="de", help="the language removed after that")
    parser.add_argument("--no-incremental", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    languages = sorted(args.languages.split(","))
    missing = [lang for lang in languages if not (args.data / f"{lang}.json").is_file()]
    if missing:
        print(f"XQuAD-R data not found: expected {', '.join(m + '.json' for m in missing)} in "
              f"{args.data} (pass --data DIR); nothing measured.", file=sys.stderr)
        return 2
    settings = Settings()
    model = load_encoder(settings.model, settings.threads, precision=settings.precision)
    encoder = CachedEncoder(model, model.info)
    with tempfile.TemporaryDirectory(prefix="bench-groups-") as tmp:
        workdir = Path(tmp)
        sources = write_seeds(workdir / "full" / "seeds", args.data, languages)
        started = time.perf_counter()
        summary = index_run(workdir / "full" / "seeds", workdir / "full" / "index", encoder,
                            rebuild=True)
        wall = time.perf_counter() - started
        passages, vectors, groups, texts = read_index(workdir / "full" / "index")
        gold = gold_pairs(languages, sources)
        scratch = predicted_pairs(passages, texts, groups, sources)
        report = {
            "data": str(args.data), "languages": languages,
            "params": asdict(GroupingParams()),
            "full": evaluate(scratch, gold, languages),
            "cost": {"paragraphs": len(passages), "index_seconds": round(wall, 3),
                     "grouping_seconds": round(summary.grouping_seconds, 3),
                     "share": round(summary.grouping_seconds / wall, 4)},
            "sweep": sweep(passages, vectors, texts, sources, gold, languages),
        }
        if not args.no_incremental and args.add in languages and args.remove in languages:
            report["incremental"] = incremental(workdir, args.data, languages, args.add,
                                                args.remove, encoder, sources, scratch, gold)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
