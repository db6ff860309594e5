"""Whoosh analyzers per language: a Unicode tokenizer, then casefolding, stop words and stemming.

Analyzers are composed with ``|`` as Whoosh does. Every piece is a top-level class holding only
plain data, so a schema that uses them can be pickled into the index.

- Words are runs of letters, digits and combining marks, found with the ``regex`` package
  (``re``'s ``\\w`` splits Hindi and Thai words at their combining marks).
- Runs of scripts written without spaces (Han, kana, Hangul, Thai, Lao, Khmer, Myanmar) become
  overlapping bigrams of grapheme clusters, so a mark never travels without its base letter;
  Latin words and numbers inside such text stay whole tokens.
- Stop words come from Whoosh where it has a list, from the short lists below otherwise.
- Stemming uses Whoosh's stemmers; a stem that comes out empty keeps the unstemmed word.
  Greek, Hindi and Turkish, which Whoosh cannot stem, get words cut to 5 characters instead.
- Greek also loses its accents, as uppercase Greek is written without them.
- Names in Cyrillic, Greek, Arabic and a few other alphabets also get Latin-script forms
  (transliteration.py), marked as such, so that they match the Latin spellings of the name.

Longer than most modules (~330 lines) because the analyzers and the per-word views of them
that highlighting, explanations and alerts read (`word_terms`, `word_analyzer`) must give the
same terms: they change together.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import regex
from whoosh.analysis import Analyzer, Filter, StopFilter, Token, Tokenizer
from whoosh.lang import (
    has_stemmer,
    has_stopwords,
    stemmer_for_language,
    stopwords_for_language,
)
from whoosh.lang import languages as whoosh_languages

from search.memo import memo
from search.transliteration import TransliterateFilter, WordMarkFilter

UNKNOWN = "xx"

_SPACELESS = (
    r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\u30fc\u3005"
)
# A word: letters, digits, combining marks and the joiners Indic scripts use inside words.
_WORD_CHARS = r"[\p{L}\p{N}\p{M}\u200c\u200d]"
_WORD = regex.compile(rf"{_WORD_CHARS}+")
# A word with at least one letter or digit (a run of marks alone is no word).
_ALNUM_WORD = regex.compile(rf"{_WORD_CHARS}*[\p{{L}}\p{{N}}]{_WORD_CHARS}*")
_RUN = regex.compile(rf"([{_SPACELESS}]+)|([^{_SPACELESS}]+)")
_GRAPHEME = regex.compile(r"\X")
_HAS_ALNUM = regex.compile(r"[\p{L}\p{N}]")
_HAS_SPACELESS = regex.compile(rf"[{_SPACELESS}]")

# Short lists of the most frequent function words (and question words, which Whoosh's own
# lists also stop) for languages Whoosh has no list for. Whoosh's lists cover da de en es fi
# fr hu it nl no pt ru sv tr.
_OWN_STOPWORDS = {
    "ar": """في من على إلى الى عن مع هذا هذه ذلك تلك التي الذي الذين اللذين أن ان إن كان كانت
        يكون لم لن لا ما ماذا هو هي هم و أو او ثم قد كل بعد قبل بين حتى عند أي اي تم كما أيضا
        ايضا وفي ومن وقد وكان فى منذ حيث لكن بل إذا اذا كيف متى أين اين لماذا هل كم""",
    "el": """και το η ο του της των τα την τον στο στη στην στον στα στις στους σε με για από
        που είναι ήταν ένα ενός μια μία να θα δεν ως οι ότι αυτό αυτή αυτός αυτά κατά μετά προς
        ή έχει είχε τι ποιο ποια ποιος ποιες ποιοι ποιον ποιας πόσα πόσο πόσες πόσοι πότε πού
        πώς γιατί τους τις σας μας""",
    "hi": """का की के में है हैं और से को पर यह वह एक ने भी था थी थे कि जो या तो ही इस उस इन
        उन लिए किया गया गई गए कर करने होता होती होते हो साथ नहीं तक द्वारा अपने अपनी जैसे
        क्या कौन कौनसा कौनसी कब कहाँ कहां कितने कितना कितनी किस किसे किसने क्यों कैसे""",
    "vi": """của và các là có được trong cho những với một để đã không này đến khi từ theo về
        như tại ra bị vào nhiều sự thì mà cũng nào gì ai đó đã đang sẽ rằng hay hoặc bởi
        những mỗi""",
}

_SPACELESS_LANGS = frozenset({"zh", "ja", "ko", "th", "lo", "km", "my"})


def _casefold(text: str) -> str:
    if text.isascii():
        return text.lower()
    # Casefolding turns Turkish İ into i + combining dot; the dot only gets in the way.
    return unicodedata.normalize("NFKC", text).casefold().replace("i\u0307", "i")


def _strip_marks(text: str) -> str:
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare)


def _stopwords(lang: str) -> frozenset[str]:
    words: set[str] = set(_OWN_STOPWORDS.get(lang, "").split())
    if lang not in _OWN_STOPWORDS and has_stopwords(lang):
        words.update(stopwords_for_language(lang))
    words = {_casefold(w) for w in words}
    if lang == "el":
        words |= {_strip_marks(w) for w in words}
    return frozenset(words)


STEM_LANGUAGES = frozenset(code for code in whoosh_languages if has_stemmer(code))
STOP_LANGUAGES = frozenset(
    code
    for code in {*whoosh_languages, *_OWN_STOPWORDS}
    if code in _OWN_STOPWORDS or has_stopwords(code)
)
# Words cut to this many characters, for languages with no Whoosh stemmer: on XQuAD-R dev this
# raised nDCG@10 from .895 to .945 (tr), .912 to .949 (el) and .940 to .952 (hi).
TRUNCATE: dict[str, int] = {"el": 5, "hi": 5, "tr": 5}
LANGUAGES = STEM_LANGUAGES | STOP_LANGUAGES | _SPACELESS_LANGS


def pieces(text: str) -> Iterator[tuple[str, int, int]]:
    """Yield ``(surface, start, end)`` for each token of ``text`` before any filtering.

    Spaceless scripts give overlapping grapheme bigrams (a lone grapheme stays a unigram).
    """
    if not _HAS_SPACELESS.search(text):  # most text: every word is one token, found faster
        for word in _ALNUM_WORD.finditer(text):
            yield word.group(), word.start(), word.end()
        return
    for word in _WORD.finditer(text):
        base = word.start()
        for run in _RUN.finditer(word.group()):
            chunk = run.group()
            start = base + run.start()
            if run.group(2) is not None:
                if _HAS_ALNUM.search(chunk):
                    yield chunk, start, start + len(chunk)
                continue
            bounds = [start + m.start() for m in _GRAPHEME.finditer(chunk)]
            bounds.append(start + len(chunk))
            if len(bounds) == 2:
                yield chunk, start, start + len(chunk)
                continue
            for i in range(len(bounds) - 2):
                yield text[bounds[i] : bounds[i + 2]], bounds[i], bounds[i + 2]


class UnicodeTokenizer(Tokenizer):
    """Splits text into words with the ``regex`` package; spaceless scripts become bigrams."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        stream = pieces(value) if tokenize else iter([(value, 0, len(value))])
        for pos, (surface, start, end) in enumerate(stream, start_pos):
            token.text = surface
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = surface
            if positions:
                token.pos = pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


