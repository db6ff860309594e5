"""Converting a model file once and loading the conversion later (tiny files, tmp_path)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from e5_tiny import write_model

from search.encoders.e5_cache import cached_name, load_e5
from search.encoders.e5_folder import WEIGHTS_FILE
from search.errors import ModelUnavailable

TEXTS = ["passage: the ab x", "query: ab c"]


@pytest.fixture
def model_file(tmp_path):
    return write_model(tmp_path / "tiny.bin")


def test_converts_once_then_loads_the_cached_folder(tmp_path, model_file) -> None:
    said: list[str] = []
    first = load_e5(tmp_path / "cache", model_file, report=said.append)
    assert len(said) == 2 and said[0].startswith("converting e5-small")
    folder = tmp_path / "cache" / cached_name(model_file)
    assert (folder / WEIGHTS_FILE).is_file() and (folder / "modules.json").is_file()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp left
    said.clear()
    again = load_e5(tmp_path / "cache", model_file, report=said.append)
    assert said == []
    assert np.array_equal(first.encode(TEXTS), again.encode(TEXTS))


def test_a_new_model_file_is_converted_anew(tmp_path, model_file) -> None:
    other = write_model(tmp_path / "other.bin", seed=1)
    assert cached_name(other) != cached_name(model_file)
    a = load_e5(tmp_path / "cache", model_file, report=lambda _: None)
    b = load_e5(tmp_path / "cache", other, report=lambda _: None)
    assert not np.allclose(a.encode(TEXTS), b.encode(TEXTS))
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_a_damaged_cache_is_rebuilt_with_a_warning(tmp_path, model_file) -> None:
    good = load_e5(tmp_path / "cache", model_file, report=lambda _: None).encode(TEXTS)
    weights = tmp_path / "cache" / cached_name(model_file) / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:1000])
    said: list[str] = []
    rebuilt = load_e5(tmp_path / "cache", model_file, report=said.append)
    assert said[0].startswith("warning: the converted e5-small model") and "damaged" in said[0]
    assert np.array_equal(rebuilt.encode(TEXTS), good)
    said.clear()
    load_e5(tmp_path / "cache", model_file, report=said.append)
    assert said == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_cache_converts_in_memory_with_one_warning(tmp_path, model_file) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    said: list[str] = []
    try:
        model = load_e5(locked / "cache", model_file, report=said.append)
    finally:
        locked.chmod(0o700)
    warnings = [line for line in said if line.startswith("warning")]
    assert len(warnings) == 1 and "cannot cache" in warnings[0] and "\n" not in warnings[0]
    assert model.encode(TEXTS).shape == (2, 64)


def test_a_cache_path_that_is_a_file_converts_in_memory(tmp_path, model_file) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    said: list[str] = []
    model = load_e5(blocker, model_file, report=said.append)
    assert sum(line.startswith("warning") for line in said) == 1
    assert model.encode(TEXTS).shape == (2, 64)


def test_a_missing_model_file_is_model_unavailable(tmp_path) -> None:
    with pytest.raises(ModelUnavailable):
        load_e5(tmp_path / "cache", tmp_path / "absent.bin", report=lambda _: None)


def test_a_file_lacking_a_tensor_is_model_unavailable(tmp_path) -> None:
    from e5_tiny import model_bytes

    path = tmp_path / "renamed.bin"
    path.write_bytes(model_bytes().replace(b"l1.fo.w", b"l1.xx.w", 1))
    with pytest.raises(ModelUnavailable, match="lacks tensor 'l1.fo.w'"):
        load_e5(tmp_path / "cache", path, report=lambda _: None)
    assert not (tmp_path / "cache" / cached_name(path)).exists()
