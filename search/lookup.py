"""Reading one article, one paragraph and its nearest neighbours from a generation: the
engine's lookups by public id (`article id` and `article id:position`)."""

from __future__ import annotations

import re

import numpy as np

from search.backends.base import GenerationReader
from search.errors import ArticleNotFound, ParagraphNotFound
from search.ranking.known import KnownFacts
from search.ranking.language_bias import LanguageBias, dense_candidates
from search.records import ArticleRecord, Candidate, Filters, ParagraphRecord
from search.results import ArticleView, ParagraphView, Similar
from search.translations import article_versions


def article_view(reader: GenerationReader, article_id: str) -> ArticleView:
    record = reader.article(article_id)
    if record is None:
        raise ArticleNotFound(f"no article {shorten(article_id)!r} in the index")
    paragraphs = reader.paragraphs(record.paragraph_pids)
    return ArticleView(record, sorted(paragraphs, key=lambda p: p.position),
                       _versions(reader, record))


def paragraph_view(reader: GenerationReader, paragraph_id: str) -> ParagraphView:
    record, article = _locate(reader, paragraph_id)
    [group] = KnownFacts(reader).translations([record.pid])
    return ParagraphView(record, article, group)


def similar_paragraphs(reader: GenerationReader, bias: LanguageBias | None,
                       paragraph_id: str, size: int) -> list[Similar]:
    """The `size` paragraphs of other articles closest in meaning to one paragraph: its
    translations (its translation group, marked) first, then the others, each part best
    first. A translation is the closest paragraph there is, but a model's cosines across
    some languages (e5-small's into Chinese) can rank a paragraph of another story in a
    nearer language above it."""
    record, article = _locate(reader, paragraph_id)
    pid = record.pid
    vector = reader.vector(pid)
    if bias is not None:
        vector = bias.debiased(vector, record.lang)
    # The article's own paragraphs come back too: ask for enough to skip them.
    own = set(article.paragraph_pids)
    [own_group] = reader.groups([pid])
    group = [m for m in reader.group_members([own_group]).get(own_group, ()) if m not in own]
    found = dense_candidates(reader, vector, bias, size + len(own), Filters())
    scored = {c.pid: c for c in found}
    translations = sorted((scored.get(m) or _scored(reader, vector, bias, m) for m in group),
                          key=lambda c: (-c.score, c.pid))
    others = [c for c in found if c.pid not in own and c.pid not in group]
    shown = [*translations, *others][:size]
    records = reader.paragraphs([c.pid for c in shown])
    articles = reader.articles([r.article_id for r in records])
    return [Similar(r, a, round(c.score, 6), c.pid in group)
            for c, r, a in zip(shown, records, articles, strict=True) if a is not None]


def _scored(reader: GenerationReader, vector: np.ndarray, bias: LanguageBias | None,
            pid: int) -> Candidate:
    """One paragraph scored against `vector` as a dense search would score it."""
    [lang] = reader.langs([pid])
    found = Candidate(pid, float(np.dot(vector, reader.vector(pid))), lang=lang)
    return found if bias is None else bias.rescored([found], [lang], vector)[0]


def _locate(reader: GenerationReader, paragraph_id: str
            ) -> tuple[ParagraphRecord, ArticleRecord]:
    """The record and article of a public paragraph id (`article id:position`)."""
    article_id, _, position = paragraph_id.rpartition(":")
    # ASCII digits only: str.isdigit() takes "²" (int() fails) and "٠" (another spelling of 0).
    valid = article_id and _POSITION.fullmatch(position)
    article = reader.article(article_id) if valid else None
    if article is not None:
        for record in reader.paragraphs(article.paragraph_pids):
            if record.position == int(position):
                return record, article
    raise ParagraphNotFound(f"no paragraph {shorten(paragraph_id)!r} in the index "
                            "(paragraph ids are article id:position)")


_POSITION = re.compile(r"[0-9]{1,9}")


def shorten(text: str, limit: int = 200) -> str:
    """Text echoed in a message, cut to `limit` characters."""
    return text if len(text) <= limit else text[:limit] + "…"


def _versions(reader: GenerationReader, article: ArticleRecord) -> tuple[ArticleRecord, ...]:
    """The article in other languages: articles holding translations of at least half of
    its grouped paragraphs."""
    pids = list(article.paragraph_pids)
    groups = dict(zip(pids, reader.groups(pids), strict=True))
    members = reader.group_members(sorted(set(groups.values())))
    partners = sorted({m for group in members.values() for m in group})
    article_of = dict(zip(partners, reader.article_ids(partners), strict=True))
    found = article_versions(article.id, pids, groups, members, article_of)
    return tuple(a for a in reader.articles([v.article_id for v in found]) if a is not None)