class CasefoldFilter(Filter):
    """NFKC-normalizes and casefolds each token (ASCII tokens are just lowercased)."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            token.text = _casefold(token.text)
            yield token


class StripMarksFilter(Filter):
    """Removes accents (combining marks), as Greek search does with the tonos."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            if not token.text.isascii():
                token.text = _strip_marks(token.text) or token.text
            yield token


class TruncateFilter(Filter):
    """Cuts words to their first ``length`` characters: a crude stemmer for languages without one.

    Digits are left whole, since a truncated number would match other numbers.
    """

    def __init__(self, length: int) -> None:
        self.length = length

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        length = self.length
        for token in tokens:
            # Latin forms of names stay whole: they are matched with typo tolerance instead.
            if getattr(token, "transliterated", False):
                yield token
                continue
            if len(token.text) > length and not token.text.isdigit():
                token.text = token.text[:length]
            yield token


class LanguageStemFilter(Filter):
    """Stems with Whoosh's stemmer for ``lang``, keeping the word when the stem is empty.

    Only the language code is pickled; the cached stemming function is rebuilt on load.
    Stems are remembered in search.memo's store, shared by threads (Whoosh's own cache is not).
    """

    def __init__(self, lang: str, cachesize: int = 50_000) -> None:
        self.lang = lang
        self.cachesize = cachesize  # unused (stems share search.memo's budget); in old pickles
        self._stem = self._build()

    def _build(self) -> Any:
        stem = stemmer_for_language(self.lang)

        @memo
        def safe_stem(word: str) -> str:
            return stem(word) or word

        return safe_stem

    def __getstate__(self) -> dict[str, Any]:
        return {"lang": self.lang, "cachesize": self.cachesize}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.lang = state["lang"]
        self.cachesize = state["cachesize"]
        self._stem = self._build()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LanguageStemFilter) and other.lang == self.lang

    def __hash__(self) -> int:
        return hash(("LanguageStemFilter", self.lang))

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        stem = self._stem
        for token in tokens:
            if not token.stopped:
                token.text = stem(token.text)
            yield token


