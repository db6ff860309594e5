"""multilingual-e5-small as a sentence-transformers input module.

A thin wrapper over :class:`search.encoders.e5_model.E5Model` (plain torch, windows for long
texts, mean pooling and normalization inside), so that ``SentenceTransformer(folder)`` loads
a converted model folder (search/encoders/e5_folder.py), with its ``query`` and ``passage``
prompts, while the search engine itself runs E5Model without importing sentence-transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from sentence_transformers.sentence_transformer.modules import InputModule

from search.encoders.e5_folder import CONFIG_FILE, load_model, save_model
from search.encoders.e5_model import E5Model, LongTexts


class E5Transformer(InputModule):
    """multilingual-e5-small: texts in, L2-normalized 384-d ``sentence_embedding`` out.

    Args:
        model: the converted model (what :meth:`load` gives from a folder).
        long_texts: "windows" or "truncate" (search.encoders.e5_model.LongTexts); None keeps
            the model's.
    """

    config_keys: list[str] = ["long_texts"]
    config_file_name: str = "e5_module.json"
    save_in_root: bool = True

    def __init__(self, model: E5Model | None = None, long_texts: str | None = None) -> None:
        super().__init__()
        if model is None:
            raise ValueError("E5Transformer loads from a converted model folder")
        if long_texts is not None:
            model.long_texts = LongTexts(long_texts)
        self.model = model
        self.bert = model.bert  # registered, so .to() and state_dict see it
        # sentence-transformers types this as a Hugging Face tokenizer; ours splits windows.
        self.tokenizer = model.tokenizer  # type: ignore[assignment]

    @property
    def long_texts(self) -> str:
        return self.model.long_texts.value

    @classmethod
    def load(  # type: ignore[override]  # hub arguments have no use: folders only
        cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any
    ) -> E5Transformer:
        """Load the module from a local converted folder (never from a model hub)."""
        folder = Path(model_name_or_path) / subfolder
        if not (folder / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{folder} holds no converted e5 model ({CONFIG_FILE})")
        config = cls.load_config(str(folder))
        return cls(load_model(folder), **config)

    def preprocess(  # type: ignore[override]  # text only, where the base takes every modality
        self, inputs: Sequence[str], prompt: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Keep the texts (with the prompt prepended): windows are cut in :meth:`forward`."""
        texts = [prompt + t for t in inputs] if prompt else list(inputs)
        return {"texts": texts}

    def tokenize(self, texts: Sequence[str], **kwargs: Any) -> dict[str, Any]:
        """Same as :meth:`preprocess` (the name sentence-transformers used before 6.0)."""
        return self.preprocess(texts, **kwargs)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Add ``sentence_embedding`` (n_texts, 384), L2-normalized, to ``features``."""
        vectors = self.model.encode(features["texts"], batch_size=max(len(features["texts"]), 1))
        features["sentence_embedding"] = torch.from_numpy(vectors)
        return features

    def get_embedding_dimension(self) -> int:
        return self.model.dim

    def get_sentence_embedding_dimension(self) -> int:
        return self.model.dim

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True,
             **kwargs: Any) -> None:
        """Write the weights, tokenizer and config into `output_path`."""
        save_model(self.model, Path(output_path))
        self.save_config(output_path)
