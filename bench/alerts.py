"""Alerts at scale: 10,000 alerts against a generation adding 1,000 paragraphs (target <= 2 s),
and what 1,000 alerts add to a `search index` run of 1,000 paragraphs (target <= 10 %).

Half of XQuAD-R dev's 24 articles (11 languages) are in the index; the new generation adds
1,000 paragraphs of them (660 original paragraphs, translations of each other, and 340 made of
their sentences). The alerts are questions (70 %, hybrid queries, in all 11 languages) and
watchlists of 3-5 rare names (30 %); a tenth of them ask about the articles the index holds,
the rest about the other half, which never arrives: a day's news touches few of a newsroom's
alerts. Everything is embedded by the default model (e5-small), as `search index` does: the
index runs include embedding their paragraphs, which is what a user waits for. The alerts'
languages and query vectors are stored before timing, as after their first evaluation; the
hook runs first on a copy whose store has not analysed the alerts' words yet (reported as
`first_evaluation`), then with the terms that run kept.
Memory is the process's peak resident size while the hook runs, above what it held before.

    python bench/alerts.py                   # bench/results/alerts.json
    python bench/alerts.py --alerts 2000 --repeat 1
    python bench/alerts.py --parts evaluation

Exits with status 2 when the XQuAD-R data folder is missing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import (  # noqa: E402
    DATA,
    LANGUAGES,
    RESULTS,
    article_paragraphs,
    machine,
    require_data,
    save_result,
    xquad_sources,
)

from search.alerts import AlertKind, AlertStore, after_publish  # noqa: E402
from search.alerts.deliver import DeliveryPolicy  # noqa: E402
from search.alerts.terms import WordTerms, analysis_mark  # noqa: E402
from search.alerts.watch import encode_queries  # noqa: E402
from search.analysis import field_language  # noqa: E402
from search.backends import open_backend  # noqa: E402
from search.config import Settings  # noqa: E402
from search.encoders.base import Encoder  # noqa: E402
from search.encoders.loading import load_encoder  # noqa: E402
from search.encoders.precision import cpu_flags  # noqa: E402
from search.index.updater import update_index  # noqa: E402
from search.ingest.language import LanguageDetector  # noqa: E402
from search.ranking.query import Mode  # noqa: E402

SETTINGS = Settings()
ON_TOPIC = 0.1  # the share of alerts about the topics of the new paragraphs
watch = importlib.import_module("search.alerts.watch")  # the module: its stages are timed
# A name: a capitalised word of 5+ letters inside a sentence (not its first word).
_NAME = regex.compile(r"(?<=\p{Ll}[,;]? )\p{Lu}\p{Ll}{4,}\b")
DETECTOR = LanguageDetector()
_LOADED: list[Encoder] = []


def encoder() -> Encoder:
    """The index's model, loaded once for the whole run."""
    if not _LOADED:
        _LOADED.append(load_encoder(SETTINGS.model))
    return _LOADED[0]


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> None:
    """Make the peak resident size start again from the current one (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")


@dataclass(frozen=True)
class Workload:
    """The paragraphs (language, title, text) of the first and the timed generation, and what
    alerts ask about the topics the new paragraphs hold (`on`) or topics the index never sees
    (`off`): questions and rare names."""

    base: list[tuple[str, str, str]]
    new: list[tuple[str, str, str]]
    questions: dict[bool, list[str]]
    names: dict[bool, list[str]]


def workload(data: Path) -> Workload:
    """Half of XQuAD-R's 24 articles are in the index: the new generation holds their 660
    original paragraphs (aligned translations in 11 languages) and 340 paragraphs made of
    their sentences (bench/corpus.py), the first generation 300 more; the other half's
    questions and names are alerts on topics that never arrive."""
    sources = [s for lang in LANGUAGES for s in xquad_sources(data, lang)]
    titles = sorted({s.title for s in sources})
    held = set(titles[::2])
    rng = random.Random(7)
    originals = [(s.lang, s.title, " ".join(p)) for s in sources if s.title in held
                 for p in s.paragraphs]
    taken = {text for _, _, text in originals}
    made = [(s.lang, s.title, text) for s in sources if s.title in held
            for text in article_paragraphs(s, 6, rng, taken)]
    rng.shuffle(made)
    new, base = originals + made[:340], made[340:640]
    asked: dict[bool, list[str]] = {True: [], False: []}
    for lang in LANGUAGES:
        doc = json.loads((data / f"{lang}.json").read_text(encoding="utf-8"))
        for art in doc["data"]:
            asked[art["title"].replace("_", " ") in held] += [
                qa["question"].strip() for par in art["paragraphs"] for qa in par["qas"]]
    return Workload(base, new, asked, {True: rare_names(t for _, _, t in new), False: [
        name for name in rare_names(" ".join(s.sentences) for s in sources
                                    if s.title not in held)
        if not any(name in text for _, _, text in new + base)]})


def rare_names(texts: Iterable[str]) -> list[str]:
    """Capitalised words inside sentences that at most three of `texts` hold."""
    counts: dict[str, int] = {}
    for text in texts:
        for name in set(_NAME.findall(text)):
            counts[name] = counts.get(name, 0) + 1
    return sorted(name for name, count in counts.items() if count <= 3)


def write_corpus(seeds: Path, part: str, paragraphs: list[tuple[str, str, str]]) -> None:
    """`paragraphs` as JSONL articles of one paragraph each."""
    seeds.mkdir(parents=True, exist_ok=True)
    with (seeds / f"{part}.jsonl").open("w", encoding="utf-8") as out:
        for n, (lang, title, text) in enumerate(paragraphs):
            out.write(json.dumps({"id": f"{part}-{n}", "lang": lang, "title": title,
                                  "text": text}, ensure_ascii=False) + "\n")


def make_alerts(index: Path, work: Workload, count: int) -> None:
    """`count` alerts (a tenth about the new paragraphs' topics), their languages detected
    and query vectors stored, as after a first evaluation."""
    rng = random.Random(11)
    with AlertStore(index) as store:
        live = open_backend(index, SETTINGS).current()
        since = open_backend(index, SETTINGS).catalog(live).next_pid if live else 1
        with store.transaction() as db:
            for n in range(count):
                watchlist, on = n % 10 >= 7, rng.random() < ON_TOPIC
                text = ("\n".join(rng.sample(work.names[on], rng.randint(3, 5))) if watchlist
                        else rng.choice(work.questions[on]))
                db.execute(
                    "INSERT INTO alerts (name, kind, text, mode, filters, feed_token, created,"
                    " since_pid) VALUES (?, ?, ?, ?, ?, ?, '', ?)",
                    (f"a{n}", (AlertKind.WATCHLIST if watchlist else AlertKind.QUERY).value,
                     text, Mode.HYBRID.value,
                     json.dumps({"languages": [], "article_ids": [], "sources": [],
                                 "date_from": None, "date_to": None}), f"t{n}", since))
            db.execute("INSERT OR REPLACE INTO state VALUES ('watermark', ?)", (str(since),))
        alerts = [a for a in store.alerts() if a.kind is AlertKind.QUERY]
        store.save_languages({a.id: DETECTOR.detect_query(a.text, LANGUAGES)[0]
                              for a in alerts})
        vectors = encode_queries(encoder(), [a.text for a in alerts])
        store.save_vectors(SETTINGS.model, {a.id: vectors[i] for i, a in enumerate(alerts)})


def index(seeds: Path, index_dir: Path) -> float:
    started = time.perf_counter()
    summary = update_index(seeds, index_dir, SETTINGS, encoder, detector=DETECTOR)
    assert not summary.warnings, summary.warnings
    return time.perf_counter() - started


def first_generation(work: Workload, folder: Path) -> tuple[Path, Path]:
    seeds, index_dir = folder / "seeds", folder / "index"
    write_corpus(seeds, "base", work.base)
    index(seeds, index_dir)
    write_corpus(seeds, "new", work.new)
    return seeds, index_dir


def evaluation(folder: Path, work: Workload, alerts: int) -> dict:
    """`alerts` alerts against a generation adding 1,000 paragraphs: the hook, timed alone,
    and the two stages inside it (matching; recording the stories); first on a copy of the
    index whose store has never analysed the alerts' words (the first evaluation after they
    were added), then with the words' terms it kept."""
    seeds, index_dir = first_generation(work, folder)
    make_alerts(index_dir, work, alerts)
    store_file, aside = index_dir / "alerts.sqlite", folder / "aside.sqlite"
    for suffix in ("", "-wal", "-shm"):  # the update publishes without the alerts ...
        if Path(f"{store_file}{suffix}").exists():
            shutil.move(f"{store_file}{suffix}", f"{aside}{suffix}")
    index(seeds, index_dir)
    for suffix in ("", "-wal", "-shm"):  # ... and the hook then evaluates what it added
        if Path(f"{aside}{suffix}").exists():
            shutil.move(f"{aside}{suffix}", f"{store_file}{suffix}")
    first = folder / "first"
    shutil.copytree(index_dir, first)
    first_run = hook(first)
    keep_word_terms(first, index_dir)
    return {"alerts": alerts, **hook(index_dir), "first_evaluation": first_run}


