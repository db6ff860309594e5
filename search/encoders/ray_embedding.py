"""Embedding on Ray Data: the texts go to a Ray cluster (or a local Ray on this machine's
cores), workers that each load the model once embed them block by block, and the vectors
come back in input order, a block at a time, so that the updater caches each as it arrives.

Ray is optional (`pip install -e ".[scale]"`) and imported only by a `RayEmbedding`, so
`import search` never loads it. Every failure (Ray missing, an address that does not answer,
a worker that cannot load the model or fails on a block) is one `EmbeddingFailed` line.
"""

from __future__ import annotations

import logging
import math
import re
import socket
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from search.errors import EmbeddingFailed

INSTALL_HINT = 'Ray is not installed here: pip install -e ".[scale]"'
# Ray's own defaults: the GCS port of a cluster (`ray start --head`) and Ray Client's port.
_GCS_PORT, _CLIENT_PORT = 6379, 10001
_CONNECT_TIMEOUT = 5.0
# The last "module.Type: message" line of a remote traceback that Ray flattens into text.
_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*): (.+)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class RayOptions:
    """Where and how the texts are embedded on Ray."""

    # "host:port" (a cluster's GCS, from a node of it), "ray://host:port" (Ray Client) or
    # "auto" (the cluster `ray start` runs on this machine); None: start a local Ray on this
    # machine's cores for the run, and stop it afterwards.
    address: str | None = None
    # torch threads of each worker (an actor holding one copy of the model); on 2 cores two
    # 1-thread workers computed 14-30 % faster than one 2-thread worker (docs/benchmarks.md,
    # "Embedding on Ray").
    cpus_per_worker: int = 1
    workers: int = 0  # 0: as many as the cluster's CPUs hold
    block: int = 256  # most texts per task: results come back, and are cached, by block
    batch_size: int = 64  # texts per forward pass inside a worker
    # Converted models' folder on the workers' machines ("": each user's cache folder).
    model_cache: str = ""


