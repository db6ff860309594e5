"""Search quality on XQuAD-R, measured through the engine's own indexer and searcher.

Three tasks, each over XQuAD-R's 11 aligned languages (one article per paragraph):

- mono:  index language L, ask L's questions (for every L);
- cross: index English, ask each other language's questions; index each L, ask English's;
- pool:  one index of every paragraph in every language, every question in every language;
         all 11 translations of the gold paragraph are relevant (the LAReQA setting).

Metrics are nDCG@10, Recall@10 and MRR@10 (and mAP@100 and the share of top-10 hits in the
question's own language for pool), averaged per language and then over languages.

    python bench/quality.py                       # the full run behind docs/benchmarks.md
    python bench/quality.py --languages en,de,hi --tasks mono --limit 50   # a quick look
    python bench/quality.py --backend qdrant --limit 100 --modes default   # Qdrant parity

The full run writes bench/results/quality.json and, with --docs, rewrites the generated
tables in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import search.ranking.hits  # noqa: E402
from search.backends.local.keyword import KeywordIndex  # noqa: E402
from search.config import Settings  # noqa: E402
from search.encoders.loading import Encoder, ModelInfo, load_encoder  # noqa: E402
from search.engine import Engine  # noqa: E402
from search.index.updater import update_index  # noqa: E402
from search.ingest.language import LanguageDetector  # noqa: E402
from search.ranking.query import Mode, Query  # noqa: E402

LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
PIVOT = "en"
TASKS = ("mono", "cross", "pool")
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "xquad-r-dev"
RESULTS = ROOT / "bench" / "results" / "quality.json"
# XQuAD paragraphs share their article's title, so a real title would tell the keyword side
# which article a paragraph is from. A title of punctuation alone gives that field no terms
# (an empty one would make the reader fall back to the paragraph's first line).
NEUTRAL_TITLE = "-"
METRICS = ("ndcg@10", "recall@10", "mrr@10", "map@100")
DOCS_BEGIN = "<!-- bench/quality.py: begin -->"
DOCS_END = "<!-- bench/quality.py: end -->"

Cells = dict[str, dict[str, dict[str, float]]]  # mode -> row -> metric -> value


# -- the data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    key: str  # the gold paragraph's key, the same in every language


@dataclass(frozen=True)
class LanguageData:
    code: str
    paragraphs: dict[str, str]  # key -> text, in file order
    questions: list[Question]


def paragraph_key(article: int, paragraph: int) -> str:
    return f"a{article:02d}p{paragraph:02d}"


def load_language(data_dir: Path, code: str) -> LanguageData:
    """One language's file (SQuAD format), with paragraphs keyed by position."""
    raw = json.loads((data_dir / f"{code}.json").read_text(encoding="utf-8"))
    paragraphs: dict[str, str] = {}
    questions: list[Question] = []
    for a, article in enumerate(raw["data"]):
        for p, paragraph in enumerate(article["paragraphs"]):
            key = paragraph_key(a, p)
            paragraphs[key] = paragraph["context"]
            questions.extend(
                Question(qa["id"], qa["question"].strip(), key) for qa in paragraph["qas"]
            )
    return LanguageData(code, paragraphs, questions)


def sample(questions: list[Question], limit: int | None) -> list[Question]:
    """At most `limit` questions spread evenly over the file (all of them without a limit)."""
    if not limit or limit >= len(questions):
        return questions
    step = len(questions) / limit
    return [questions[int(i * step)] for i in range(limit)]


# -- the encoder, shared by every index and embedding each text once ----------------------


