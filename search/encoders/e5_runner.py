"""How multilingual-e5-small's forward pass runs: packed tokens, at a chosen precision.

The same function as :class:`search.encoders.e5_bert.E5Bert` (cosine > 0.99999 in fp32,
tests/encoders/test_e5_runner.py), computed with less waste:

- The texts of a batch are packed: every dense layer (fused query/key/value, attention
  output, the feed-forward pair) multiplies only real tokens, never padding. Only attention
  sees a padded [texts, longest, ...] view, and E5Model's length-sorted batches keep that
  padding small. One text needs no padding and no mask at all (the one-query path).
- The dense layers run at the precision chosen for this CPU (search/encoders/precision.py,
  `e5_precision`): fp32 (the stored weights, no copy); bf16 weights and activations (native
  on AMX and avx512_bf16); or int8 weights with each token's activations quantized on its
  own scale (exact int32 sums; VNNI). In int8 the query/key/value projection stays fp32:
  quantizing it moved attention enough to bring the worst cosine to fp32 from 0.9993 to
  0.9985 (docs/benchmarks.md). Layer norms, softmax and the residual stream stay fp32.

int8 and vectors made elsewhere: torch's dynamic quantization scales a whole batch at once,
so a text's vector depends on its batch mates. Scaling each token on its own removes that,
but not all of it: int8 rounding amplifies the last-bit differences of the padded attention
kernel into a cosine of ~0.9992 between one text embedded alone and in a batch. That is why
`auto` never takes int8 for batches (bf16 or fp32 there differ from run to run by < 1e-5),
so vectors embedded on Ray match those made here.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from search.encoders.e5_bert import E5Bert
from search.encoders.e5_bert import _Layer as BertLayer
from search.encoders.precision import Precision


class _Dense:
    """``x @ W.T + b`` at one precision. Takes fp32 (or bf16) rows; returns fp32 rows (bf16
    rows at bf16, so that the next multiply reads them without a conversion)."""

    def __init__(self, linear: torch.nn.Linear, precision: Precision) -> None:
        self.precision = precision
        weight, bias = linear.weight.detach(), linear.bias.detach()
        if precision is Precision.INT8:
            w = weight.float()
            self.scale = (w.abs().amax(dim=1) / 127).clamp_min(1e-12)  # per output column
            self.weight = (w / self.scale[:, None]).round_().to(torch.int8).t().contiguous()
            self.bias = bias.float()
        elif precision is Precision.BF16:
            self.weight = weight.to(torch.bfloat16)
            self.bias = bias.to(torch.bfloat16)
        else:  # the stored (memory-mapped, shared) weights themselves
            self.weight, self.bias = weight, bias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.precision is Precision.FP32:
            return F.linear(x, self.weight, self.bias)
        if self.precision is Precision.BF16:
            return F.linear(x.to(torch.bfloat16), self.weight, self.bias)
        x = x.float()
        row_scale = (x.abs().amax(dim=1, keepdim=True) / 127).clamp_min_(1e-12)
        quantized = (x / row_scale).round_().to(torch.int8)
        product = torch._int_mm(quantized, self.weight).float()
        return product.mul_(row_scale).mul_(self.scale).add_(self.bias)


class _Layer:
    def __init__(self, layer: BertLayer, precision: Precision) -> None:
        qkv_precision = Precision.FP32 if precision is Precision.INT8 else precision
        self.qkv = _Dense(layer.qkv, qkv_precision)
        self.out = _Dense(layer.out, precision)
        self.up = _Dense(layer.up, precision)
        self.down = _Dense(layer.down, precision)
        self.norm1 = layer.attention_norm
        self.norm2 = layer.output_norm


class E5Runner:
    """E5Bert's forward pass for inference at one precision, on packed tokens.

    Args:
        bert: the model; its fp32 weights are used as they are, other precisions copy the
            dense layers' weights (int8: a quarter of their bytes, bf16: half).
        precision: arithmetic of the dense layers.
        device: where to run ("cpu", or a CUDA device, which takes a copy of the weights).
    """

    def __init__(self, bert: E5Bert, precision: Precision = Precision.FP32,
                 device: str = "cpu") -> None:
        self.bert = bert if device == "cpu" else copy.deepcopy(bert).to(device)
        self.device = torch.device(device)
        self.precision = precision
        self.heads, self.hidden = bert.shape.heads, bert.shape.hidden
        self.layers = [_Layer(layer, precision) for layer in self.bert.layers
                       if isinstance(layer, BertLayer)]

    @torch.inference_mode()
    def pooled(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        """Mean of the last hidden states over each row's tokens, (n, hidden) float32; the
        rows (each at most the model's positions long) run as one batch."""
        lengths = [len(r) for r in rows]
        if not lengths:
            return np.zeros((0, self.hidden), dtype=np.float32)
        ids = torch.tensor([i for r in rows for i in r], dtype=torch.int64)
        x = self._hidden_states(ids.to(self.device), lengths)
        if len(lengths) == 1:
            return x.mean(0, keepdim=True).cpu().numpy()
        owner = torch.repeat_interleave(torch.arange(len(lengths)),
                                        torch.tensor(lengths)).to(self.device)
        sums = torch.zeros((len(lengths), self.hidden), device=self.device)
        sums.index_add_(0, owner, x)
        counts = torch.tensor(lengths, dtype=torch.float32, device=self.device)
        return (sums / counts[:, None]).cpu().numpy()

    def _hidden_states(self, ids: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        bert = self.bert
        positions = torch.cat([torch.arange(n) for n in lengths]).to(self.device)
        x = bert.embed_words(ids) + bert.positions[positions] + bert.token_type
        x = bert.embedding_norm(x)
        attend = _Attention(lengths, self.heads, self.hidden, self.device)
        for layer in self.layers:
            context = attend(layer.qkv(x))
            x = layer.norm1(layer.out(context).float().add_(x))
            x = layer.norm2(layer.down(F.gelu(layer.up(x))).float().add_(x))
        return x


class _Attention:
    """Self-attention of packed sequences: packed [tokens, 3 * hidden] query/key/value rows
    in, packed [tokens, hidden] context out."""

    def __init__(self, lengths: list[int], heads: int, hidden: int,
                 device: torch.device) -> None:
        self.heads, self.hidden, self.size = heads, hidden, hidden // heads
        self.count, self.longest = len(lengths), max(lengths)
        self.padded = min(lengths) < self.longest
        self.mask: torch.Tensor | None = None
        if self.padded:
            valid = (torch.arange(self.longest)[None, :] < torch.tensor(lengths)[:, None])
            self.slots = valid.reshape(-1).nonzero().squeeze(1).to(device)  # each token's
            self.mask = valid[:, None, None, :].to(device)

    def __call__(self, qkv: torch.Tensor) -> torch.Tensor:
        if self.padded:
            full = qkv.new_zeros((self.count * self.longest, qkv.shape[1]))
            qkv = full.index_copy_(0, self.slots, qkv)
        q, k, v = (qkv.view(self.count, self.longest, 3, self.heads, self.size)
                   .permute(2, 0, 3, 1, 4).unbind(0))
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask)
        context = context.transpose(1, 2).reshape(self.count * self.longest, self.hidden)
        return context.index_select(0, self.slots) if self.padded else context