class RayEmbedding:
    """Texts in, blocks of L2-normalized float32 rows out, in input order, computed on Ray.

    A context manager: the local Ray it starts (address None) stops on exit. Ray itself is
    started or joined on the first call, so a run with nothing to embed never waits for it;
    a Ray session already open in this process (a notebook, a test session) is used as it is
    and left open.

    Raises EmbeddingFailed when Ray is not installed or the address does not answer (both
    checked at once), and when a worker fails (from the call).
    """

    def __init__(self, model: str, options: RayOptions | None = None) -> None:
        self.model = model
        self.options = options or RayOptions()
        if self.options.cpus_per_worker < 1 or self.options.block < 1:
            raise EmbeddingFailed("Ray workers need at least one CPU and blocks one text")
        self._ray = _import_ray()
        if self.options.address not in (None, "auto", "local"):
            _check_reachable(self.options.address)
        self._started = False

    def __enter__(self) -> RayEmbedding:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the Ray this object started (if any)."""
        if self._started:
            self._started = False
            self._ray.shutdown()

    def __call__(self, texts: Sequence[str]) -> Iterator[np.ndarray]:
        if len(texts) == 0:
            return
        self._connect()
        try:
            yield from in_order(self._run(texts), len(texts))
        except EmbeddingFailed:
            raise
        except Exception as exc:  # whatever a worker or Ray Data raised: one line at this edge
            raise EmbeddingFailed(f"embedding on Ray failed: {root_cause(exc)}") from exc

    def _connect(self) -> None:
        ray = self._ray
        if not ray.is_initialized():
            self._init()
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the CLI shows its own progress
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)  # failures arrive as errors

    def _init(self) -> None:
        ray, address = self._ray, self.options.address
        quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
        try:
            if address in (None, "local"):
                from search.encoders.loading import available_cores

                ray.init(address="local", num_cpus=available_cores(), include_dashboard=False,
                         **quiet)
            else:
                ray.init(address=address, **quiet)
        # Ray exits the process (SystemExit) when a GCS stops answering mid-handshake.
        except (Exception, SystemExit) as exc:
            ray.shutdown()
            where = "a local Ray" if address in (None, "local") else f"Ray at {address}"
            raise EmbeddingFailed(f"cannot start {where}: {root_cause(exc)}") from exc
        self._started = True

    def _run(self, texts: Sequence[str],
             worker: type[_Worker] | None = None) -> Iterable[dict[str, np.ndarray]]:
        """The workers' batches (`row`, `vector`) as they come; `worker` (a subclass of
        _Worker) lets bench/ray_embedding.py time them."""
        ray, options = self._ray, self.options
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < options.cpus_per_worker:
            raise EmbeddingFailed(f"the Ray cluster has {cpus} CPUs; a worker needs "
                                  f"{options.cpus_per_worker}")
        workers = options.workers or cpus // options.cpus_per_worker
        # Blocks small enough that every worker gets some: each loads the model once.
        block = min(options.block, math.ceil(len(texts) / workers))
        blocks = math.ceil(len(texts) / block)
        rows = ray.data.from_items([{"row": i, "text": text} for i, text in enumerate(texts)],
                                   override_num_blocks=blocks)
        # max_restarts=0: a worker that cannot load the model fails the run at once, as one
        # error, instead of being restarted without end while Ray prints each traceback. Ray
        # 2.60 takes it only as a deprecated keyword (removed in 2.64: pyproject pins below).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            vectors = rows.map_batches(
                worker or _Worker,
                fn_constructor_kwargs={"model": self.model, "threads": options.cpus_per_worker,
                                       "batch_size": options.batch_size,
                                       "model_cache": options.model_cache},
                batch_size=None,  # a task per block: a batch size would merge small ones
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=min(workers, blocks)),
                num_cpus=options.cpus_per_worker,
                max_restarts=0,
            )
        return vectors.iter_batches(batch_size=None, batch_format="numpy")


class _Worker:
    """One per Ray actor: loads the model once, then embeds the blocks it is handed."""

    def __init__(self, model: str, threads: int, batch_size: int, model_cache: str = "") -> None:
        from search.encoders.loading import load_encoder

        self.encoder = load_encoder(model, threads, model_cache=model_cache)
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode(batch["text"].tolist(), self.batch_size)
        return {"row": batch["row"], "vector": vectors}


def in_order(batches: Iterable[dict[str, np.ndarray]], total: int) -> Iterator[np.ndarray]:
    """The `vector` rows of batches that arrive in any order, as blocks in `row` order: each
    block is the rows that became contiguous with the ones already given."""
    waiting: dict[int, np.ndarray] = {}
    given = 0
    for batch in batches:
        waiting.update(zip(batch["row"].tolist(), batch["vector"], strict=True))
        ready = []
        while given in waiting:
            ready.append(waiting.pop(given))
            given += 1
        if ready:
            yield np.ascontiguousarray(np.stack(ready), dtype=np.float32)
    if given != total or waiting:
        raise EmbeddingFailed(f"Ray returned {given + len(waiting)} vectors for {total} texts")


def root_cause(exc: BaseException) -> str:
    """One line for an error from Ray: the last exception line of the remote traceback Ray
    flattens into its message, unless that is Ray's own wrapper; else the message's first line.
    The engine's own errors (search.errors) read as their message alone."""
    lines = [_ANSI.sub("", line).rstrip() for line in str(exc).splitlines()]
    for line in reversed(lines):
        match = _ERROR_LINE.match(line)
        if match and not match.group(1).startswith("ray."):
            kind, message = match.groups()
            return message if kind.startswith("search.errors.") else f"{kind}: {message}"
    first = next((line.strip() for line in lines if line.strip()), "")
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _import_ray() -> ModuleType:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise EmbeddingFailed(INSTALL_HINT) from exc
    return ray


def _check_reachable(address: str) -> None:
    """Refuse at once an address where nothing listens: left to itself, Ray retries for
    minutes and then exits the process."""
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        host = parts.hostname
        port = parts.port or (_CLIENT_PORT if parts.scheme == "ray" else _GCS_PORT)
    except ValueError:
        host = None
    if not host or parts.scheme not in ("", "ray"):
        raise EmbeddingFailed(f"{address!r} is not a Ray address: use host:port, "
                              "ray://host:port or auto")
    try:
        socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise EmbeddingFailed(f"cannot reach Ray at {address} ({reason}); start it with "
                              "`ray start --head` there, or run --ray without an address "
                              "for a local Ray") from exc