def hook(index_dir: Path) -> dict:
    """The hook on `index_dir`, timed, with its stages and its peak memory."""
    backend = open_backend(index_dir, SETTINGS)
    stages = {name: timed(watch, name) for name in ("evaluate", "record")}
    reset_peak_rss()
    before = peak_rss_mb()
    started = time.perf_counter()
    run = after_publish(index_dir, backend, SETTINGS, encoder, policy=DeliveryPolicy(budget=0))
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    for name, wrapper in stages.items():
        setattr(watch, name, wrapper.inner)
    assert not run.warnings and run.evaluated >= 1000, (run.warnings, run.evaluated)
    return {"new_paragraphs": run.evaluated, "seconds": round(seconds, 3),
            **{f"{name}_seconds": round(w.spent, 3) for name, w in stages.items()},
            "hits": run.recorded.hits, "translations": run.recorded.translations,
            "alerts_with_hits": alerts_with_hits(index_dir),
            "rss_before_mb": round(before), "peak_rss_added_mb": round(peak - before)}


def keep_word_terms(source: Path, index_dir: Path) -> None:
    """The words' terms the hook kept in `source`'s store, kept in `index_dir`'s."""
    with AlertStore(source, writable=False) as kept, AlertStore(index_dir) as store:
        marks = {code: analysis_mark(code) for code in {field_language(lang) for lang in LANGUAGES}}
        words = kept.word_terms(marks)
        store.save_word_terms(WordTerms(added=words.known), marks)


