"""Delivery of alert hits: one module per channel behind one function type, `Send`.

A new channel is one `Channel` member, one module with a `send(delivery, policy)` and one
line in SENDERS. The Atom feed is no channel: it is rendered from the stored hits when read
(deliver/atom.py), so it can never hold a hit twice. Deliveries come from the store's outbox
and are at least once: a row is marked done after its send returns, so a crash in between
sends it again on the next run. A process claims a row before sending it, so two processes
delivering at once (serve workers, `search index`) never send it twice; a claim lapses after
CLAIM_SECONDS, so a process that died sending leaves the row to the next. Every send has a
timeout, and one run spends at most `policy.budget` seconds retrying; what is left waits for
the next `search index` or `serve`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from search.alerts.records import Channel, Delivery
from search.alerts.store import AlertStore

# Longer than any send (each has `policy.timeout`, 5 s by default).
CLAIM_SECONDS = 120.0


class DeliveryFailed(Exception):
    """A send did not go through; `permanent` ones are not retried."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class MailServer:
    """Where email goes: SEARCH_SMTP_HOST, _PORT, _STARTTLS (1 to upgrade), _FROM, and the
    credentials SEARCH_SMTP_USER and SEARCH_SMTP_PASSWORD, read from the environment."""

    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    sender: str = "alerts@localhost"
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> MailServer:
        return cls(environ.get("SEARCH_SMTP_HOST", "localhost"),
                   int(environ.get("SEARCH_SMTP_PORT", "25")),
                   environ.get("SEARCH_SMTP_STARTTLS", "0") not in ("", "0", "false", "no"),
                   environ.get("SEARCH_SMTP_FROM", "alerts@localhost"),
                   environ.get("SEARCH_SMTP_USER") or None,
                   environ.get("SEARCH_SMTP_PASSWORD") or None)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How deliveries are made: each send's timeout, attempts before a delivery is marked
    failed, the wait before the second attempt (doubling after), the seconds one run spends
    (SEARCH_ALERT_TIMEOUT, _ATTEMPTS, _BACKOFF, _BUDGET), and the address of the web pages
    that links point to (SEARCH_BASE_URL)."""

    timeout: float = 5.0
    attempts: int = 5
    backoff: float = 2.0
    budget: float = 15.0
    base_url: str = "http://127.0.0.1:8000"
    mail: MailServer = field(default_factory=MailServer)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> DeliveryPolicy:
        environ = os.environ if environ is None else environ
        return cls(float(environ.get("SEARCH_ALERT_TIMEOUT", cls.timeout)),
                   int(environ.get("SEARCH_ALERT_ATTEMPTS", cls.attempts)),
                   float(environ.get("SEARCH_ALERT_BACKOFF", cls.backoff)),
                   float(environ.get("SEARCH_ALERT_BUDGET", cls.budget)),
                   environ.get("SEARCH_BASE_URL", cls.base_url).rstrip("/"),
                   MailServer.from_environ(environ))


Send = Callable[[Delivery, DeliveryPolicy], None]


def _senders() -> dict[Channel, Send]:
    from search.alerts.deliver import smtp, webhook

    return {Channel.WEBHOOK: webhook.send, Channel.EMAIL: smtp.send}


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: list[str] = field(default_factory=list)  # "alert (channel): reason"
    pending: int = 0


def deliver_pending(store: AlertStore, policy: DeliveryPolicy,
                    sleep: Callable[[float], None] = time.sleep) -> DeliveryReport:
    """Send what the outbox holds, retrying with backoff within the policy's budget."""
    senders = _senders()
    report = DeliveryReport()
    deadline = time.monotonic() + policy.budget
    while True:
        for delivery in store.pending():
            if not store.claim(delivery.id, CLAIM_SECONDS):
                continue
            try:
                senders[delivery.channel](delivery, policy)
            except DeliveryFailed as exc:
                tries = delivery.attempts + 1
                final = exc.permanent or tries >= policy.attempts
                retry_at = None if final else time.time() + policy.backoff * 2 ** (tries - 1)
                store.attempt_failed(delivery.id, str(exc), retry_at)
                if final:
                    report.failed.append(
                        f"{delivery.alert.name} ({delivery.channel.value}): {exc}")
                continue
            store.delivered(delivery.id)
            report.delivered += 1
        due = store.next_attempt()
        if due is None:
            return report
        wait = max(0.0, due - time.time())
        if time.monotonic() + wait > deadline:
            report.pending = len(store.pending(now=float("inf")))
            return report
        sleep(wait)


def link(policy: DeliveryPolicy, paragraph_id: str) -> str:
    """The web page of a paragraph: its article, at that paragraph."""
    from urllib.parse import quote

    article_id, _, position = paragraph_id.rpartition(":")
    return f"{policy.base_url}/articles/{quote(article_id)}#p{position}"
