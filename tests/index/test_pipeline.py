"""The read-ahead pipeline: the encoder starts while files are still being read, a bad file
mid-stream costs only itself, and a failure anywhere stops every thread and publishes nothing."""

from __future__ import annotations

import threading

import pytest
from helpers import FakeEncoder, write

import search.index.pipeline
from search.backends import open_backend
from search.backends.local.reader import LocalReader
from search.backends.local.store import IndexStore
from search.config import Settings
from search.errors import EmbeddingFailed
from search.index.updater import update_index
from search.ingest.language import LanguageDetector

SETTINGS = Settings(model="fake", batch_size=2)  # blocks of 8 texts
DETECTOR = LanguageDetector()


def corpus(seeds, files: int = 6) -> None:
    for n in range(files):
        write(seeds / f"f{n:02d}.md", "---\nlang: en\n---\n\n" + "\n\n".join(
            f"Harbour report {n}.{k}: the cranes at terminal {k} moved {n + k} ships today."
            for k in range(5)))


def texts(index_dir) -> list[str]:
    store = IndexStore(index_dir)
    reader = LocalReader.load(store, store.require_current(), ef_search=64)
    try:
        return sorted(p.text for p in reader.paragraph_store.in_order())
    finally:
        reader.close()


class Watched(FakeEncoder):
    """Sets `started` on its first encode; can fail on a given call."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.started = threading.Event()
        self.blocks = 0
        self.fail_at = fail_at

    def encode(self, texts, batch_size: int = 64):
        self.blocks += 1
        self.started.set()
        if self.blocks == self.fail_at:
            raise EmbeddingFailed("the encoder failed")
        return super().encode(texts, batch_size)


def test_embedding_starts_before_the_last_file_is_read(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds"
    corpus(seeds)
    encoder = Watched()
    real_read = search.index.pipeline.read_articles
    seen_before_last: list[bool] = []

    def read(seeds_dir, seed_file):
        if seed_file.path == "f05.md":  # waits for the encoder; a serial updater never starts it
            seen_before_last.append(encoder.started.wait(timeout=60))
        return real_read(seeds_dir, seed_file)

    monkeypatch.setattr(search.index.pipeline, "read_articles", read)
    summary = update_index(seeds, tmp_path / "idx", SETTINGS, lambda: encoder,
                           detector=DETECTOR)
    assert seen_before_last == [True]
    assert (summary.paragraphs_added, summary.paragraphs_embedded) == (24, 24)  # 4 a file
    assert encoder.blocks == 3  # full blocks of 8 while reading goes on


def test_an_unreadable_file_mid_stream_skips_only_itself(tmp_path):
    seeds, clean = tmp_path / "seeds", tmp_path / "clean"
    corpus(clean)
    corpus(seeds)
    (seeds / "f02.md").write_bytes(b"binary\x00content")
    summary = update_index(seeds, tmp_path / "idx", SETTINGS, FakeEncoder, detector=DETECTOR)
    assert [p.path for p in summary.problems] == ["f02.md"]
    assert (summary.added, summary.skipped, summary.paragraphs_added) == (5, 1, 20)
    (clean / "f02.md").unlink()
    update_index(clean, tmp_path / "reference", SETTINGS, FakeEncoder, detector=DETECTOR)
    assert texts(tmp_path / "idx") == texts(tmp_path / "reference")
    assert open_backend(tmp_path / "idx").check().ok


@pytest.mark.parametrize("fail_at", [1, 3])
def test_an_encoder_failure_stops_every_thread_and_keeps_the_live_generation(tmp_path, fail_at):
    seeds = tmp_path / "seeds"
    corpus(seeds, files=2)
    update_index(seeds, tmp_path / "idx", SETTINGS, FakeEncoder, detector=DETECTOR)
    corpus(seeds, files=40)
    threads = threading.active_count()
    with pytest.raises(EmbeddingFailed):
        update_index(seeds, tmp_path / "idx", SETTINGS, lambda: Watched(fail_at),
                     detector=DETECTOR)
    assert threading.active_count() == threads
    backend = open_backend(tmp_path / "idx")
    assert backend.current() == "g000001"
    assert backend.check().ok
    summary = update_index(seeds, tmp_path / "idx", SETTINGS, FakeEncoder, detector=DETECTOR)
    assert summary.paragraphs_embedded == 160 - 8 - 8 * (fail_at - 1)  # finished blocks kept


def test_a_model_that_fails_to_load_is_the_error(tmp_path):
    seeds = tmp_path / "seeds"
    corpus(seeds, files=3)

    def broken() -> FakeEncoder:
        raise EmbeddingFailed("no model here")

    threads = threading.active_count()
    with pytest.raises(EmbeddingFailed, match="no model here"):
        update_index(seeds, tmp_path / "idx", SETTINGS, broken, detector=DETECTOR)
    assert threading.active_count() == threads
    assert open_backend(tmp_path / "idx").current() is None
