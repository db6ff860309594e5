"""multilingual-e5-small's BERT encoder on plain torch: token ids in, mean-pooled hidden
states out.

A lean forward (fused q/k/v, torch's fused attention, no transformers import) over the
weights the model file holds. The word-embedding table (250k x 384, 96M of the model's 118M
parameters) stays in the file's 4-bit blocks and only the rows a batch looks up are
dequantized: 54 MB instead of 384 MB in fp32, with the same values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from search.encoders.e5_file import BLOCK, BertShape, E5File, TensorType
from search.errors import ModelUnavailable

# Names of the model file's per-layer tensors, by this module's parameter names.
_LAYER_TENSORS = {
    "out.weight": "ao.w", "out.bias": "ao.b",
    "attention_norm.weight": "aln.w", "attention_norm.bias": "aln.b",
    "up.weight": "fi.w", "up.bias": "fi.b",
    "down.weight": "fo.w", "down.bias": "fo.b",
    "output_norm.weight": "oln.w", "output_norm.bias": "oln.b",
}


class _Layer(nn.Module):
    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        hidden = shape.hidden
        self.heads = shape.heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=shape.eps)
        self.up = nn.Linear(hidden, shape.ffn)
        self.down = nn.Linear(shape.ffn, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=shape.eps)

    def forward(self, x: torch.Tensor, keys: torch.Tensor | None) -> torch.Tensor:
        rows, length, hidden = x.shape
        q, k, v = (self.qkv(x).view(rows, length, 3, self.heads, hidden // self.heads)
                   .permute(2, 0, 3, 1, 4))
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=keys)
        x = self.attention_norm(x + self.out(context.transpose(1, 2).reshape(x.shape)))
        return self.output_norm(x + self.down(F.gelu(self.up(x))))


class E5Bert(nn.Module):
    """The encoder: (rows, length) ids and each row's length in, (rows, hidden) means out."""

    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        self.shape = shape
        blocks = shape.hidden // BLOCK
        self.word_nibbles: torch.Tensor
        self.word_scales: torch.Tensor
        self.register_buffer("word_nibbles", torch.empty(shape.vocab, blocks, BLOCK // 2,
                                                         dtype=torch.uint8))
        self.register_buffer("word_scales", torch.empty(shape.vocab, blocks, 1,
                                                        dtype=torch.float16))
        self.positions = nn.Parameter(torch.empty(shape.positions, shape.hidden))
        self.token_type = nn.Parameter(torch.empty(shape.hidden))
        self.embedding_norm = nn.LayerNorm(shape.hidden, eps=shape.eps)
        self.layers = nn.ModuleList(_Layer(shape) for _ in range(shape.layers))
        self.requires_grad_(False)

    @classmethod
    def state_from_file(cls, file: E5File) -> dict[str, torch.Tensor]:
        """This module's state dict, from the model file's tensors (raises ModelUnavailable
        when one is missing or of another size)."""
        s = file.shape
        entry, stored = file.stored("emb.word", s.vocab, s.hidden)
        if entry.type is not TensorType.Q4_0:
            raise ModelUnavailable("the e5 model file's word embeddings are not 4-bit blocks")
        word = torch.from_numpy(stored.copy()).view(s.vocab, s.hidden // BLOCK, BLOCK // 2 + 2)
        state = {
            "word_scales": word[:, :, :2].contiguous().view(torch.float16),
            "word_nibbles": word[:, :, 2:].contiguous(),
            "positions": _tensor(file, "emb.pos", s.positions, s.hidden),
            "token_type": _tensor(file, "emb.type", s.token_types, s.hidden)[0].clone(),
            "embedding_norm.weight": _tensor(file, "emb.ln.w", 1, s.hidden)[0],
            "embedding_norm.bias": _tensor(file, "emb.ln.b", 1, s.hidden)[0],
        }
        for n in range(s.layers):
            prefix = f"layers.{n}."
            state[prefix + "qkv.weight"] = torch.cat(
                [_tensor(file, f"l{n}.{part}.w", s.hidden, s.hidden) for part in "qkv"])
            state[prefix + "qkv.bias"] = torch.cat(
                [_tensor(file, f"l{n}.{part}.b", 1, s.hidden)[0] for part in "qkv"])
            for name, in_file in _LAYER_TENSORS.items():
                rows, columns = _layer_shape(s, name)
                state[prefix + name] = _tensor(file, f"l{n}.{in_file}", rows, columns).squeeze(0)
        return state

    def embed_words(self, ids: torch.Tensor) -> torch.Tensor:
        """Dequantize the looked-up rows of the 4-bit word-embedding table."""
        nibbles = self.word_nibbles[ids]
        quants = torch.cat([nibbles & 0x0F, nibbles >> 4], dim=-1).to(torch.float32) - 8.0
        return (quants * self.word_scales[ids].to(torch.float32)).flatten(-2)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Mean of the last hidden states over each row's first `lengths` tokens."""
        length = ids.shape[1]
        x = self.embed_words(ids) + self.positions[:length] + self.token_type
        x = self.embedding_norm(x)
        present = torch.arange(length)[None, :] < lengths[:, None]
        keys = None if bool(present.all()) else present[:, None, None, :]
        for layer in self.layers:
            x = layer(x, keys)
        summed = (x * present[..., None]).sum(dim=1)
        return summed / lengths[:, None].to(summed.dtype)


def _tensor(file: E5File, name: str, rows: int, columns: int) -> torch.Tensor:
    return torch.from_numpy(file.tensor(name, rows, columns))


def _layer_shape(shape: BertShape, name: str) -> tuple[int, int]:
    if name == "up.weight":
        return shape.ffn, shape.hidden
    if name == "down.weight":
        return shape.hidden, shape.ffn
    if name == "up.bias":
        return 1, shape.ffn
    if name == "out.weight":
        return shape.hidden, shape.hidden
    return 1, shape.hidden
