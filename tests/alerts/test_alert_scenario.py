"""The README's scenario with the real default model: an alert on the English seed article's
index fires on its Russian version, says why in the feed, and takes the German version into
the same stories. It depends on the semantic floors (search/encoders/calibration.py) and the model:
re-check it when either changes."""

from __future__ import annotations

import shutil

import feedparser
import pytest
from alert_helpers import DETECTOR
from click.testing import CliRunner

from search.alerts import alert_hits
from search.alerts.deliver import DeliveryPolicy
from search.alerts.deliver.atom import feed
from search.cli import main
from search.config import DEFAULT_MODEL, Settings
from search.encoders.calibration import semantic_floors
from search.index.updater import update_index

SEEDS = __import__("pathlib").Path(__file__).resolve().parents[2] / "seeds"
ARTICLE = "000_7c2908e13247d0b5"


@pytest.mark.slow
def test_an_alert_fires_on_the_russian_version_and_the_german_joins_its_stories(
        tmp_path, real_encoder):
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    seeds.mkdir()
    shutil.copy(SEEDS / f"{ARTICLE}.txt", seeds)

    def index_seeds() -> None:
        summary = update_index(seeds, index, Settings(), lambda: real_encoder,
                               detector=DETECTOR)
        assert summary.warnings == []

    index_seeds()
    added = CliRunner().invoke(main, ["alert", "add", "prisoner exchange talks Istanbul",
                                      "--name", "talks", "--index", str(index)])
    assert added.exit_code == 0, added.output
    shutil.copy(SEEDS / f"{ARTICLE}.ru.txt", seeds)
    index_seeds()
    alert, hits = alert_hits(index, "talks")
    assert hits and {h.lang for h in hits} == {"ru"}
    prisoners = f"{ARTICLE}.ru.txt:4"  # "... сосредоточены на дальнейших обменах пленными"
    assert prisoners in [h.paragraph_id for h in hits]
    floor = semantic_floors(DEFAULT_MODEL, Settings()).cross  # Russian, an English query
    assert all(h.why.cosine is not None and h.why.cosine >= floor for h in hits)
    parsed = feedparser.parse(feed(alert, hits, DeliveryPolicy()))
    assert not parsed.bozo
    entry = next(e for e in parsed.entries if e.link.endswith(f"{ARTICLE}.ru.txt#p4"))
    assert "обменах пленными" in entry.content[0].value
    assert entry.summary.startswith("meaning: cosine 0.")

    shutil.copy(SEEDS / f"{ARTICLE}.de.txt", seeds)
    index_seeds()
    _, after = alert_hits(index, "talks")
    assert [h.paragraph_id for h in after] == [h.paragraph_id for h in hits]  # no new hit
    story = next(h for h in after if h.paragraph_id == prisoners)
    assert [t.paragraph_id for t in story.translations] == [f"{ARTICLE}.de.txt:4"]
    entry = next(e for e in feedparser.parse(feed(alert, after, DeliveryPolicy())).entries
                 if e.link.endswith(f"{ARTICLE}.ru.txt#p4"))
    assert "also in de" in entry.content[0].value
