"""Soak: `search serve` for a bounded time under a steady stream of new queries while a
reindex adds and removes articles every 30 s.

    python bench/soak.py                  # 10 minutes, the shipped seeds, the default model
    python bench/soak.py --minutes 2      # a shorter look

Everything happens in a temporary folder: a copy of seeds/ plus live/, a folder of generated
articles, indexed with `search index`; then `search serve` on 127.0.0.1 (a free port; no other
address is ever contacted). While it runs:

- clients (4 threads) send GET /api/search at a steady total rate (10/s), each query new
  (three words of the seeds and a word no paragraph has, so that the engine's result cache
  answers none of them), in hybrid, keyword and semantic mode in turn;
- every 30 s the updater adds three generated articles to live/, removes the three oldest,
  and runs POST /api/reindex to the end (a job that does not end `done` is a failure);
- every 5 s a sampler records the server's resident memory (VmRSS), its open file descriptors
  (all of them, those into the index folder, and the stale ones: of deleted files or into a
  generation other than the live one), its memory maps of deleted files, and the generations
  on disk. A reindex runs in the server, whose writer has files of its own open meanwhile, so
  stale descriptors count only in samples taken between reindexes.

Before the clock starts, the server answers 600 new queries, so that the engine's result
cache (512 pages) is full: a full cache is the baseline, not growth. Memory growth is the last
sample against the first one after the warm-up (the first fifth of the run, at least 60 s).

Targets: no failed request or job; resident memory after warm-up growing by at most 5%; no
stale descriptor or map of a deleted file between reindexes; two generations on disk at the
end (the live one and the one before it).

Prints a table of the run by window and writes bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("hybrid", "keyword", "semantic")
WORD = re.compile(r"[^\W\d_]{4,}")


@dataclass(frozen=True)
class Config:
    """One soak run. `search` is the command line that runs `search` (the tests give one
    with their fake encoder)."""

    search: tuple[str, ...]
    seeds: Path = ROOT / "seeds"
    model: str | None = None  # None: the default model
    minutes: float = 10.0
    rate: float = 10.0  # requests per second, all clients together
    clients: int = 4
    reindex_every: float = 30.0
    articles_per_reindex: int = 3
    prime: int = 600  # new queries answered before the clock starts
    warmup: float | None = None  # seconds; None: a fifth of the run, at least 60 s
    window: float = 60.0  # seconds per row of the report
    sample_every: float = 5.0

    @property
    def seconds(self) -> float:
        return self.minutes * 60

    @property
    def warmup_seconds(self) -> float:
        return self.warmup if self.warmup is not None else max(60.0, self.seconds / 5)


@dataclass
class Request:
    at: float  # seconds since the start
    ms: float
    failure: str | None


@dataclass
class Sample:
    at: float
    rss_mb: float
    fds: int
    index_fds: int
    stale_fds: int  # of deleted files, or into a generation that is not the live one
    deleted_maps: int
    generations: int
    reindexing: bool


@dataclass
class Reindex:
    at: float
    seconds: float
    status: str
    error: str | None


@dataclass
class Record:
    requests: list[Request] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    reindexes: list[Reindex] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    reindexing: threading.Event = field(default_factory=threading.Event)


# -- the server ------------------------------------------------------------------------------

class Server:
    """`search serve` in its own process, on a free loopback port."""

    def __init__(self, config: Config, index: Path, seeds: Path) -> None:
        # One worker: the samples read this process's memory, descriptors and maps.
        command = [*config.search, "serve", "--index", str(index), "--seeds", str(seeds),
                   "--host", "127.0.0.1", "--port", "0", "--workers", "1"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        if found is None:
            self.stop()
            raise SystemExit(f"search serve did not start: {line!r}")
        self.url = found.group(0)
        self.pid = self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


def get_json(url: str, data: bytes | None = None, timeout: float = 30) -> dict:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


# -- the corpus ------------------------------------------------------------------------------

class Corpus:
    """The copy of seeds/ the server indexes, with live/ articles made up from its words."""

    def __init__(self, seeds: Path, target: Path, seed: int) -> None:
        shutil.copytree(seeds, target)
        self.root = target
        self._articles = random.Random(seed)
        self._queries = random.Random(seed + 1)  # used under the clients' lock
        words = set()
        for path in sorted(target.rglob("*")):
            if path.is_file():
                words.update(WORD.findall(path.read_text(encoding="utf-8", errors="ignore")))
        self.words = sorted(words)
        self.live: list[Path] = []
        self.made = 0

    def add(self, count: int) -> None:
        for _ in range(count):
            self.made += 1
            path = self.root / "live" / f"soak-{self.made:05d}.txt"
            path.parent.mkdir(exist_ok=True)
            paragraphs = [" ".join(self._articles.choices(self.words, k=30)) + "."
                          for _ in range(3)]
            path.write_text(f"Soak article {self.made}\n\n" + "\n\n".join(paragraphs) + "\n",
                            encoding="utf-8")
            self.live.append(path)

    def remove_oldest(self, count: int) -> None:
        for path in self.live[:count]:
            path.unlink()
        del self.live[:count]

    def query(self, number: int) -> str:
        return " ".join(self._queries.choices(self.words, k=3)) + f" zq{number}"


# -- the load ---------------------------------------------------------------------------------

class Clients:
    """Threads sending new queries at a steady total rate until the deadline."""

    def __init__(self, config: Config, url: str, corpus: Corpus, record: Record,
                 started: float, sent: int = 0) -> None:
        """sent: how many queries were made before (each query's number is new)."""
        self.config, self.url, self.corpus, self.record = config, url, corpus, record
        self.started = started
        self.deadline = started + config.seconds
        self.sent = sent
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                         for n in range(config.clients)]

    def next_query(self) -> tuple[int, str]:
        with self._lock:
            self.sent += 1
            return self.sent, self.corpus.query(self.sent)

    def send(self) -> Request:
        number, text = self.next_query()
        query = urllib.parse.urlencode({"q": text, "mode": MODES[number % 3], "size": 10})
        sent = time.monotonic()
        failure = None
        try:
            body = get_json(f"{self.url}/api/search?{query}")
            if "results" not in body:
                failure = f"no results in {str(body)[:200]}"
        except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, bad JSON
            failure = f"{type(exc).__name__}: {exc}"
        return Request(sent - self.started, (time.monotonic() - sent) * 1000, failure)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        for thread in self._threads:  # each ends by itself at the deadline
            thread.join(max(0.0, self.deadline - time.monotonic()) + 60)

    def _run(self, number: int) -> None:
        interval = self.config.clients / self.config.rate
        due = self.started + number * interval / self.config.clients
        while True:
            due += interval
            now = time.monotonic()
            if due > self.deadline:
                return
            if due > now:
                time.sleep(due - now)
            done = self.send()
            with self.record.lock:
                self.record.requests.append(done)


