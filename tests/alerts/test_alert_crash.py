"""A `search index` killed (SIGKILL) between publishing a generation and delivering its
alerts: the next run delivers each hit exactly once, and the feed holds each once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from alert_helpers import base, deliver_quickly, names, update

from search.alerts import AlertKind, AlertStore, add_alert, alert_hits

PROJECT = Path(__file__).resolve().parents[2]

# The update of tests/alerts/alert_helpers.py in a fresh process that SIGKILLs itself when
# the alerts' hook reaches KILL_AT: "evaluate" (the generation is published, nothing of the
# alerts is done) or "deliver" (the hits and the outbox are committed, nothing is sent).
RUNNER = """
import os, signal, sys
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests", sys.argv[1] + "/tests/alerts"]
import search.alerts.watch as watch
from alert_helpers import update

def killing(function):
    def wrapper(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    return wrapper

where = {"evaluate": "evaluate_new", "deliver": "deliver_pending"}[os.environ["KILL_AT"]]
setattr(watch, where, killing(getattr(watch, where)))
update(sys.argv[2], sys.argv[3])
"""


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("kill_at", ["evaluate", "deliver"])
def test_a_kill_between_publish_and_delivery_delivers_exactly_once_afterwards(
        tmp_path, monkeypatch, kill_at):
    deliver_quickly(monkeypatch)
    receiver = type("Receiver", (_Receiver,), {"bodies": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        seeds, index = base(tmp_path / "seeds"), tmp_path / "index"
        update(seeds, index)
        add_alert(index, "people", "Zelensky\nPeskov", kind=AlertKind.WATCHLIST,
                  webhook_url=f"http://127.0.0.1:{server.server_address[1]}/")
        names(seeds)
        killed = subprocess.run(
            [sys.executable, "-c", RUNNER, str(PROJECT), str(seeds), str(index)],
            env={**os.environ, "KILL_AT": kill_at}, capture_output=True, text=True,
            timeout=120)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert receiver.bodies == []
        with AlertStore(index, writable=False) as store:
            assert store.watermark() == (1 + 2 if kill_at == "evaluate" else 1 + 2 + 4)
        summary = update(seeds, index)  # nothing to index: only the alerts' catch-up
        assert summary.generation == "g000002" and not summary.warnings
        update(seeds, index)  # and again: nothing more
    finally:
        server.shutdown()
        server.server_close()
    [sent] = receiver.bodies
    assert [h["paragraph_id"] for h in sent["hits"]] == ["names.md:0", "names.md:1"]
    assert [h.paragraph_id for h in alert_hits(index, "people")[1]] == [
        "names.md:1", "names.md:0"]