@dataclass
class Timed:
    """A module function wrapped to add up the seconds of its calls."""

    inner: Callable[..., Any]
    spent: float = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.spent += time.perf_counter() - started


def timed(module: object, name: str) -> Timed:
    wrapper = Timed(getattr(module, name))
    setattr(module, name, wrapper)
    return wrapper


def alerts_with_hits(index_dir: Path) -> int:
    with AlertStore(index_dir, writable=False) as store:
        return sum(1 for alert in store.alerts() if store.hits(alert.id, 1))


def index_runs(folder: Path, work: Workload, alerts: int, repeat: int) -> dict:
    """A `search index` run adding 1,000 paragraphs (embedding them included), without and
    with `alerts` alerts, alternating, `repeat` times each."""
    times: dict[str, list[float]] = {"without": [], "with": []}
    for n in range(repeat):
        for case in ("without", "with"):
            seeds, index_dir = first_generation(work, folder / f"{case}-{n}")
            if case == "with":
                make_alerts(index_dir, work, alerts)
            times[case].append(index(seeds, index_dir))
    without, with_ = statistics.median(times["without"]), statistics.median(times["with"])
    return {"alerts": alerts, "new_paragraphs": len(work.new),
            "seconds_without": [round(t, 3) for t in times["without"]],
            "seconds_with": [round(t, 3) for t in times["with"]],
            "median_without": round(without, 3), "median_with": round(with_, 3),
            "added_share": round(with_ / without - 1, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--run-alerts", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parts", default="evaluation,index_run",
                        help="which measurements, comma-separated (a part left out keeps its "
                             "figures in bench/results/alerts.json)")
    args = parser.parse_args()
    require_data(args.data)
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as name:
        folder = Path(name)
        work = workload(args.data)
        kept = RESULTS / "alerts.json"
        found = {**(json.loads(kept.read_text(encoding="utf-8")) if kept.exists() else {}),
                 "model": SETTINGS.model,
                 "cpu_flags": sorted(cpu_flags() & {"avx2", "avx512f", "avx512_vnni",
                                                    "avx512_bf16", "amx_bf16"})}
        command = "python bench/alerts.py " + " ".join(sys.argv[1:])
        if "evaluation" in parts:
            found["evaluation"] = {"machine": machine(), "command": command,
                                   **evaluation(folder / "evaluation", work, args.alerts)}
        if "index_run" in parts:
            found["index_run"] = {"machine": machine(), "command": command,
                                  **index_runs(folder, work, args.run_alerts, args.repeat)}
    print(json.dumps(found, indent=1))
    save_result("alerts", found)


if __name__ == "__main__":
    main()
