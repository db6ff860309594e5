"""The Qdrant side of an index: collection names, vectors, payload indexes and filters.

Every generation of an index lives in one collection, `<name>-c<number>` (a new one per
rebuild); each point is a paragraph, id = its pid, with the generation that added it
(`gen_from`) and the one that removed it (`gen_to`, LIVE while it is live). A reader of
generation G sees the points with gen_from <= G < gen_to, so an update touches only what
changed, and a crash before publishing leaves nothing a reader can see. The catalogs and the
pointer to the live generation are points of `<name>-meta`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from qdrant_client import QdrantClient, models

from search.backends.qdrant.terms import vector_names
from search.records import Filters

LIVE = 2**31 - 1
DENSE = "dense"
CURRENT_ID = 0  # the meta point holding the live generation's number
# Meta points from here on are readers' leases; below, generations' catalogs.
FIRST_LEASE_ID = 2**40


# A point's translation group by generation: parallel lists, entry k saying that from
# generation GROUP_GENS[k] on the group is GROUP_IDS[k]; no entry: alone (its own pid). A
# writer appends, so that readers of older generations keep the groups they saw.
GROUP_IDS = "group_ids"
GROUP_GENS = "group_gens"


def group_at(payload: dict[str, Any], pid: int, generation: int) -> int:
    """A point's group in `generation`."""
    group = pid
    for since, value in zip(payload.get(GROUP_GENS) or (), payload.get(GROUP_IDS) or (),
                            strict=True):
        if since <= generation:
            group = int(value)
    return group


def meta_collection(name: str) -> str:
    return f"{name}-meta"


def points_collection(name: str, generation: int) -> str:
    return f"{name}-c{generation:06d}"


def is_points_collection(name: str, collection: str) -> bool:
    """Whether `collection` is one of index `name`'s points collections (and not one of an
    index whose name merely starts with `name`, such as `<name>-cz`)."""
    number = collection.removeprefix(f"{name}-c")
    return number != collection and number.isascii() and number.isdigit()


def create_points_collection(client: QdrantClient, collection: str, dim: int,
                             with_indexes: bool) -> None:
    client.create_collection(
        collection,
        vectors_config={DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
        sparse_vectors_config={
            name: models.SparseVectorParams(modifier=models.Modifier.IDF)
            for name in vector_names()},
    )
    if with_indexes:  # local mode evaluates filters in Python and has no payload indexes
        for field, kind in (("gen_from", models.PayloadSchemaType.INTEGER),
                            ("gen_to", models.PayloadSchemaType.INTEGER),
                            ("date", models.PayloadSchemaType.INTEGER),
                            ("lang", models.PayloadSchemaType.KEYWORD),
                            ("article_id", models.PayloadSchemaType.KEYWORD),
                            ("source", models.PayloadSchemaType.KEYWORD),
                            (GROUP_IDS, models.PayloadSchemaType.INTEGER)):
            client.create_payload_index(collection, field, kind)


def create_meta_collection(client: QdrantClient, collection: str) -> None:
    client.create_collection(collection, vectors_config={})


def in_generation(generation: int) -> list[models.Condition]:
    """The conditions that select the points of one generation."""
    return [models.FieldCondition(key="gen_from", range=models.Range(lte=generation)),
            models.FieldCondition(key="gen_to", range=models.Range(gt=generation))]


def date_number(value: str | None) -> int | None:
    """An ISO date as YYYYMMDD, which Qdrant's integer ranges compare."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return day.year * 10_000 + day.month * 100 + day.day


def query_filter(generation: int, filters: Filters) -> models.Filter:
    """The generation's points that pass `filters` (see Filters for their meaning)."""
    must: list[models.Condition] = in_generation(generation)
    for field, values in (("lang", filters.languages), ("article_id", filters.article_ids),
                          ("source", filters.sources)):
        if values:
            must.append(models.FieldCondition(key=field, match=models.MatchAny(any=list(values))))
    low, high = date_number(filters.date_from), date_number(filters.date_to)
    if filters.date_from or filters.date_to:
        must.append(models.FieldCondition(key="date", range=models.Range(gte=low, lte=high)))
    return models.Filter(must=must)


def paragraph_payload(article: Any, paragraph: Any, generation: int) -> dict[str, Any]:
    """Everything a hit and an article page need, and what filters and generations read."""
    payload: dict[str, Any] = {
        "gen_from": generation, "gen_to": LIVE, "article_id": article.id, "path": article.path,
        "title": article.title, "date_iso": article.date, "place": article.place,
        "source": article.source, "url": article.url, "article_lang": article.lang,
        "position": paragraph.position, "start": paragraph.start, "end": paragraph.end,
        "text": paragraph.text, "lang": paragraph.lang,
    }
    number = date_number(article.date)
    if number is not None:
        payload["date"] = number
    return payload
