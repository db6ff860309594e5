"""Server throughput and memory: `search serve` on the 100,000-paragraph index under wrk.

    python bench/server.py --index /tmp/search-bench/index-100k
    python bench/server.py --workers 1,2       # one server per count, in this run
    python bench/server.py --duration 5s       # a quick look

For each worker count (`--workers`, default 1 and one per core), one after the other: starts
`search serve --workers N` on 127.0.0.1 (a free port), waits for /api/health, warms it up with
one request for each of a few hundred XQuAD-R questions in 11 languages, then runs
`wrk -t2 -c8 -d30s` twice against GET /api/search in hybrid mode, a Lua script rotating
through URL-encoded questions: first the warmed-up ones again (answered from the result
cache), then all the other questions of the data, each asked at most once per server (every
answer computed). Reports requests/s, latency percentiles and errors (socket errors and non-2xx
answers), and the memory of the server's processes together (the supervisor and its workers):
the sum of their PSS (/proc/<pid>/smaps_rollup: shared pages counted once, split among the
processes sharing them) and of their VmRSS (shared pages counted in every process), after
start-up, after warm-up and after the load, sampling both during the load as well; and the
ratio of each count's requests/s to the first count's. Each server is stopped at the end
(SIGTERM, then SIGKILL after 20 s). Needs wrk (Debian: wrk).

Prints a table and writes bench/results/server.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from corpus import DATA, machine, print_table, questions, require_data, save_result, search_command

ROOT = Path(__file__).resolve().parents[1]
INDEX = Path("/tmp/search-bench/index-100k")
START_TIMEOUT_S = 600

LUA = """
local paths = {%(paths)s}
local counter = 0
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  counter = id * math.floor(#paths / 2)
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"bytes\\": %%d, "
    .. "\\"connect\\": %%d, \\"read\\": %%d, \\"write\\": %%d, \\"status\\": %%d, "
    .. "\\"timeout\\": %%d, \\"p50_us\\": %%d, \\"p90_us\\": %%d, \\"p95_us\\": %%d, "
    .. "\\"p99_us\\": %%d, \\"max_us\\": %%d, \\"mean_us\\": %%.1f}\\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes(pid: int) -> list[int]:
    """pid and its children (a server's workers)."""
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def memory(pid: int) -> dict[str, int]:
    """PSS and VmRSS of pid and its children together, in MB, and how many processes."""
    pss = rss = 0
    every = processes(pid)
    for process in every:
        try:
            for line in Path(f"/proc/{process}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
        except OSError:  # a worker that just exited
            continue
    return {"processes": len(every), "PSS": round(pss / 1024), "RSS": round(rss / 1024)}


def disk(index: Path) -> dict:
    """Bytes on disk of the live generation, by part, and per paragraph; and of the folder."""
    current = (index / "CURRENT").read_text(encoding="ascii").strip()
    manifest = json.loads((index / "generations" / current / "manifest.json").read_text())
    segments = index / "segments"
    # Index format 2: the segments are those of the seed files, the counts in the catalog.
    manifest["segments"] = sorted(set(manifest["file_segments"].values()))
    manifest["paragraphs"] = sum(f["paragraphs"] for f in manifest["catalog"]["files"].values())

    def size(paths: Iterable[Path]) -> int:
        return sum(p.stat().st_size for p in paths if p.is_file())

    parts = {
        "paragraph and article records (.jsonl)":
            size(segments / f"{s}.jsonl" for s in manifest["segments"]),
        "vectors (.npy)": size(segments / f"{s}.npy" for s in manifest["segments"]),
        "HNSW graph with its own copy of the vectors (.faiss)":
            size([segments / manifest["ann"]] if manifest.get("ann") else []),
        "keyword index (Whoosh)": size((index / "generations" / current / "keyword").iterdir()),
        "manifest": size([index / "generations" / current / "manifest.json"]),
        "embedding cache (sqlite)": size((index / "cache").glob("*")),
    }
    paragraphs = manifest["paragraphs"]
    live = sum(parts.values())
    return {
        "generation": current, "paragraphs": paragraphs,
        "bytes": parts, "bytes_per_paragraph": {k: round(v / paragraphs) for k, v in parts.items()},
        "live_total_bytes": live, "live_bytes_per_paragraph": round(live / paragraphs),
        "without_cache_bytes_per_paragraph":
            round((live - parts["embedding cache (sqlite)"]) / paragraphs),
        "folder_bytes": size(index.rglob("*")),
    }


def get(url: str, timeout: float = 30) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until_up(base: str, server: subprocess.Popen) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < START_TIMEOUT_S:
        if server.poll() is not None:
            raise SystemExit(f"search serve exited with status {server.returncode}")
        try:
            status, _ = get(base + "/api/health", timeout=2)
            if status == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"search serve did not answer within {START_TIMEOUT_S} s")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class MemorySampler(threading.Thread):
    """The largest PSS and RSS sums seen while running, sampled every second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = {"PSS": 0, "RSS": 0}
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(1.0):
            found = memory(self.pid)
            for key in self.peak:
                self.peak[key] = max(self.peak[key], found[key])


def run_wrk(base: str, paths: list[str], threads: int, connections: int, duration: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % {"paths": ",\n".join(f'"{p}"' for p in paths)})
    try:
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency",
                   "-s", script.name, base + "/"]
        seconds = float(duration.rstrip("s")) + 60
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds,
                              check=True)
    finally:
        os.unlink(script.name)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    return {
        "command": " ".join(command[:5]) + " -s rotate.lua " + base + "/api/search?q=...",
        "requests": raw["requests"],
        "seconds": round(raw["duration_us"] / 1e6, 2),
        "requests_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "latency_ms": {k.removesuffix("_us"): round(raw[k] / 1000, 1)
                       for k in ("p50_us", "p90_us", "p95_us", "p99_us", "max_us", "mean_us")},
        "errors": {k: raw[k] for k in ("connect", "read", "write", "timeout", "status")},
        "wrk_output": done.stdout,
    }


def search_path(text: str) -> str:
    return f"/api/search?q={urllib.parse.quote(text, safe='')}&mode=hybrid"


def worker_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"worker counts must be 1 or more: {text!r}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=INDEX)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--per-language", type=int, default=28,
                        help="questions per language in the rotation (28: 308 in all)")
    parser.add_argument("--duration", default="30s")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=worker_counts,
                        default=[1, len(os.sched_getaffinity(0))],
                        help="comma-separated worker counts, one server each (default: 1 and "
                             "one per core)")
    args = parser.parse_args()
    require_data(args.data)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    asked = questions(args.data, args.per_language)
    paths = [search_path(text) for _lang, text in asked]
    # Every other question of the data, each asked at most once: answers the result cache
    # cannot hold yet.
    fresh = [search_path(text) for _lang, text in questions(args.data, 10**6)]
    fresh = [path for path in dict.fromkeys(fresh) if path not in set(paths)]
    result: dict = {"index": str(args.index), "questions": len(paths),
                    "machine": {"start": machine()}, "runs": {}}
    for workers in dict.fromkeys(args.workers):
        result["runs"][str(workers)] = measure(args, workers, paths, fresh)
    first = result["runs"][str(args.workers[0])]["wrk"]["new questions"]["requests_per_s"]
    for run in result["runs"].values():
        run["new_questions_ratio"] = round(
            run["wrk"]["new questions"]["requests_per_s"] / first, 2) if first else None
    result["machine"]["end"] = machine()
    save_result("server", result)  # the measurements first, whatever happens below
    result["disk"] = disk(args.index)
    save_result("server", result)
    report(result)


def measure(args: argparse.Namespace, workers: int, paths: list[str], fresh: list[str]) -> dict:
    """One server with `workers` workers: start-up, warm-up, both wrk runs, memory."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    command = search_command("serve", "--host", "127.0.0.1", "--port", str(port),
                             "--index", str(args.index), "--workers", str(workers))
    server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    result: dict = {"server": " ".join(command[-10:]), "loadavg_start": os.getloadavg()}
    try:
        result["startup_s"] = round(wait_until_up(base, server), 1)
        result["memory_mb_after_start"] = memory(server.pid)
        failures = sum(get(base + path)[0] != 200 for path in paths)
        result["warmup"] = {"requests": len(paths), "non_200": failures}
        result["memory_mb_after_warmup"] = memory(server.pid)
        sampler = MemorySampler(server.pid)
        sampler.start()
        # Repeated questions first: the new ones would push some out of the result cache.
        result["wrk"] = {
            "repeated questions": run_wrk(base, paths, args.threads, args.connections,
                                          args.duration),
            "new questions": run_wrk(base, fresh, args.threads, args.connections,
                                     args.duration),
        }
        sampler.halt.set()
        sampler.join()
        result["memory_mb_after_load"] = memory(server.pid)
        result["memory_mb_peak_sampled"] = sampler.peak
        status, body = get(base + paths[0])
        result["after_load_check"] = {"status": status, "total": json.loads(body).get("total")}
        result["loadavg_end"] = os.getloadavg()
    finally:
        stop(server)
        log.seek(0)
        result["server_log_tail"] = log.read()[-2000:]
        log.close()
        os.unlink(log.name)
    return result


