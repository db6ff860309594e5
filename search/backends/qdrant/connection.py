"""Connecting to Qdrant: a server or cluster by URL, or a folder in local mode.

Local mode (qdrant-client running in this process) lets one client at a time hold a folder,
so clients are shared per location within the process: the engine and a reindex job of the
same server use one. Failures become one-line `BackendUnavailable` errors.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from search.errors import BackendUnavailable

T = TypeVar("T")

_clients: dict[str, QdrantClient] = {}
# Local mode keeps its points in arrays that an upsert reallocates: calls on one folder are
# serialized (a server serializes what it must itself).
_local_locks: dict[str, threading.RLock] = {}
_clients_lock = threading.Lock()


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _key(location: str) -> str:
    return location if is_url(location) else str(Path(location).resolve())


def connect(location: str, api_key: str | None = None) -> QdrantClient:
    """The shared client of `location` (an http(s) URL, or a folder for local mode)."""
    key = _key(location)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _open(location, api_key)
            _clients[key] = client
            if not is_url(location):
                _local_locks[key] = threading.RLock()
        return client


def _open(location: str, api_key: str | None) -> QdrantClient:
    if is_url(location):
        # No background version check: its warning would be a second line beside ours.
        return QdrantClient(url=location, api_key=api_key, timeout=30,
                            check_compatibility=False)
    try:
        Path(location).mkdir(parents=True, exist_ok=True)
        return QdrantClient(path=location)
    except RuntimeError as exc:  # the folder is held by another process
        raise BackendUnavailable(
            f"the Qdrant folder {location} is in use by another process (local mode allows "
            "one at a time): stop it, or run a Qdrant server and pass its URL") from exc


@atexit.register
def _close_all() -> None:
    """Close the shared clients while the interpreter can still run their cleanup (local
    mode's, left to garbage collection at exit, prints a traceback)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
        _local_locks.clear()
    for client in clients:
        client.close()


def forget(location: str) -> None:
    """Close and drop the shared client of `location` (tests, and after a failure)."""
    key = _key(location)
    with _clients_lock:
        client = _clients.pop(key, None)
        _local_locks.pop(key, None)
    if client is not None:
        client.close()


@contextmanager
def reported(location: str) -> Iterator[None]:
    """Around every call: one caller at a time on a local-mode folder, and transport and HTTP
    failures turned into one line that names the server."""
    lock = _local_locks.get(_key(location))
    try:
        if lock is None:
            yield
        else:
            with lock:
                yield
    except UnexpectedResponse as exc:
        if exc.status_code in (401, 403):
            raise BackendUnavailable(
                f"Qdrant at {location} refused the API key (HTTP {exc.status_code}): set "
                "QDRANT_API_KEY to a key of that cluster") from exc
        raise BackendUnavailable(
            f"Qdrant at {location} answered HTTP {exc.status_code}: "
            f"{_first_line(exc.content)}") from exc
    except (ResponseHandlingException, ConnectionError, TimeoutError) as exc:
        raise BackendUnavailable(f"Qdrant at {location} cannot be reached ({exc}); is it "
                                 "running, and is the URL right?") from exc


def call(location: str, function: Callable[[], T]) -> T:
    with reported(location):
        return function()


def _first_line(content: bytes) -> str:
    text = content.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:200] if text else "no details"