class CachedEncoder:
    """The real encoder behind a cache keyed by text: a paragraph is embedded once for its own
    index and the pooled one, and a question once for every mode and index it is asked of."""

    def __init__(self, encoder: Encoder | None, info: ModelInfo,
                 vectors: dict[tuple[bool, str], np.ndarray] | None = None) -> None:
        self.info = info
        self._encoder = encoder
        # (is a query, text) -> vector: a model with prompts embeds the two differently
        self.vectors: dict[tuple[bool, str], np.ndarray] = dict(vectors or {})

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return self._cached(texts, False, batch_size)

    def encode_queries(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return self._cached(texts, True, batch_size)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_queries([text])[0]

    def _cached(self, texts: Sequence[str], query: bool, batch_size: int) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if (query, t) not in self.vectors))
        if missing:
            if self._encoder is None:
                raise KeyError(f"no vector for {missing[0]!r}: every text is embedded up front")
            embed = self._encoder.encode_queries if query else self._encoder.encode
            found = embed(missing, batch_size)
            self.vectors.update(((query, t), v) for t, v in zip(missing, found, strict=True))
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        return np.stack([self.vectors[(query, t)] for t in texts])


def memoize_per_question() -> None:
    """Answer the keyword search and language detection of a repeated question from memory.

    Every mode asks the same question of the same index in turn; neither the keyword side
    (pure-Python Whoosh, several times the cost of the rest of a query) nor the language
    detection depends on the mode, so their last answers are kept.
    """
    KeywordIndex.search = _remember_last(KeywordIndex.search)
    LanguageDetector.detect_query = _remember_last(LanguageDetector.detect_query, size=4)


def _remember_last(method: Callable, size: int = 1) -> Callable:
    answers: dict[tuple[int, str, str], object] = {}

    @functools.wraps(method)
    def remembered(self, *args, **kwargs):
        key = (id(self), repr(args), repr(sorted(kwargs.items())))
        if key not in answers:
            if len(answers) >= size:
                answers.pop(next(iter(answers)))
            answers[key] = method(self, *args, **kwargs)
        return answers[key]

    return remembered


# -- indexes through the project's indexer ------------------------------------------------


def build_index(workdir: Path, name: str, languages: Iterable[LanguageData],
                encoder: CachedEncoder, settings: Settings, backend: str) -> Path:
    """Write the paragraphs as .jsonl seeds (one article each) and index them on `backend`
    (qdrant: local mode, in a folder inside the index)."""
    seeds, index = workdir / name / "seeds", workdir / name / "index"
    seeds.mkdir(parents=True)
    for data in languages:
        lines = (
            json.dumps({"id": key, "title": NEUTRAL_TITLE, "text": text, "lang": data.code},
                       ensure_ascii=False)
            for key, text in data.paragraphs.items()
        )
        (seeds / f"{data.code}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    update_index(seeds, index, settings, lambda: encoder, rebuild=True, backend=backend)
    return index


def article_id(lang: str, key: str) -> str:
    return f"{lang}.jsonl#{key}"


# -- modes and metrics --------------------------------------------------------------------


@dataclass(frozen=True)
class RunMode:
    name: str
    mode: Mode
    fusion: str | None = None
    alpha: float | None = None


def run_modes(alphas: Sequence[float], only: Sequence[str] = ()) -> list[RunMode]:
    """The modes to measure: all of them, or those named in `only`."""
    modes = [RunMode("keyword", Mode.KEYWORD), RunMode("semantic", Mode.SEMANTIC),
             RunMode("rrf", Mode.HYBRID, "rrf")]
    modes += [RunMode(f"weighted-{a:g}", Mode.HYBRID, "weighted", a) for a in alphas]
    modes.append(RunMode("default", Mode.HYBRID))
    return [m for m in modes if not only or m.name in only]


def score(ranked: Sequence[str], relevant: set[str]) -> dict[str, float]:
    """Binary-relevance metrics of one ranking (article ids, best first)."""
    gains = [1.0 if item in relevant else 0.0 for item in ranked]
    top = gains[:10]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(top))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    first = next((i for i, g in enumerate(top) if g), None)
    found = precision_sum = 0.0
    for i, g in enumerate(gains[:100]):
        if g:
            found += 1
            precision_sum += found / (i + 1)
    return {
        "ndcg@10": dcg / ideal if ideal else 0.0,
        "recall@10": sum(top) / len(relevant),
        "mrr@10": 1.0 / (first + 1) if first is not None else 0.0,
        "map@100": precision_sum / len(relevant),
    }


