"""The updater with an `embed` of its own (search index --ray): only texts the embedding cache
lacks are sent, each block is cached as it arrives, and a failure publishes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SEEDS, write

from search.backends import open_backend
from search.config import DEFAULT_MODEL, Settings
from search.errors import EmbeddingFailed
from search.index.updater import update_index

FIRST = """Peace talks in Istanbul

Ukraine and Russia will meet again for peace talks on Wednesday in Istanbul, officials said.
"""
SECOND = """Markets and weather

Stock markets in Europe rose sharply on Tuesday as investors welcomed the bank's decision.

Heavy rain and strong winds are expected across the northern coast later this week.

Farmers expect a record wheat harvest after the late summer rain in the south.

The central bank left interest rates unchanged for the third month in a row.
"""


class Recorder:
    """An Embed over the fake encoder, in blocks of two texts, that records what it is sent and
    can fail after some blocks."""

    def __init__(self, encoder, fail_after: int | None = None) -> None:
        self.encoder, self.fail_after = encoder, fail_after
        self.sent: list[str] = []

    def __call__(self, texts):
        self.sent.extend(texts)
        for number, start in enumerate(range(0, len(texts), 2)):
            if number == self.fail_after:
                raise EmbeddingFailed("embedding on Ray failed: worker lost")
            yield self.encoder.encode(texts[start : start + 2])


def run(seeds, index_dir, encoder, embed=None, **kwargs):
    return update_index(seeds, index_dir, Settings(model="fake"), lambda: encoder,
                        embed=embed, **kwargs)


def test_a_failure_midway_keeps_the_live_generation_and_the_finished_blocks(
        tmp_path, fake_encoder):
    seeds, index_dir = tmp_path / "seeds", tmp_path / "idx"
    write(seeds / "first.txt", FIRST)
    assert run(seeds, index_dir, fake_encoder).generation == "g000001"
    write(seeds / "second.txt", SECOND)
    failing = Recorder(fake_encoder, fail_after=1)
    with pytest.raises(EmbeddingFailed, match="worker lost"):
        run(seeds, index_dir, fake_encoder, failing)
    backend = open_backend(index_dir)
    assert backend.current() == "g000001"
    assert backend.check().ok
    assert len(failing.sent) == 4
    retry = Recorder(fake_encoder)
    summary = run(seeds, index_dir, fake_encoder, retry)
    assert summary.generation == "g000002"
    assert (summary.paragraphs_added, summary.paragraphs_embedded) == (4, 2)
    assert retry.sent == failing.sent[2:]  # the first block came from the cache


def test_only_texts_never_embedded_are_sent(tmp_path, fake_encoder):
    seeds, index_dir = tmp_path / "seeds", tmp_path / "idx"
    write(seeds / "first.txt", FIRST)
    run(seeds, index_dir, fake_encoder)  # in process
    again = Recorder(fake_encoder)
    assert run(seeds, index_dir, fake_encoder, again, rebuild=True).paragraphs_embedded == 0
    assert again.sent == []
    copy = FIRST.replace("Peace talks in Istanbul", "Istanbul again")
    write(seeds / "copy.txt", copy + "\nA new paragraph that nobody has embedded before today.\n")
    new = Recorder(fake_encoder)
    summary = run(seeds, index_dir, fake_encoder, new)
    assert summary.paragraphs_added == 2
    assert new.sent == ["A new paragraph that nobody has embedded before today."]


@pytest.mark.parametrize("wrong", ["narrow rows", "too few rows"])
def test_blocks_of_the_wrong_shape_or_count_are_refused(tmp_path, fake_encoder, wrong):
    def embed(texts):
        if wrong == "narrow rows":
            yield fake_encoder.encode(texts)[:, :32]
        else:
            yield fake_encoder.encode(texts[:1])

    seeds = tmp_path / "seeds"
    write(seeds / "second.txt", SECOND)
    with pytest.raises(EmbeddingFailed, match="the embedder returned"):
        run(seeds, tmp_path / "idx", fake_encoder, embed)
    assert open_backend(tmp_path / "idx").current() is None


@pytest.mark.slow
def test_ray_gets_only_new_texts_and_a_failing_worker_publishes_nothing(
        tmp_path, ray_session, real_encoder):
    from search.encoders.ray_embedding import RayEmbedding

    index_dir = tmp_path / "idx"
    first = update_index(SEEDS, index_dir, Settings(), lambda: real_encoder)  # in process
    seeds = tmp_path / "seeds"
    write(seeds / "old.txt", (SEEDS / "000_7c2908e13247d0b5.txt").read_text(encoding="utf-8"))
    write(seeds / "new.txt", FIRST)
    sent: list[str] = []
    with RayEmbedding(DEFAULT_MODEL) as ray_embed:
        def embed(texts):
            sent.extend(texts)
            yield from ray_embed(texts)

        with RayEmbedding(str(tmp_path / "no-model")) as broken, \
                pytest.raises(EmbeddingFailed, match="^embedding on Ray failed: model"):
            update_index(seeds, index_dir, Settings(), lambda: real_encoder, embed=broken)
        assert open_backend(index_dir).current() == first.generation

        summary = update_index(seeds, index_dir, Settings(), lambda: real_encoder, embed=embed)
    assert summary.paragraphs_embedded == 1
    assert sent == [FIRST.split("\n\n")[1].strip()]
    backend = open_backend(index_dir)
    reader = backend.open(backend.current())
    try:
        new_pid = backend.catalog(summary.generation).files["new.txt"].first_pid
        here = real_encoder.encode(sent)[0]
        assert float(np.dot(reader.vector(new_pid), here)) >= 0.9999
    finally:
        reader.close()
