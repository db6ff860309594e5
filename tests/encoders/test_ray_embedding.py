"""Embedding on Ray: blocks back in input order, one-line errors, and the real default model on
a local Ray giving the vectors it gives in process."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import SEEDS

from search.config import DEFAULT_MODEL
from search.encoders.ray_embedding import RayEmbedding, RayOptions, in_order, root_cause
from search.errors import EmbeddingFailed


def batch(rows: list[int], dim: int = 3) -> dict[str, np.ndarray]:
    return {"row": np.array(rows), "vector": np.array([[r] * dim for r in rows], np.float32)}


def test_in_order_gives_each_row_once_in_input_order():
    arriving = [batch([4, 5]), batch([0, 1]), batch([6]), batch([2, 3])]
    blocks = list(in_order(arriving, 7))
    assert [b[:, 0].tolist() for b in blocks] == [[0, 1], [2, 3, 4, 5, 6]]
    assert all(b.dtype == np.float32 and b.flags.c_contiguous for b in blocks)


@pytest.mark.parametrize("arriving", [[batch([0, 1])], [batch([0, 2]), batch([1, 3])]])
def test_in_order_refuses_a_wrong_number_of_rows(arriving):
    with pytest.raises(EmbeddingFailed, match="vectors for 3 texts"):
        list(in_order(arriving, 3))


@pytest.mark.parametrize(("message", "expected"), [
    # an actor whose model failed to load: the engine's own error, as its message alone
    ("The actor died because of an error raised in its creation task, \x1b[36mray::MapWorker"
     "\x1b[39m (pid=1)\n  File \"x.py\", line 1\nOSError: Repo id must use alphanumeric\n\n"
     "The above exception was the direct cause of the following exception:\n\n"
     "search.errors.ModelUnavailable: model \"/m\" is not a local folder",
     'model "/m" is not a local folder'),
    # a block that failed in user code: that error, not Ray's wrapper after it
    ("ray::MapWorker.submit() (pid=2)\nValueError: boom\n\nray.exceptions.UserCodeException: "
     "UDF failed to process a data block.\nTo change retry attempts, configure it",
     "ValueError: boom"),
    ("Failed to connect to Ray cluster at 10.0.0.1:6379", "ConnectionError: Failed to connect"
     " to Ray cluster at 10.0.0.1:6379"),
])
def test_root_cause_is_one_line(message, expected):
    kind = ConnectionError if message.startswith("Failed") else RuntimeError
    assert root_cause(kind(message)) == expected


def test_importing_the_engine_does_not_import_ray():
    code = ("import sys, search, search.cli, search.index.updater, "
            "search.encoders.ray_embedding; print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_without_ray_installed_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(EmbeddingFailed) as caught:
        RayEmbedding(DEFAULT_MODEL)
    assert str(caught.value) == 'Ray is not installed here: pip install -e ".[scale]"'


@pytest.mark.parametrize(("address", "message"), [
    ("127.0.0.1:1", "cannot reach Ray at 127.0.0.1:1 (Connection refused)"),
    ("ray://127.0.0.1:1", "cannot reach Ray at ray://127.0.0.1:1 (Connection refused)"),
    ("http://127.0.0.1:6379", "is not a Ray address"),
    ("127.0.0.1:notaport", "is not a Ray address"),
])
def test_an_address_where_nothing_answers_fails_at_once(address, message):
    pytest.importorskip("ray")
    with pytest.raises(EmbeddingFailed, match=message.replace("(", r"\(").replace(")", r"\)")):
        RayEmbedding(DEFAULT_MODEL, RayOptions(address=address))


def seed_paragraphs() -> list[str]:
    texts = [p.strip() for path in sorted(SEEDS.glob("*.txt"))
             for p in path.read_text(encoding="utf-8").split("\n\n")]
    return [t for t in texts if t]


@pytest.mark.slow
def test_vectors_on_ray_are_the_in_process_ones(ray_session, real_encoder):
    """The real default model in two 1-CPU workers, blocks of 16 texts: the blocks come back
    one by one (not all at the end), as unit float32 rows in input order, at cosine >= 0.9999
    to the in-process vectors."""
    texts = seed_paragraphs()
    assert len(texts) > 64  # several blocks per worker
    with RayEmbedding(DEFAULT_MODEL, RayOptions(block=16)) as embed:
        blocks = list(embed(texts))
    assert len(blocks) > 1
    vectors = np.concatenate(blocks)
    assert vectors.shape == (len(texts), real_encoder.info.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    here = real_encoder.encode(texts)
    assert np.min(np.sum(vectors * here, axis=1)) >= 0.9999
    assert ray_session.is_initialized()  # a session it did not start stays open


@pytest.mark.slow
def test_a_worker_that_cannot_load_the_model_is_one_line(ray_session, tmp_path):
    missing = tmp_path / "no-model"
    with RayEmbedding(str(missing)) as embed, pytest.raises(EmbeddingFailed) as caught:
        list(embed(["a text"]))
    message = str(caught.value)
    assert message.startswith(f'embedding on Ray failed: model "{missing}"')
    assert "\n" not in message