def field_language(lang: str | None) -> str:
    """The analysis language for a language code: ``"zh-TW"`` -> ``"zh"``, unknown -> ``"xx"``."""
    if not lang:
        return UNKNOWN
    code = lang.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else UNKNOWN


@cache
def analyzer_for(lang: str) -> Analyzer:
    """The (shared, stateless) Whoosh analyzer for a language code; unknown codes get the generic
    tokenizer and casefolding."""
    code = field_language(lang)
    analyzer = UnicodeTokenizer() | WordMarkFilter() | CasefoldFilter()
    if code == "el":
        analyzer = analyzer | StripMarksFilter()
    if code in STOP_LANGUAGES:
        analyzer = analyzer | StopFilter(stoplist=_stopwords(code), minsize=1)
    if code in STEM_LANGUAGES:
        analyzer = analyzer | LanguageStemFilter(code) | TransliterateFilter()
    elif code in TRUNCATE:
        # Before the cut, so that the Latin forms come from whole words.
        analyzer = analyzer | TransliterateFilter() | TruncateFilter(TRUNCATE[code])
    else:
        analyzer = analyzer | TransliterateFilter()
    return analyzer


def tokens(text: str, lang: str | None) -> list[str]:
    """The analyzed terms of ``text`` for ``lang`` (stop words removed), in order: what the
    language's analyzer gives for the words themselves (without Latin forms of names),
    computed once per distinct word."""
    term_of = word_analyzer(field_language(lang))
    return [term for surface, _, _ in pieces(text) if (term := term_of(surface)) is not None]


def marked_tokens(text: str, lang: str | None, query: bool = False) -> list[tuple[str, bool]]:
    """Every term the language's analyzer gives for ``text`` (for a query, with ``query``), in
    order, each with whether it is a Latin form of a word in another alphabet: what the index
    holds. Computed once per distinct word."""
    terms_of = word_terms(field_language(lang), query)
    return [marked for surface, _, _ in pieces(text) for marked in terms_of(surface)]


def token_spans(text: str, lang: str | None) -> list[tuple[str, int, int]]:
    """Each analyzed term of ``text`` with the character offsets of its surface form."""
    term_of = word_analyzer(field_language(lang))
    return [(term, start, end) for surface, start, end in pieces(text)
            if (term := term_of(surface)) is not None]


AnalysedWord = tuple[tuple[str, bool], ...]  # a word's terms, each with whether it is Latin
WordAnalysis = Callable[[str], AnalysedWord]


@cache
def word_analysis(code: str, query: bool = False) -> WordAnalysis:
    """Every term the analyzer makes of one word (the word's own, then Latin forms, each
    with whether it is a transliteration), analysed each time it is asked."""
    analyzer = analyzer_for(code)
    mode = "query" if query else "index"

    def terms_of(surface: str) -> AnalysedWord:
        return tuple((token.text, bool(getattr(token, "transliterated", False)))
                     for token in analyzer(surface, tokenize=False, mode=mode))

    return terms_of


@cache
def word_terms(code: str, query: bool = False) -> WordAnalysis:
    """`word_analysis`, remembered per language."""
    return memo(word_analysis(code, query))


@cache
def word_analyzer(code: str) -> Callable[[str], str | None]:
    """The analyzed term of one word (None for a stop word), remembered per language. Every
    filter of an analyzer works on one token at a time, so a word alone analyzes as it does
    inside a text; analysing a query's words then costs a lookup per word, not a stemming.
    It is the first of the word's terms (its own comes before its Latin forms), read from
    the same memo as they are (search.ranking.word_forms reads a hit's words so too)."""
    terms_of = word_terms(code, False)

    def term_of(surface: str) -> str | None:
        terms = terms_of(surface)
        return terms[0][0] if terms else None

    return term_of
