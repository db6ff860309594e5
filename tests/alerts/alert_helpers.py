"""What the alert tests share: a small corpus, its update with the fake encoder, articles to
add, and a policy that retries quickly."""

from __future__ import annotations

from pathlib import Path

from helpers import FakeEncoder, write

from search.alerts import DeliveryPolicy
from search.config import Settings
from search.index.updater import update_index
from search.ingest.language import LanguageDetector

SETTINGS = Settings(model="fake")
DETECTOR = LanguageDetector()
ENCODER = FakeEncoder()
QUICK = {"SEARCH_ALERT_ATTEMPTS": "3", "SEARCH_ALERT_BACKOFF": "0.05",
         "SEARCH_ALERT_BUDGET": "10", "SEARCH_BASE_URL": "http://news.example"}


def deliver_quickly(monkeypatch, **environ: str) -> DeliveryPolicy:
    """Deliveries retried quickly, with links to http://news.example (and `environ`)."""
    for name, value in {**QUICK, **environ}.items():
        monkeypatch.setenv(name, value)
    return DeliveryPolicy.from_environ()


def article(title: str, lang: str, *paragraphs: str) -> str:
    return f"---\nlang: {lang}\n---\n\n# {title}\n\n" + "\n\n".join(paragraphs) + "\n"


def base(seeds: Path) -> Path:
    write(seeds / "port.md", article(
        "Port report", "en", "The harbour cranes moved container ships through the night.",
        "Dock workers said the new schedule keeps the port busy all week."))
    return seeds


def names(seeds: Path) -> Path:
    """An English article naming three people whose names other scripts write differently."""
    write(seeds / "names.md", article(
        "Talks in Istanbul", "en",
        "President Zelensky said the delegation would travel to Istanbul on Wednesday.",
        "The Kremlin spokesman Peskov gave no date for the next round of talks.",
        "Vladimir Putin did not comment on the prisoner exchange at the weekend.",
        "Farmers in the south expect a good harvest of wheat and barley this year."))
    return seeds


def update(seeds: Path, index_dir: Path, **kwargs: object):
    return update_index(seeds, index_dir, SETTINGS, lambda: ENCODER, detector=DETECTOR,
                        **kwargs)  # type: ignore[arg-type]