@dataclass
class Tally:
    """Sums of per-question metrics for one (task, row, mode) cell."""

    count: int = 0
    sums: dict[str, float] = field(default_factory=dict)

    def add(self, values: dict[str, float]) -> None:
        self.count += 1
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value

    def means(self) -> dict[str, float]:
        return {name: total / self.count for name, total in self.sums.items()}


@dataclass(frozen=True)
class Job:
    """One row of one task: a set of questions asked of one index in every mode."""

    task: str
    row: str
    index: str  # folder name under the work directory
    questions: tuple[Question, ...]
    relevant_langs: tuple[str, ...]  # the gold paragraph in these languages is relevant
    size: int  # hits asked for
    own_lang: str | None = None  # report the share of top-10 hits in this language


def evaluate(engine: Engine, job: Job, modes: Sequence[RunMode]) -> dict[str, dict[str, float]]:
    """Per-mode mean metrics of a job's questions against its index."""
    tallies = {m.name: Tally() for m in modes}
    for question in job.questions:
        gold = {article_id(lang, question.key) for lang in job.relevant_langs}
        for mode in modes:
            page = engine.search(Query(
                question.text, mode=mode.mode, size=job.size, fusion=mode.fusion,
                alpha=mode.alpha, one_per_article=True,
            ))
            # What the reader sees: the ranking, or when nothing passes the match line, the
            # same ranking offered as the closest paragraphs.
            shown = page.hits or page.closest
            values = score([hit.article_id for hit in shown], gold)
            if job.own_lang is not None:
                top = shown[:10]
                values["own_lang@10"] = (
                    sum(hit.lang == job.own_lang for hit in top) / len(top) if top else 0.0
                )
            tallies[mode.name].add(values)
    return {name: tally.means() for name, tally in tallies.items()}


def make_jobs(tasks: Sequence[str], data: dict[str, LanguageData], limit: int | None
              ) -> list[Job]:
    """mono: L on L; cross: rows "xx>en" (xx questions, English index) and "en>xx";
    pool: every language's questions on the pooled index, all translations relevant."""
    def questions(code: str) -> tuple[Question, ...]:
        return tuple(sample(data[code].questions, limit))

    codes = tuple(data)
    jobs: list[Job] = []
    if "pool" in tasks:  # the slowest jobs first, for an even finish across workers
        jobs += [Job("pool", c, "pool", questions(c), codes, 100, own_lang=c) for c in codes]
    if "mono" in tasks:
        jobs += [Job("mono", c, c, questions(c), (c,), 10) for c in codes]
    if "cross" in tasks:
        for c in codes:
            if c != PIVOT:
                jobs.append(Job("cross", f"{c}>{PIVOT}", PIVOT, questions(c), (PIVOT,), 10))
                jobs.append(Job("cross", f"{PIVOT}>{c}", c, questions(PIVOT), (c,), 10))
    return jobs


# -- running jobs, in this process or in worker processes ---------------------------------

_worker: dict = {}


def skip_highlighting() -> None:
    """Render hits without query-term marks.

    Marks are presentation only and do not change the ranking, but marking the 100 hits that
    mAP@100 needs costs more than ranking them.
    """
    plain = {"highlight": _plain, "snippet": _plain, "highlight_and_snippet": _plain_pair}
    found = [name for name in plain if hasattr(search.ranking.hits, name)]
    if not found:
        raise RuntimeError("search.ranking.hits renders hits with an unknown function: update "
                           "skip_highlighting() in bench/quality.py")
    for name in found:
        setattr(search.ranking.hits, name, plain[name])


