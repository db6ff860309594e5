"""A tiny random BERT saved as a sentence-transformers model, built entirely offline."""

from __future__ import annotations

import string
from pathlib import Path

_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
_CJK = "中文日本語東京北京大学人口是的了在有我他这个们来到时"
_WORDS = ["the", "and", "search", "engine", "river", "city", "music", "##s", "##ing", "##ed"]


def tiny_vocab() -> list[str]:
    """Special tokens, then single characters (with ## continuations), then a few words."""
    chars = list(string.ascii_lowercase + string.digits + _CYRILLIC + _CJK + ".,!?-")
    return _SPECIAL + chars + [f"##{c}" for c in chars] + _WORDS


def build_tiny_bert_model(path: Path) -> Path:
    """Save a 2-layer, 32-wide random BertModel with mean pooling and normalization to ``path``.

    The weights come from a fixed seed, so every build gives the same model.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    hf_dir = path.parent / f"{path.name}-hf"
    hf_dir.mkdir(parents=True, exist_ok=True)
    vocab_file = hf_dir / "vocab.txt"
    vocab_file.write_text("\n".join(tiny_vocab()) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)
    config = BertConfig(
        vocab_size=len(tiny_vocab()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        bert = BertModel(config)
    bert.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)

    transformer = Transformer(str(hf_dir), max_seq_length=128)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")
    model.save(str(path))
    return path
