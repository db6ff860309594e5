"""The records of alerts that cross module boundaries: an alert, its hits and why they fired,
and what a delivery channel is handed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple, overload

from search.ranking.explain import MatchForm, TermMatch
from search.ranking.query import Mode
from search.records import Filters


class AlertKind(Enum):
    """A query (matched like `search query`) or a watchlist (names or terms, one per line,
    each matched like a keyword query, with names across scripts and typos forgiven)."""

    QUERY = "query"
    WATCHLIST = "watchlist"


class Channel(Enum):
    """Where an alert's hits go besides its Atom feed, which every alert has."""

    WEBHOOK = "webhook"
    EMAIL = "email"


@dataclass(frozen=True)
class Alert:
    """A saved search. `text` is the query, or the watchlist's entries one per line.
    `feed_token` names its Atom feed (unguessable); `webhook_secret` signs its webhook posts."""

    id: int
    name: str
    kind: AlertKind
    text: str
    mode: Mode
    filters: Filters
    feed_token: str
    created: str
    webhook_url: str | None = None
    webhook_secret: str | None = None
    email: str | None = None
    lang: str | None = None  # a query's language, detected at its first evaluation

    @property
    def entries(self) -> list[str]:
        """The watchlist's entries (one for a query: its whole text)."""
        if self.kind is AlertKind.QUERY:
            return [self.text]
        return [line.strip() for line in self.text.splitlines() if line.strip()]

    @property
    def channels(self) -> tuple[Channel, ...]:
        return tuple(c for c, target in ((Channel.WEBHOOK, self.webhook_url),
                                         (Channel.EMAIL, self.email)) if target)


@dataclass(frozen=True)
class Why:
    """Why an alert fired on a paragraph: the words found (keyword side) and their share of
    the query's words, and the cosine of the meanings (semantic side), whichever matched."""

    words: tuple[TermMatch, ...] = ()
    coverage: float | None = None
    cosine: float | None = None

    def summary(self) -> str:
        """One line for people: "words: talks (typed), Зеленский (latin: Zelensky);
        meaning: cosine 0.41"."""
        parts = []
        if self.words:
            parts.append("words: " + ", ".join(
                f"{w.query_word} ({w.form.value}" + (f": {', '.join(w.found)})"
                                                     if w.form is not MatchForm.TYPED else ")")
                for w in self.words))
        if self.cosine is not None:
            parts.append(f"meaning: cosine {self.cosine:.2f}")
        return "; ".join(parts)


@dataclass(frozen=True)
class Translation:
    """A later version of a hit's story in another language, added to the hit."""

    paragraph_id: str
    lang: str
    title: str
    generation: str
    why: Why
    found: str = ""  # when, ISO UTC


@dataclass(frozen=True)
class AlertHit:
    """A story an alert fired on: the first paragraph that matched and its translations."""

    id: int
    alert_id: int
    generation: str
    paragraph_id: str
    article_id: str
    title: str
    lang: str
    # The paragraph's internal id, through which its translation group's later members
    # join it; None once a rebuild has numbered the index's paragraphs anew.
    pid: int | None
    score: float
    text: str
    why: Why
    url: str | None = None
    found: str = ""  # when, ISO UTC
    translations: tuple[Translation, ...] = field(default=())


@dataclass(frozen=True)
class Delivery:
    """One generation's new hits of one alert, for one channel (the outbox row)."""

    id: int
    alert: Alert
    channel: Channel
    generation: str
    hits: tuple[AlertHit, ...]
    attempts: int = 0


class Match(NamedTuple):
    """An alert fired on a paragraph: its evidence (0.5..1) and why."""

    alert_id: int
    pid: int
    score: float
    why: Why


@dataclass
class AlertMatches(Sequence[Match]):
    """A generation's matches as columns, by alert then pid (a generation at 10,000 alerts
    makes hundreds of thousands): the cosine of each that searched meaning (None otherwise),
    and the words found where there were some (row -> why)."""

    alert_ids: list[int] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    cosines: list[float | None] = field(default_factory=list)
    worded: dict[int, Why] = field(default_factory=dict)

    @classmethod
    def of(cls, matches: Sequence[Match]) -> AlertMatches:
        worded = {n: m.why for n, m in enumerate(matches)
                  if m.why.words or m.why.coverage is not None}
        return cls([m.alert_id for m in matches], [m.pid for m in matches],
                   [m.score for m in matches], [m.why.cosine for m in matches], worded)

    def add(self, more: AlertMatches) -> None:
        self.worded.update({len(self.pids) + n: why for n, why in more.worded.items()})
        self.alert_ids += more.alert_ids
        self.pids += more.pids
        self.scores += more.scores
        self.cosines += more.cosines

    def why(self, n: int) -> Why:
        found = self.worded.get(n)
        return found if found is not None else Why(cosine=self.cosines[n])

    def __len__(self) -> int:
        return len(self.pids)

    @overload
    def __getitem__(self, n: int) -> Match: ...
    @overload
    def __getitem__(self, n: slice) -> list[Match]: ...
    def __getitem__(self, n: int | slice) -> Match | list[Match]:
        if isinstance(n, slice):
            return [self[i] for i in range(len(self))[n]]
        n = range(len(self))[n]
        return Match(self.alert_ids[n], self.pids[n], self.scores[n], self.why(n))
