"""Delivery to real receivers on loopback: a webhook server that checks the signature and
fails once, an SMTP server (aiosmtpd) that receives the mail, and the Atom feed as feed
readers read it (feedparser)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import feedparser
from aiosmtpd.controller import Controller
from alert_helpers import base, deliver_quickly, names, update

from search.alerts import AlertKind, AlertStore, add_alert, alert_hits
from search.alerts.deliver import DeliveryPolicy, deliver_pending
from search.alerts.deliver.atom import feed


class _Receiver(BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers.get("X-Search-Signature", "")))
        self.send_response(self.answers.pop(0) if self.answers else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_webhook_is_signed_and_retried_after_a_500(tmp_path, monkeypatch):
    deliver_quickly(monkeypatch)
    receiver = type("Receiver", (_Receiver,), {"answers": [500], "received": []})
    server = _serve(receiver)
    try:
        seeds, index = base(tmp_path / "seeds"), tmp_path / "index"
        update(seeds, index)
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        alert = add_alert(index, "people", "Zelensky\nPeskov", kind=AlertKind.WATCHLIST,
                          webhook_url=url)
        assert not _warnings(update(names(seeds), index))
    finally:
        server.shutdown()
        server.server_close()
    assert len(receiver.received) == 2  # the 500, then the retry
    body, signature = receiver.received[-1]
    assert receiver.received[0][0] == body
    expected = "sha256=" + hmac.new(alert.webhook_secret.encode(), body, hashlib.sha256
                                    ).hexdigest()
    assert hmac.compare_digest(signature, expected)
    sent = json.loads(body)
    assert sent["alert"]["name"] == "people"
    assert [h["paragraph_id"] for h in sent["hits"]] == ["names.md:0", "names.md:1"]
    assert sent["hits"][0]["why"]["words"][0]["word"] == "Zelensky"
    assert sent["hits"][0]["link"] == "http://news.example/articles/names.md#p0"
    with AlertStore(index, writable=False) as store:
        assert store.outbox(alert.id) == [("webhook", "g000002", "done", 2, None)]


def test_an_unreachable_webhook_is_marked_failed_with_the_reason_and_indexing_goes_on(
        tmp_path, monkeypatch):
    policy = deliver_quickly(monkeypatch)
    seeds, index = base(tmp_path / "seeds"), tmp_path / "index"
    update(seeds, index)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    alert = add_alert(index, "people", "Zelensky", kind=AlertKind.WATCHLIST,
                      webhook_url=f"http://127.0.0.1:{port}/hook")
    warnings = _warnings(update(names(seeds), index))
    assert len(warnings) == 1 and "alert delivery failed: people (webhook)" in warnings[0]
    with AlertStore(index, writable=False) as store:
        [(channel, _, state, attempts, error)] = store.outbox(alert.id)
    assert (channel, state, attempts) == ("webhook", "failed", policy.attempts)
    assert "unreachable" in error and "Connection refused" in error
    assert len(alert_hits(index, "people")[1]) == 1  # the feed has it all the same


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


def test_email_goes_to_an_smtp_server_one_message_per_alert_and_generation(tmp_path,
                                                                           monkeypatch):
    mailbox = _Mailbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        seeds, index = base(tmp_path / "seeds"), tmp_path / "index"
        update(seeds, index)
        add_alert(index, "people", "Zelensky\nPeskov\nPutin", kind=AlertKind.WATCHLIST,
                  email="reader@example.org")
        deliver_quickly(monkeypatch, SEARCH_SMTP_HOST="127.0.0.1", SEARCH_SMTP_PORT=str(port),
                        SEARCH_SMTP_FROM="alerts@example.org")
        assert not _warnings(update(names(seeds), index))
    finally:
        controller.stop()
    [(sender, recipients, content)] = mailbox.messages
    assert (sender, recipients) == ("alerts@example.org", ["reader@example.org"])
    mail = message_from_bytes(content)
    assert mail["Subject"] == "[search alert] people: 3 new"
    text = mail.get_payload(decode=True).decode()
    assert "President Zelensky said the delegation" in text
    assert "why: words: Peskov (typed)" in text
    assert "http://news.example/articles/names.md#p2" in text


def test_the_atom_feed_reads_in_feedparser(tmp_path, monkeypatch):
    policy = deliver_quickly(monkeypatch)
    seeds, index = base(tmp_path / "seeds"), tmp_path / "index"
    update(seeds, index)
    add_alert(index, "people", "Зеленский\nPeskov", kind=AlertKind.WATCHLIST)
    update(names(seeds), index)
    alert, hits = alert_hits(index, "people")
    parsed = feedparser.parse(feed(alert, hits, policy))
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.feed.title == "Alert: people"
    assert [e.link for e in parsed.entries] == [
        "http://news.example/articles/names.md#p1", "http://news.example/articles/names.md#p0"]
    assert "Зеленский (latin: Zelensky)" in parsed.entries[1].summary
    assert len({e.id for e in parsed.entries}) == 2


def test_pending_deliveries_wait_for_the_next_run_when_the_budget_is_spent(tmp_path,
                                                                           monkeypatch):
    deliver_quickly(monkeypatch, SEARCH_ALERT_BACKOFF="60", SEARCH_ALERT_BUDGET="1")
    receiver = type("Receiver", (_Receiver,), {"answers": [503], "received": []})
    server = _serve(receiver)
    try:
        seeds, index = base(tmp_path / "seeds"), tmp_path / "index"
        update(seeds, index)
        add_alert(index, "people", "Zelensky", kind=AlertKind.WATCHLIST,
                  webhook_url=f"http://127.0.0.1:{server.server_address[1]}/")
        update(names(seeds), index)
        assert len(receiver.received) == 1
        with AlertStore(index) as store:  # the next run, once the retry is due
            store._db.execute("UPDATE outbox SET next_attempt = 0")
            report = deliver_pending(store, DeliveryPolicy.from_environ())
    finally:
        server.shutdown()
        server.server_close()
    assert (report.delivered, len(receiver.received)) == (1, 2)


def _warnings(summary) -> list[str]:
    return [w for w in summary.warnings if "alert" in w]


def test_two_processes_delivering_at_once_send_each_delivery_once(tmp_path, monkeypatch):
    policy = deliver_quickly(monkeypatch, SEARCH_ALERT_ATTEMPTS="9")
    seeds, index = base(tmp_path / "seeds"), tmp_path / "index"
    update(seeds, index)
    with socket.socket() as s:  # nobody listens yet: the deliveries stay pending
        s.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    for name, text in (("president", "Zelensky"), ("spokesman", "Peskov")):
        add_alert(index, name, text, kind=AlertKind.WATCHLIST, webhook_url=nowhere)
    monkeypatch.setenv("SEARCH_ALERT_BUDGET", "0")
    update(names(seeds), index)
    receiver = type("Slow", (_Receiver,), {"answers": [], "received": []})
    receiver.do_POST = lambda self: (time.sleep(0.3), _Receiver.do_POST(self))  # type: ignore
    server = _serve(receiver)
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with AlertStore(index) as store:
        for name in ("president", "spokesman"):
            store.update(name, webhook_url=url)
        assert len(store.pending(now=float("inf"))) == 2
    time.sleep(0.2)  # the retries are due

    def deliver() -> None:
        with AlertStore(index) as store:
            deliver_pending(store, policy)

    try:
        both = [threading.Thread(target=deliver) for _ in range(2)]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join(timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    bodies = sorted(body for body, _ in receiver.received)
    assert len(bodies) == 2 and bodies[0] != bodies[1]
    with AlertStore(index, writable=False) as store:
        assert store.pending(now=float("inf")) == []
