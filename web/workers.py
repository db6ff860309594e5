"""Several worker processes serving one app on one listening socket (`search serve --workers`).

The supervising process loads the index and the model once (create_app with BACKGROUND
off), binds the socket, and forks the workers: each starts its own threads (waitress's, the
generation follower, the watcher in worker 0 only), so no thread pool or lock is inherited
half-used. The loaded model, the index files mapped into memory and the arrays read at start
are shared copy-on-write. The supervisor starts no thread of its own: it replaces a worker
that exits, follows the live generation itself (so that a replacement starts on it), and on
SIGTERM or SIGINT stops every worker, waiting for running requests and jobs.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

from flask import Flask
from waitress.server import create_server

from .services import Services, start_background

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def serve_in_workers(app: Flask, host: str, port: int, workers: int, threads: int,
                     announce: Callable[[int], None]) -> None:
    """Serve app on host:port in `workers` processes until SIGTERM or SIGINT; `announce`
    gets the port once it is bound."""
    sock = listening_socket(host, port)
    try:
        announce(sock.getsockname()[1])
        Supervisor(app, sock, workers, threads).run()
    finally:
        sock.close()


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port and listening, for the workers to share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except BaseException:
        sock.close()
        raise
    return sock


class Supervisor:
    """Forks `workers` processes serving `app` on `sock` and keeps them running until
    SIGTERM or SIGINT."""

    def __init__(self, app: Flask, sock: socket.socket, workers: int, threads: int,
                 stop_timeout: float = 30.0, interval: float = 0.5) -> None:
        self.app = app
        self.sock = sock
        self.workers = workers
        self.threads = threads
        self.stop_timeout = stop_timeout
        self.interval = interval
        self._slots: dict[int, int] = {}  # pid -> slot
        self._last_error: str | None = None

    def run(self) -> None:
        parent = os.getpid()
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGHUP, _interrupt)  # a closed terminal: stop as cleanly
        # Objects made so far are never collected: a collection in a worker would write to
        # every page holding them, and they would stop being shared.
        gc.freeze()
        try:
            for slot in range(self.workers):
                self._start(slot, parent)
            log.info("%d workers serving: %s", self.workers,
                     ", ".join(str(pid) for pid in self._slots))
            while True:
                self._replace_exited(parent)
                self._follow()
                time.sleep(self.interval)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            self._stop_all()

    def pids(self) -> list[int]:
        return list(self._slots)

    def _start(self, slot: int, parent: int) -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _worker(self.app, self.sock, self.threads, slot, parent)
            except BaseException:
                log.exception("worker %d failed", os.getpid())
            finally:
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self._slots[pid] = slot

    def _replace_exited(self, parent: int) -> None:
        while self._slots:
            ended = _wait_any()
            if ended is None:  # none left to wait for: all of them are gone
                gone = list(self._slots.values())
                self._slots.clear()
                for number in gone:
                    self._start(number, parent)
                return
            pid, status = ended
            if pid == 0:
                return
            slot = self._slots.pop(pid, None)
            if slot is None:
                continue
            log.warning("worker %d %s; starting another", pid, _describe(status))
            self._start(slot, parent)

    def _follow(self) -> None:
        try:
            self._services().engine.refresh()
            self._last_error = None
        except Exception as exc:  # the workers report it to their callers; say it once here
            if repr(exc) != self._last_error:
                log.warning("cannot follow the live generation: %s", exc)
            self._last_error = repr(exc)

    def _stop_all(self) -> None:
        for pid in self._slots:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while self._slots:
            ended = _wait_any()
            if ended is None:
                self._slots.clear()
                return
            pid, _ = ended
            if pid != 0:
                self._slots.pop(pid, None)
                continue
            if time.monotonic() > deadline:
                for late in self._slots:
                    log.warning("worker %d did not stop within %.0f s; killing it",
                                late, self.stop_timeout)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(late, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.05)

    def _services(self) -> Services:
        services: Services = self.app.extensions["search"]
        return services


def _worker(app: Flask, sock: socket.socket, threads: int, slot: int, parent: int) -> int:
    """The body of one worker process; returns its exit status."""
    signal.signal(signal.SIGTERM, _interrupt_once)
    signal.signal(signal.SIGINT, _interrupt_once)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor stops the workers
    app.config["WATCH"] = bool(app.config["WATCH"]) and slot == 0
    services: Services = app.extensions["search"]
    try:
        _die_with(parent)
        start_background(app)
        server = create_server(app, sockets=[sock], threads=threads,
                               max_request_body_size=app.config["MAX_CONTENT_LENGTH"])
        try:
            server.run()  # returns on KeyboardInterrupt, after stopping its threads
        finally:
            server.close()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        services.close()
    return 0


def _die_with(parent: int) -> None:
    """Have the kernel send SIGTERM to this worker when its supervisor dies, even by
    SIGKILL, so that no worker outlives it holding the port (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it died before the request took effect
        raise KeyboardInterrupt


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def _interrupt_once(signum: int, frame: FrameType | None) -> NoReturn:
    # Ctrl+C reaches the workers from the terminal and from the supervisor: stop once.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _wait_any() -> tuple[int, int] | None:
    """(pid, status) of a child that ended, (0, 0) while none has, None without children."""
    try:
        return os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return None


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