def _plain(text: str, *args: object, **kwargs: object) -> str:
    return text


def _plain_pair(text: str, *args: object, **kwargs: object) -> tuple[str, str]:
    return text, text


def start_worker(workdir: Path, settings: Settings, encoder: CachedEncoder,
                 modes: Sequence[RunMode]) -> None:
    """Set up a process to run jobs: its engines share one encoder that has every text."""
    # Exact search over a few thousand vectors: one thread beats contending with torch's.
    faiss.omp_set_num_threads(1)
    memoize_per_question()
    skip_highlighting()
    _worker.update(workdir=workdir, settings=settings, encoder=encoder, modes=modes, engines={})


def run_job(job: Job) -> tuple[Job, dict[str, dict[str, float]]]:
    engines: dict[str, Engine] = _worker["engines"]
    if job.index not in engines:
        encoder = _worker["encoder"]
        engines[job.index] = Engine(
            _worker["workdir"] / job.index / "index", settings=_worker["settings"],
            encoder_factory=lambda model: encoder,
        ).open()
    return job, evaluate(engines[job.index], job, _worker["modes"])


def stop_worker() -> None:
    for engine in _worker.pop("engines", {}).values():
        engine.close()


def _start_spawned(workdir, settings, info, vectors, modes) -> None:
    start_worker(workdir, settings, CachedEncoder(None, info, vectors), modes)
    atexit.register(stop_worker)


def run_jobs(jobs: Sequence[Job], workers: int, workdir: Path, settings: Settings,
             encoder: CachedEncoder, modes: Sequence[RunMode], log: Callable[[str], None]
             ) -> dict[str, Cells]:
    cells: dict[str, Cells] = {}

    def collect(job: Job, by_mode: dict[str, dict[str, float]]) -> None:
        for mode, values in by_mode.items():
            cells.setdefault(job.task, {}).setdefault(mode, {})[job.row] = values
        log(f"{job.task} {job.row}: {len(job.questions)} questions")

    if workers <= 1:
        start_worker(workdir, settings, encoder, modes)
        try:
            for job in jobs:
                collect(*run_job(job))
        finally:
            stop_worker()
        return _in_language_order(cells)
    # Questions and paragraphs: pseudo-relevance feedback embeds the best paragraph's text.
    vectors = dict(encoder.vectors)
    with ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_spawned,
        initargs=(workdir, settings, encoder.info, vectors, modes),
    ) as pool:
        for future in as_completed([pool.submit(run_job, job) for job in jobs]):
            collect(*future.result())
    return _in_language_order(cells)


def _in_language_order(cells: dict[str, Cells]) -> dict[str, Cells]:
    def order(row: str) -> tuple[int, str]:
        code = row.replace(PIVOT + ">", "").split(">")[0]
        return LANGUAGES.index(code) if code in LANGUAGES else len(LANGUAGES), row

    return {task: {mode: {row: rows[row] for row in sorted(rows, key=order)}
                   for mode, rows in by_mode.items()}
            for task, by_mode in cells.items()}


# -- averages -----------------------------------------------------------------------------


def language_rows(task: str, cells_of_mode: dict[str, dict[str, float]]
                  ) -> dict[str, dict[str, float]]:
    """Per-language values; cross averages a language's two directions."""
    if task != "cross":
        return cells_of_mode
    rows: dict[str, dict[str, float]] = {}
    for row in cells_of_mode:
        code = row.replace(PIVOT, "").replace(">", "")
        pair = [cells_of_mode[r] for r in (f"{code}>{PIVOT}", f"{PIVOT}>{code}")
                if r in cells_of_mode]
        rows[code] = {m: sum(v[m] for v in pair) / len(pair) for m in pair[0]}
    return rows


