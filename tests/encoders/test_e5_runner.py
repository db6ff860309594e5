"""e5-small's runner: packed tokens give E5Bert's vectors, every precision stays within cosine
0.999 of fp32 (16 languages, long texts, queries), and auto's choice follows the CPU flags."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from e5_tiny import write_model

from search.encoders.e5_file import read_e5_file
from search.encoders.e5_folder import convert
from search.encoders.e5_model import E5Model
from search.encoders.e5_runner import E5Runner
from search.encoders.precision import Precision, cpu_flags, e5_precisions, resolve_precision
from search.errors import ModelUnavailable

TEXTS: dict[str, str] = json.loads(
    (Path(__file__).parent / "fixtures" / "e5_texts.json").read_text("utf-8"))

XEON_AMX = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"}
EPYC_ZEN4 = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16"}
CASCADE_LAKE = {"avx2", "avx512f", "avx512_vnni"}
ALDER_LAKE = {"avx2", "avx_vnni"}
HASWELL = {"avx2", "fma"}


@pytest.mark.parametrize(("flags", "batches", "query"), [
    (XEON_AMX, Precision.BF16, Precision.INT8),
    (EPYC_ZEN4, Precision.BF16, Precision.INT8),
    (CASCADE_LAKE, Precision.FP32, Precision.INT8),
    (ALDER_LAKE, Precision.FP32, Precision.INT8),
    (HASWELL, Precision.FP32, Precision.FP32),
    ({"amx_bf16"}, Precision.BF16, Precision.BF16),
    (set(), Precision.FP32, Precision.FP32),
])
def test_auto_follows_the_cpu_flags(flags, batches, query) -> None:
    assert e5_precisions("auto", flags) == (batches, query)


def test_a_forced_precision_runs_everything_and_int8_needs_vnni() -> None:
    assert e5_precisions("fp32", XEON_AMX) == (Precision.FP32, Precision.FP32)
    assert e5_precisions("bf16", HASWELL) == (Precision.BF16, Precision.BF16)
    with pytest.raises(ModelUnavailable, match="needs a CPU with VNNI"):
        e5_precisions("int8", HASWELL)


# -- the tiny model: the runner computes E5Bert's function ---------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> E5Model:
    return convert(read_e5_file(write_model(tmp_path_factory.mktemp("tiny") / "tiny.bin")))


def padded_forward(model: E5Model, rows: list[list[int]]) -> np.ndarray:
    """E5Bert's own padded forward pass."""
    ids = torch.full((len(rows), max(map(len, rows))), 2, dtype=torch.long)
    for n, row in enumerate(rows):
        ids[n, : len(row)] = torch.tensor(row)
    with torch.inference_mode():
        return model.bert(ids, torch.tensor([len(r) for r in rows])).numpy()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_packed_rows_give_the_padded_forward_pass(tiny) -> None:
    rows = [[0, 5, 6, 7, 2], [0, 8, 2], [0, 5, 9, 10, 11, 12, 2], [0, 4, 2]]
    runner = E5Runner(tiny.bert)
    np.testing.assert_allclose(runner.pooled(rows), padded_forward(tiny, rows), atol=1e-5)
    alone = np.concatenate([runner.pooled([r]) for r in rows])
    np.testing.assert_allclose(alone, runner.pooled(rows), atol=1e-5)
    assert runner.pooled([]).shape == (0, tiny.dim)


def test_the_model_runs_batches_and_one_query_at_their_precisions(tmp_path) -> None:
    model = convert(read_e5_file(write_model(tmp_path / "tiny.bin")))
    model.batch_precision, model.query_precision = Precision.BF16, Precision.FP32
    batch = model.encode(["query: ab the x"])[0]
    one = model.encode_one("query: ab the x")
    assert set(model._runners) == {(Precision.BF16, "cpu"), (Precision.FP32, "cpu")}
    assert float(batch @ one) > 0.999 and abs(float(one @ one) - 1) < 1e-5


# -- the real model: every precision within cosine 0.999 of fp32 ---------------------------

def choosable() -> list[Precision]:
    allowed = []
    for precision in (Precision.BF16, Precision.INT8):
        try:
            allowed.append(resolve_precision(precision.value, cpu_flags()))
        except ModelUnavailable:
            pass
    return allowed


@pytest.fixture(scope="module")
def real(real_encoder) -> E5Model:
    return real_encoder._model


@pytest.fixture(scope="module")
def windows(real) -> list[list[int]]:
    prompted = [p + t for t in TEXTS.values() for p in ("passage: ", "query: ")]
    return [w for text in prompted for w in real.token_ids(text)]


@pytest.fixture(scope="module")
def reference(real, windows) -> np.ndarray:
    return np.concatenate([E5Runner(real.bert).pooled([w]) for w in windows])


@pytest.mark.parametrize("precision", choosable(), ids=lambda p: p.value)
def test_every_precision_stays_within_cosine_0999_of_fp32(precision, real, windows,
                                                          reference) -> None:
    assert max(map(len, windows)) == real.window + 2  # full windows of the long texts
    runner = E5Runner(real.bert, precision)
    ordered = np.argsort([len(w) for w in windows], kind="stable")
    batched = np.empty_like(reference)
    for part in np.array_split(ordered, 6):
        batched[part] = runner.pooled([windows[i] for i in part])
    for vectors in (batched, np.concatenate([runner.pooled([w]) for w in windows])):
        got = cosines(vectors, reference)
        assert float(got.min()) >= 0.999, (precision.value, float(got.min()))


def test_a_text_gets_the_same_vector_alone_and_among_others_at_autos_batch_precision(
        real, windows) -> None:
    runner = E5Runner(real.bert, e5_precisions("auto", cpu_flags())[0])
    alone = np.concatenate([runner.pooled([w]) for w in windows[:12]])
    batched = runner.pooled(windows[:12])
    assert float(cosines(alone, batched).min()) > 0.9999
