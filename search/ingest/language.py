"""Language detection for paragraphs and queries (py3langid).

py3langid was chosen over lingua: it covers 97 languages (all 16 of the default model's and
all 11 of the benchmark's), classifies a paragraph in ~0.15 ms here, and loads in about a
second, where lingua's high-accuracy mode needs far more memory and time per call. Its weak
spot, very short texts, is handled by restricting queries to the languages in the index.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cached_property
from typing import TYPE_CHECKING

import regex

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

UNDETERMINED = "und"
# py3langid splits some languages into varieties the rest of the engine treats as one.
_ALIASES = {"wuu": "zh", "yue": "zh", "zxx": UNDETERMINED, "nn": "no", "arz": "ar", "ary": "ar"}
_LETTER = regex.compile(r"\p{L}")


def normalize_code(code: str) -> str:
    """Lower-case a language code and fold regional variants ("zh-TW" -> "zh")."""
    code = code.strip().lower().replace("_", "-").split("-")[0]
    return _ALIASES.get(code, code)


class LanguageDetector:
    """Detects the language of a text; the model is loaded on first use, not at construction."""

    @cached_property
    def _identifier(self) -> LanguageIdentifier:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def detect_query(self, text: str, indexed: Collection[str]) -> tuple[str, str]:
        """A query's language among `indexed` (the most likely of those, since short texts
        are easily mistaken) and among all languages, from one classification."""
        if not _LETTER.search(text):
            return UNDETERMINED, UNDETERMINED
        ranked = [normalize_code(code) for code, _score in self._identifier.rank(text)]
        allowed = {normalize_code(c) for c in indexed} - {UNDETERMINED}
        among_indexed = next((code for code in ranked if code in allowed), ranked[0])
        return among_indexed, among_indexed if ranked[0] == UNDETERMINED else ranked[0]

    def detect(self, text: str, candidates: Collection[str] | None = None) -> str:
        """The ISO 639-1 code of text's language, or "und" for text without letters.

        With candidates, the answer is the most likely of those (used for queries, which
        are short and so easily mistaken, against the languages actually indexed).
        """
        if not _LETTER.search(text):
            return UNDETERMINED
        if not candidates:
            return normalize_code(self._identifier.classify(text)[0])
        allowed = {normalize_code(c) for c in candidates} - {UNDETERMINED}
        for code, _score in self._identifier.rank(text):
            if normalize_code(code) in allowed:
                return normalize_code(code)
        return normalize_code(self._identifier.classify(text)[0])
