"""Helpers shared by the web tests: apps over test indexes, and a real waitress server."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from search.config import Settings
from search.index.updater import update_index
from search.ingest.language import LanguageDetector
from web import create_app

PROJECT = Path(__file__).resolve().parent.parent
TESTS = PROJECT / "tests"  # where helpers.py (the fake encoder) lives
SEEDS = PROJECT / "seeds"
SEED_ARTICLE = "000_7c2908e13247d0b5.txt"
PRISONER_PARAGRAPH = "the Istanbul negotiations will likely center on further prisoner exchanges"
HOSTILE_ARTICLE = "world/hostile.txt"
HOSTILE_TEXT = (
    "Hostile <script>alert(1)</script> headline\n\n"
    "This paragraph carries <script>alert(1)</script> and <img src=x onerror=alert(1)> inside "
    "ordinary news text about markets, weather and elections.\n\n"
    "A second paragraph talks about the harbour, the ferries and the new bridge over the river.\n\n"
    'Read <a href="javascript:alert(3)">the full story</a> or [the map](javascript:alert(4)) '
    "for the markets, the weather and the elections.\n"
)


# `search` in a fresh interpreter, with the test suite's fake encoder as the model.
CLI_WITH_FAKE_MODEL = """
import sys
sys.path[:0] = sys.argv[1:3]
import search.encoders.loading
from helpers import FakeEncoder
search.encoders.loading.load_encoder = lambda model, threads=0, **_: FakeEncoder()
from search.cli import main
main(sys.argv[3:])
"""


def fake_model_command(*args: object) -> list[str]:
    """The command line of `search ARGS` run with the fake encoder as every model."""
    return [sys.executable, "-c", CLI_WITH_FAKE_MODEL, str(PROJECT), str(TESTS),
            *(str(arg) for arg in args)]


def make_app(index_dir: Path, encoder, seeds_dir: Path = SEEDS, **config: Any):
    """An app over index_dir whose engine uses `encoder` (so no model is loaded twice)."""
    settings = {
        "TESTING": True,
        "INDEX_DIR": index_dir,
        "SEEDS_DIR": seeds_dir,
        "ENCODER_FACTORY": lambda model: encoder,
        "REINDEX_TOKEN": None,
    }
    settings.update(config)
    return create_app(settings)


_DETECTOR = LanguageDetector()  # loads its model once, on first use


def build_fake_index(seeds_dir: Path, index_dir: Path, encoder) -> Path:
    """Index seeds_dir with the fast fake encoder."""
    update_index(seeds_dir, index_dir, Settings(model="fake"), lambda: encoder,
                 detector=_DETECTOR)
    return index_dir


def add_hostile_article(seeds_dir: Path) -> Path:
    path = seeds_dir / HOSTILE_ARTICLE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HOSTILE_TEXT, encoding="utf-8")
    return path


def wait_for(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05):
    """Call check until it returns something true; that value, or AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class LiveServer:
    """The app served by waitress on a free loopback port, in a background thread."""

    def __init__(self, app, threads: int = 4) -> None:
        self.app = app
        self._map: dict = {}
        self.server = create_server(app, map=self._map, host="127.0.0.1", port=0,
                                    threads=threads)
        self.port = int(self.server.effective_port)
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.run, name="waitress", daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        wait_for(self._accepts, timeout=5)
        return self

    def __exit__(self, *exc_info) -> None:
        # Closed from inside the server's own loop thread: an empty socket map ends the loop.
        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self._map, ignore_all=True))
        self._thread.join(5)
        self.server.task_dispatcher.shutdown()

    def _accepts(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def headless_chromium(profile: Path, *, javascript: bool = True, console_log: bool = False):
    """Debian's Chromium, headless, driven by its chromedriver (a driver path in Service
    means selenium never runs selenium-manager: no downloads); the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-dev-shm-usage",
                     "--window-size=1200,1000", f"--user-data-dir={profile}"]:
        options.add_argument(argument)
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    return driver
