from __future__ import annotations

import pickle
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.analysis import (
    LANGUAGES,
    analyzer_for,
    field_language,
    marked_tokens,
    pieces,
    token_spans,
    tokens,
    word_terms,
)


def surfaces(text: str) -> list[str]:
    return [surface for surface, _, _ in pieces(text)]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("zh-TW", "zh"),
        ("pt_BR", "pt"),
        ("el", "el"),
        ("tlh", "xx"),
        ("", "xx"),
        (None, "xx"),
    ],
)
def test_field_language(code: str | None, expected: str) -> None:
    assert field_language(code) == expected


def test_languages_cover_the_data_languages() -> None:
    assert {"ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"} <= LANGUAGES
    assert {"fr", "it", "pt", "nl", "ja", "ko"} <= LANGUAGES


def test_english_stems_and_stops() -> None:
    assert tokens("The exchanges were running", "en") == ["exchang", "run"]
    assert tokens("exchange", "en") == tokens("Exchanges", "en")


def test_other_stemmers() -> None:
    assert tokens("Die Häuser", "de") == tokens("Haus", "de") == ["haus"]
    assert tokens("las casas", "es") == tokens("casa", "es") == ["cas"]
    assert tokens("здания", "ru") == tokens("здание", "ru")


def test_own_stop_lists() -> None:
    assert tokens("की और में पुस्तक", "hi") == tokens("पुस्तक", "hi")
    assert tokens("của và các sông", "vi") == ["sông"]
    assert tokens("في من الكتاب", "ar") == tokens("الكتاب", "ar")
    assert tokens("και το βιβλίο", "el") == tokens("βιβλίο", "el")


def test_greek_accents_case_and_truncation() -> None:
    assert tokens("ΑΘΗΝΑ Αθήνα αθήνας", "el") == ["αθηνα"] * 3


def test_turkish_truncates_but_keeps_numbers() -> None:
    assert tokens("İstanbul'daki ISTANBUL", "tr") == ["istan", "daki", "istan"]
    assert tokens("kitaplarımız kitapları", "tr") == ["kitap", "kitap"]
    assert tokens("1453456", "tr") == ["1453456"]


def test_chinese_bigrams_keep_latin_and_numbers_whole() -> None:
    assert tokens("黑豹队丢了308分，NFL联赛", "zh") == [
        "黑豹",
        "豹队",
        "队丢",
        "丢了",
        "308",
        "分",
        "nfl",
        "联赛",
    ]


def test_japanese_and_korean_bigrams() -> None:
    assert tokens("東京タワー", "ja") == ["東京", "京タ", "タワ", "ワー"]
    assert tokens("한국어 문장", "ko") == ["한국", "국어", "문장"]


def test_thai_bigrams_never_split_a_mark_from_its_letter() -> None:
    # ง่ายมาก: the tone mark ่ belongs to ง, so the first bigram is ง่ + า.
    assert tokens("ง่ายมาก", "th") == ["ง่า", "าย", "ยม", "มา", "าก"]
    for term in tokens("ภาษาไทยง่ายมาก ที่สุด", "th"):
        assert unicodedata.category(term[0]) != "Mn"


def test_hindi_words_stay_whole() -> None:
    # Python's re \w would split these at the vowel signs and the virama.
    assert surfaces("हिन्दी भाषा में किताबें") == ["हिन्दी", "भाषा", "में", "किताबें"]


def test_unknown_language_is_generic() -> None:
    assert tokens("The Running ｆｕｌｌ-width", "xx") == ["the", "running", "full", "width"]
    assert tokens("The Running", "tlh") == ["the", "running"]


@pytest.mark.parametrize(
    "text",
    ["", "   ", "???", "*:*", "\x00\x01\x1f", "\ud800 \udfff", "😀👨\u200d👩", "\u0301\u0302"],
)
def test_no_words_give_no_tokens(text: str) -> None:
    for lang in ("en", "zh", "th", "hi", "el", "xx"):
        assert tokens(text, lang) == []


def test_spans_point_at_the_surface_words() -> None:
    text = "The Exchanges, and 黑豹队"
    spans = token_spans(text, "en")
    assert [(term, text[start:end]) for term, start, end in spans] == [
        ("exchang", "Exchanges"),
        ("黑豹", "黑豹"),
        ("豹队", "豹队"),
    ]


def test_control_characters_split_words() -> None:
    assert tokens("alpha\x00beta\tgamma", "xx") == ["alpha", "beta", "gamma"]


@pytest.mark.parametrize("lang", sorted(LANGUAGES | {"xx"}))
def test_analyzers_pickle_and_still_work(lang: str) -> None:
    analyzer = analyzer_for(lang)
    restored = pickle.loads(pickle.dumps(analyzer))
    text = "Exchanges 黑豹队 Häuser здания kitapları βιβλίο पुस्तक"
    assert [t.text for t in restored(text)] == [t.text for t in analyzer(text)]
    assert all(t.text for t in restored(text))


def test_empty_stems_fall_back_to_the_word() -> None:
    # Arabic's ISRI stemmer reduces some short words to nothing; no empty term may come out.
    for lang in sorted(LANGUAGES):
        assert "" not in tokens("ال ة ي و ا ب s e a i o", lang)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=60))
def test_text_without_spaceless_scripts_splits_as_with_them(text: str) -> None:
    """pieces() has a fast path for text with no Han, kana, Hangul, Thai... characters; a
    trailing Chinese word sends the same text down the general path, which must agree."""
    fast = list(pieces(text))
    general = list(pieces(text + " 中文"))
    assert general[: len(fast)] == fast and len(general) == len(fast) + 1


_WORDS = ["The", "exchange", "exchanges", "of", "prisoners", "обмен", "пленными", "и",
          "Τα", "νέα", "ελληνικά", "και", "का", "समाचार", "中文", "新闻", "ข่าว", "İstanbul",
          "ISTANBUL", "straße", "ﬁnance", "2024", "ال", "الأخبار", "der", "Gefangenen",
          "Зеленский", "Песков"]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(_WORDS), max_size=12), st.sampled_from(sorted(LANGUAGES)))
def test_words_analyzed_one_at_a_time_give_the_analyzers_terms(words: list[str],
                                                               lang: str) -> None:
    """tokens() and token_spans() analyze each distinct word once and remember it; they must
    give what the language's analyzer gives over the whole text (what the index holds)."""
    text = " ".join(words) + "."
    every = [(t.text, t.startchar, t.endchar, t.transliterated)
             for t in analyzer_for(lang)(text, chars=True)]
    whole = [(term, start, end) for term, start, end, latin in every if not latin]
    assert token_spans(text, lang) == whole
    assert tokens(text, lang) == [term for term, _, _ in whole]
    assert marked_tokens(text, lang) == [(term, latin) for term, _, _, latin in every]
    # ... and word by word, as explanations, highlighting and alerts read a text
    code = field_language(lang)
    assert every == [(term, start, end, latin) for surface, start, end in pieces(text)
                     for term, latin in word_terms(code)(surface)]