def prime(clients: Clients, count: int) -> None:
    """Answer `count` new queries as fast as the server goes (fills the result cache)."""
    threads = [threading.Thread(target=lambda: [clients.send() for _ in range(count // 4)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def reindex_loop(config: Config, url: str, corpus: Corpus, record: Record, started: float,
                 stop: threading.Event) -> None:
    while not stop.wait(config.reindex_every):
        corpus.add(config.articles_per_reindex)
        corpus.remove_oldest(config.articles_per_reindex)
        begun = time.monotonic()
        status, error = "failed", None
        record.reindexing.set()
        try:
            job = get_json(f"{url}/api/reindex", data=b"")
            while job["status"] in ("queued", "running"):
                time.sleep(0.2)
                job = get_json(url + job["status_url"])
            status, error = job["status"], job["error"]
            wait_for_generation(url, job)
        except (OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            record.reindexing.clear()
        with record.lock:
            record.reindexes.append(Reindex(round(begun - started, 1),
                                            round(time.monotonic() - begun, 2), status, error))


def wait_for_generation(url: str, job: dict) -> None:
    """Until the server answers from the generation the job published, and a second more:
    it switches as the job ends, and queries running then finish on the old generation,
    whose files close after them."""
    generation = (job.get("summary") or {}).get("generation")
    deadline = time.monotonic() + 10
    while generation and time.monotonic() < deadline:
        if get_json(f"{url}/api/health")["generation"] == generation:
            break
        time.sleep(0.1)
    time.sleep(1.0)


def sample_loop(config: Config, pid: int, index: Path, record: Record, started: float,
                stop: threading.Event) -> None:
    while True:
        found = sample(pid, index, time.monotonic() - started, record.reindexing.is_set())
        with record.lock:
            record.samples.append(found)
        if stop.wait(config.sample_every):
            return


def sample(pid: int, index: Path, at: float, reindexing: bool) -> Sample:
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # closed meanwhile
            continue
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    generations = [p for p in (index / "generations").iterdir() if p.is_dir()]
    live = f"{index}/generations/{(index / 'CURRENT').read_text().strip()}/"
    stale = [t for t in targets if t.endswith(" (deleted)")
             or (t.startswith(f"{index}/generations/") and not t.startswith(live))]
    return Sample(
        round(at, 1), round(rss, 1), len(targets),
        sum(t.startswith(f"{index}/") for t in targets), len(stale),
        len({line.split()[-2] for line in maps if line.endswith(" (deleted)")}),
        len(generations), reindexing)


# -- the run ----------------------------------------------------------------------------------

def run(config: Config, work: Path | None = None) -> dict:
    """Run the soak; the result as a plain dict (see report())."""
    with tempfile.TemporaryDirectory(prefix="search-soak-", dir=work) as folder:
        root = Path(folder)
        corpus = Corpus(config.seeds, root / "seeds", seed=16)
        corpus.add(config.articles_per_reindex * 2)
        index = root / "index"
        model = ["--model", config.model] if config.model else []
        subprocess.run([*config.search, "index", "--seeds", str(corpus.root), "--index",
                        str(index), *model], check=True, capture_output=True, timeout=600)
        server = Server(config, index, corpus.root)
        record = Record()
        try:
            primer = Clients(config, server.url, corpus, Record(), time.monotonic())
            prime(primer, config.prime)
            started = time.monotonic()
            stop = threading.Event()
            clients = Clients(config, server.url, corpus, record, started, primer.sent)
            helpers = [
                threading.Thread(target=reindex_loop, daemon=True,
                                 args=(config, server.url, corpus, record, started, stop)),
                threading.Thread(target=sample_loop, daemon=True,
                                 args=(config, server.pid, index, record, started, stop)),
            ]
            clients.start()
            for helper in helpers:
                helper.start()
            clients.join()
            stop.set()
            for helper in helpers:
                helper.join(120)
            final = sample(server.pid, index, time.monotonic() - started, False)
        finally:
            server.stop()
        record.samples.append(final)
        return summarize(config, record)


def summarize(config: Config, record: Record) -> dict:
    requests = sorted(record.requests, key=lambda r: r.at)
    failures = [r for r in requests if r.failure]
    windows = []
    count = max(1, round(config.seconds / config.window))
    for number in range(count):
        start, end = number * config.window, (number + 1) * config.window
        inside = [r for r in requests if start <= r.at < end]
        samples = [s for s in record.samples if start <= s.at < end] or record.samples[-1:]
        latencies = sorted(r.ms for r in inside if not r.failure)
        windows.append({
            "from_s": round(start), "requests": len(inside),
            "failures": sum(1 for r in inside if r.failure),
            "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "rss_mb": samples[-1].rss_mb, "fds": samples[-1].fds,
            "index_fds": samples[-1].index_fds, "generations": samples[-1].generations,
            "reindexes": sum(1 for j in record.reindexes if start <= j.at < end),
        })
    warm = [s for s in record.samples if s.at >= config.warmup_seconds] or record.samples[-1:]
    baseline, last = warm[0], record.samples[-1]
    growth = (last.rss_mb - baseline.rss_mb) / baseline.rss_mb * 100
    latencies = sorted(r.ms for r in requests if not r.failure)
    jobs_failed = [j for j in record.reindexes if j.status != "done"]
    quiet = [s for s in record.samples if not s.reindexing]
    totals = {
        "requests": len(requests), "failures": len(failures),
        "failure_examples": [f"{r.at:.1f} s: {r.failure}" for r in failures[:5]],
        "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
        "reindexes": len(record.reindexes), "reindexes_failed": len(jobs_failed),
        "reindex_errors": [j.error for j in jobs_failed[:5]],
        "reindex_seconds_median": (round(statistics.median(j.seconds for j in record.reindexes),
                                         2) if record.reindexes else None),
        "rss_mb": {"after_warmup": baseline.rss_mb, "at_end": last.rss_mb,
                   "max_after_warmup": max(s.rss_mb for s in warm),
                   "growth_percent": round(growth, 2)},
        "fds": {"after_warmup": baseline.fds, "at_end": last.fds,
                "index_after_warmup": baseline.index_fds, "index_at_end": last.index_fds,
                "stale_max_between_reindexes": max(s.stale_fds for s in quiet),
                "deleted_maps_max_between_reindexes": max(s.deleted_maps for s in quiet),
                "stale_max_during_reindexes": max((s.stale_fds for s in record.samples
                                                   if s.reindexing), default=0)},
        "generations_at_end": last.generations,
        "generations_max": max(s.generations for s in record.samples),
    }
    targets = {
        "no failed request or reindex": not failures and not jobs_failed,
        "memory after warm-up grows by at most 5%": growth <= 5.0,
        "no stale descriptor or map of a deleted file between reindexes":
            totals["fds"]["stale_max_between_reindexes"] == 0
            and totals["fds"]["deleted_maps_max_between_reindexes"] == 0,
        "two generations on disk at the end": last.generations == 2,
    }
    return {"config": {k: (str(v) if isinstance(v, Path) else v)
                       for k, v in asdict(config).items() if k != "search"},
            "totals": totals, "targets": targets, "windows": windows,
            "reindexes": [asdict(j) for j in record.reindexes],
            "samples": [asdict(s) for s in record.samples]}


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    at = min(len(sorted_values) - 1, round(q / 100 * (len(sorted_values) - 1)))
    return round(sorted_values[at], 1)


def report(result: dict) -> None:
    from corpus import print_table

    rows = [["from s", "requests", "failed", "p50 ms", "p95 ms", "RSS MB", "fds", "index fds",
             "generations", "reindexes"]]
    rows += [[w["from_s"], w["requests"], w["failures"], w["p50_ms"], w["p95_ms"], w["rss_mb"],
              w["fds"], w["index_fds"], w["generations"], w["reindexes"]]
             for w in result["windows"]]
    print_table(rows)
    totals = result["totals"]
    print(f"\n{totals['requests']} requests, {totals['failures']} failed; p50 "
          f"{totals['p50_ms']} ms, p95 {totals['p95_ms']} ms; {totals['reindexes']} reindexes "
          f"({totals['reindexes_failed']} failed, median {totals['reindex_seconds_median']} s)")
    print(f"memory {totals['rss_mb']}; descriptors {totals['fds']}; generations at the end "
          f"{totals['generations_at_end']}")
    for target, met in result["targets"].items():
        print(f"{'met   ' if met else 'MISSED'} {target}")


def main() -> None:
    from corpus import machine, save_result, search_command

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second")
    parser.add_argument("--reindex-every", type=float, default=30.0, help="seconds")
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--model", help="the model to index with (default: the default one)")
    args = parser.parse_args()
    config = Config(tuple(search_command()), seeds=args.seeds, model=args.model,
                    minutes=args.minutes, rate=args.rate, reindex_every=args.reindex_every)
    result = run(config)
    result["machine"] = machine()
    report(result)
    print(f"\nwritten {save_result('soak', result)}")
    if not all(result["targets"].values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
