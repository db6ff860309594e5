"""Alerts on every backend (local, the in-memory one, Qdrant's local mode): `update_index`
evaluates them on what each generation adds, through the backend's reader only."""

from __future__ import annotations

from helpers import FakeEncoder

from search.alerts import AlertKind, AlertStore, add_alert, alert_hits
from search.encoders.calibration import semantic_floors
from search.index.updater import update_index
from search.ingest.language import LanguageDetector
from search.ranking.query import Mode
from tests.backends.test_engine_over_backends import FEED, LATE, SETTINGS, write_feed

DETECTOR = LanguageDetector()
MORE = [{"id": "f", "title": "Обмен", "lang": "ru", "source": "Wire",
         "text": "Зеленский сказал, что обмен пленными продолжится в Стамбуле."},
        {"id": "g", "title": "Exchange", "lang": "en", "source": "Daily",
         "text": "Zelensky said the exchange of prisoners of war would go on in Istanbul."}]


def test_alerts_fire_on_what_each_generation_adds_on_every_backend(tmp_path, backend_name):
    encoder = FakeEncoder()
    seeds, index = tmp_path / "seeds", tmp_path / "idx"
    write_feed(seeds, "feed.jsonl", FEED)
    update_index(seeds, index, SETTINGS, lambda: encoder, detector=DETECTOR,
                 backend=backend_name)
    add_alert(index, "people", "Zelensky", kind=AlertKind.WATCHLIST)
    add_alert(index, "war", "exchange of prisoners of war", mode=Mode.SEMANTIC)
    add_alert(index, "harvest", "wheat harvest", mode=Mode.KEYWORD,
              )
    write_feed(seeds, "more.jsonl", [*MORE, LATE])
    summary = update_index(seeds, index, SETTINGS, lambda: encoder, detector=DETECTOR)
    assert summary.warnings == []
    people = alert_hits(index, "people")[1]
    assert sorted((h.article_id, h.lang) for h in people) == [
        ("more.jsonl#f", "ru"), ("more.jsonl#g", "en")]
    ru = next(h for h in people if h.lang == "ru")
    assert ru.why.summary() == "words: Zelensky (latin: Зеленский)"
    war = alert_hits(index, "war")[1]
    assert [h.article_id for h in war] == ["more.jsonl#g"]  # FEED's b was there before
    floors = semantic_floors(SETTINGS.model, SETTINGS)
    assert war[0].why.cosine is not None and war[0].why.cosine >= floors.lowest
    assert [h.article_id for h in alert_hits(index, "harvest")[1]] == ["more.jsonl#e"]
    with AlertStore(index, writable=False) as store:
        assert store.watermark() == 1 + len(FEED) + len(MORE) + 1