def averages(task: str, cells: Cells) -> dict[str, dict[str, float]]:
    """Mean over languages of each mode's metrics (map@100 only for pool)."""
    result = {}
    for mode, rows in cells.items():
        per_language = list(language_rows(task, rows).values())
        names = [m for m in per_language[0] if task == "pool" or m != "map@100"]
        result[mode] = {m: sum(r[m] for r in per_language) / len(per_language) for m in names}
    return result


# -- reporting ----------------------------------------------------------------------------


def markdown(report: dict) -> str:
    """The generated part of docs/benchmarks.md: averages, then nDCG@10 per language."""
    lines = [f"Measured {report['date']} with `{report['command']}` "
             f"({report['seconds']:.0f} s on this machine; model `{report['model']}`)."]
    for task in report["tasks"]:
        avg = report["averages"][task]
        metrics = list(next(iter(avg.values())))
        lines += ["", f"**{task}** (averages over languages)", "",
                  "| mode | " + " | ".join(metrics) + " |",
                  "|---|" + "---:|" * len(metrics)]
        for mode, values in avg.items():
            name = f"**{mode}**" if mode == "default" else mode
            lines.append(f"| {name} | " + " | ".join(f"{values[m]:.3f}" for m in metrics) + " |")
    for task in report["tasks"]:
        per = {mode: language_rows(task, rows) for mode, rows in report["cells"][task].items()}
        codes = list(next(iter(per.values())))
        lines += ["", f"**{task}**, nDCG@10 per language", "",
                  "| mode | " + " | ".join(codes) + " | avg |",
                  "|---|" + "---:|" * (len(codes) + 1)]
        for mode, rows in per.items():
            cells = [f"{rows[c]['ndcg@10']:.3f}" for c in codes]
            avg = report["averages"][task][mode]["ndcg@10"]
            lines.append(f"| {mode} | " + " | ".join(cells) + f" | {avg:.3f} |")
    return "\n".join(lines)


def write_docs(path: Path, text: str) -> None:
    """Replace the generated block of the docs file (between the two marker comments)."""
    doc = path.read_text(encoding="utf-8")
    begin, end = doc.find(DOCS_BEGIN), doc.find(DOCS_END)
    if begin < 0 or end < begin:
        raise SystemExit(f"{path} has no {DOCS_BEGIN} ... {DOCS_END} block to fill")
    doc = doc[: begin + len(DOCS_BEGIN)] + "\n" + text + "\n" + doc[end:]
    path.write_text(doc, encoding="utf-8")