def report(result: dict) -> None:
    first = next(iter(result["runs"].values()))
    print(f"{first['wrk']['new questions']['command']}; load average at start "
          f"{result['machine']['start']['loadavg']}, at end {result['machine']['end']['loadavg']}")
    rows: list[list[object]] = [
        ["workers", "hybrid GET /api/search", "requests/s", "x 1st", "requests", "p50 ms",
         "p90 ms", "p99 ms", "max ms", "errors"]]
    for workers, run in result["runs"].items():
        for name, w in run["wrk"].items():
            lat = w["latency_ms"]
            ratio = run["new_questions_ratio"] if name == "new questions" else ""
            rows.append([workers, name, w["requests_per_s"], ratio, w["requests"], lat["p50"],
                         lat["p90"], lat["p99"], lat["max"], sum(w["errors"].values())])
    print_table(rows)
    print(f"repeated questions: the {result['questions']} asked once before (warm-up), so "
          "answered from the result cache; new questions: each asked at most once per server")
    memory_rows: list[list[object]] = [
        ["memory (MB, all processes)", "processes", "PSS", "RSS"]]
    for workers, run in result["runs"].items():
        for stage in ("after_start", "after_warmup", "after_load", "peak_sampled"):
            m = run[f"memory_mb_{stage}"]
            memory_rows.append([f"{workers} workers, {stage.replace('_', ' ')}",
                                m.get("processes", ""), m["PSS"], m["RSS"]])
    print_table(memory_rows)
    d = result["disk"]
    disk_rows: list[list[object]] = [["disk (live generation)", "MB", "bytes/paragraph"]]
    for part, size in d["bytes"].items():
        disk_rows.append([part, round(size / 1e6, 1), d["bytes_per_paragraph"][part]])
    disk_rows.append(["total", round(d["live_total_bytes"] / 1e6, 1),
                      d["live_bytes_per_paragraph"]])
    print_table(disk_rows)
    print(f"{d['paragraphs']} paragraphs; whole folder (with the previous generation) "
          f"{d['folder_bytes'] / 1e6:.0f} MB")
    for workers, run in result["runs"].items():
        print(f"{workers} workers: warm-up non-200: {run['warmup']['non_200']}; "
              f"start-up {run['startup_s']} s; load average {run['loadavg_start']} -> "
              f"{run['loadavg_end']}")


if __name__ == "__main__":
    main()