# -- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with XQuAD-R's <lang>.json files (default: %(default)s)")
    parser.add_argument("--languages", default=",".join(LANGUAGES),
                        help="comma-separated subset of %(default)s")
    parser.add_argument("--tasks", default=",".join(TASKS), help="subset of %(default)s")
    parser.add_argument("--limit", type=int, help="at most this many questions per language")
    parser.add_argument("--alphas", default="0.3,0.7",
                        help="semantic weights of extra weighted-fusion modes besides the "
                             "default's (default %(default)s; '' for none)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="NAME=VALUE",
                        help="override a query-time setting (fusion, alpha, rrf_k, window, ...)"
                             " for every mode, to try a value before making it the default")
    parser.add_argument("--modes", default="",
                        help="measure only these comma-separated modes (keyword, semantic, rrf, "
                             "weighted-<alpha>, default); all of them if not given")
    parser.add_argument("--backend", choices=("local", "qdrant"), default="local",
                        help="where the indexes live: Whoosh + FAISS (default), or Qdrant in "
                             "local mode, which answers in pure Python and takes one process "
                             "(so --workers is 1)")
    parser.add_argument("--workers", type=int, default=_cores(),
                        help="processes answering questions (default: one per core, %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the averages here as "
                        "{task: {mode: {metric: value}}}")
    parser.add_argument("--out", type=Path,
                        help="full report (default: bench/results/quality.json, written only "
                             "by a full run)")
    parser.add_argument("--docs", type=Path,
                        help="rewrite the generated block of this markdown file")
    return parser.parse_args(argv)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def settings_from(overrides: Sequence[str]) -> Settings:
    defaults = Settings()
    values = {}
    for item in overrides:
        name, _, raw = item.partition("=")
        if not hasattr(defaults, name):
            raise SystemExit(f"--set {item}: Settings has no field {name!r}")
        kind = type(getattr(defaults, name))
        values[name] = kind(raw) if kind is not bool else raw.lower() in ("1", "true", "yes")
    return defaults.with_overrides(**values)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    languages = [c.strip() for c in args.languages.split(",") if c.strip()]
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [c for c in languages if c not in LANGUAGES] + [t for t in tasks if t not in TASKS]
    if unknown:
        print(f"unknown language or task: {', '.join(unknown)}", file=sys.stderr)
        return 2
    missing = [c for c in languages if not (args.data / f"{c}.json").is_file()]
    if missing:
        print(f"XQuAD-R data not found: expected {', '.join(c + '.json' for c in missing)} in "
              f"{args.data.resolve()} (pass --data DIR to point elsewhere)", file=sys.stderr)
        return 2
    if "cross" in tasks and PIVOT not in languages:
        print("the cross task needs English (en) among --languages", file=sys.stderr)
        return 2
    settings = settings_from(args.overrides)
    alphas = [float(a) for a in args.alphas.split(",") if a.strip()]
    wanted = [m.strip() for m in args.modes.split(",") if m.strip()]
    modes = run_modes(alphas, wanted)
    if len(modes) < len(wanted):
        known = ", ".join(m.name for m in run_modes(alphas))
        print(f"unknown mode in --modes {args.modes}: the modes are {known}", file=sys.stderr)
        return 2
    # A Qdrant local-mode folder is held by one process at a time.
    workers = 1 if args.backend == "qdrant" else args.workers
    full = (set(languages) == set(LANGUAGES) and set(tasks) == set(TASKS) and not args.limit
            and not args.overrides and not wanted and args.backend == "local")
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    data = {c: load_language(args.data, c) for c in languages}
    jobs = make_jobs(tasks, data, args.limit)
    model = load_encoder(settings.model, settings.threads, precision=settings.precision)
    encoder = CachedEncoder(model, model.info)
    log(f"model {settings.model} loaded")
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        workdir = Path(tmp)
        for name in sorted({job.index for job in jobs}):
            members = data.values() if name == "pool" else [data[name]]
            build_index(workdir, name, members, encoder, settings, args.backend)
            log(f"indexed {name}")
        encoder.encode_queries(sorted({q.text for job in jobs for q in job.questions}),
                               settings.batch_size)
        log(f"embedded the questions; {len(jobs)} jobs on {workers} process(es)")
        cells = run_jobs(jobs, workers, workdir, settings, encoder, modes, log)
    seconds = time.perf_counter() - started
    report = {
        "date": date.today().isoformat(),
        "command": " ".join(["python bench/quality.py", *(argv if argv is not None
                                                         else sys.argv[1:])]),
        "seconds": round(seconds, 1),
        "data": str(args.data),
        "model": settings.model,
        "backend": args.backend,
        "settings": {k: v for k, v in settings.to_dict().items()
                     if k in ("fusion", "alpha", "rrf_k", "window")},
        "title": NEUTRAL_TITLE,
        "languages": languages,
        "tasks": [t for t in TASKS if t in tasks],
        "limit": args.limit,
        "averages": {task: averages(task, cells[task]) for task in TASKS if task in tasks},
        "cells": cells,
    }
    table = markdown(report)
    print(table)
    out = args.out or (RESULTS if full else None)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.json is not None:
        averages_only = {
            task: {mode: {m: round(v, 4) for m, v in values.items() if m in METRICS}
                   for mode, values in report["averages"][task].items()}
            for task in report["tasks"]
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(averages_only, indent=1) + "\n", encoding="utf-8")
    if args.docs is not None:
        write_docs(args.docs, table)
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
