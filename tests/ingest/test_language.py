from __future__ import annotations

import pytest

from search.ingest.language import LanguageDetector, normalize_code


@pytest.fixture(scope="module")
def detector():
    return LanguageDetector()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Ukraine and Russia will meet again for peace talks on Wednesday in Istanbul.", "en"),
        ("Украина и Россия снова встретятся для мирных переговоров в среду в Стамбуле.", "ru"),
        ("Die Ukraine und Russland treffen sich am Mittwoch erneut zu Friedensgesprächen.", "de"),
        ("乌克兰和俄罗斯将于周三在伊斯坦布尔再次举行和平谈判。", "zh"),
        ("ستلتقي أوكرانيا وروسيا مرة أخرى لإجراء محادثات سلام يوم الأربعاء في إسطنبول.", "ar"),
        ("L'Ukraine et la Russie se retrouveront mercredi à Istanbul pour des pourparlers.", "fr"),
        ("12345 ??? --- !!!", "und"),
        ("", "und"),
    ],
)
def test_detects_paragraph_languages(detector, text, expected):
    assert detector.detect(text) == expected


def test_candidates_restrict_short_queries(detector):
    # Alone, two words of German could pass for several languages; among the index's
    # languages the answer must be one of them.
    assert detector.detect("Istanbul Gefangenenaustausch", ["en", "de", "ru"]) == "de"
    assert detector.detect("prisoner exchange", ["en", "ru"]) == "en"
    assert detector.detect("обмен пленными", ["en", "ru", "de"]) == "ru"


@pytest.mark.parametrize(
    "code, expected",
    [("EN", "en"), ("zh-TW", "zh"), ("zh_CN", "zh"), ("wuu", "zh"), ("pt-BR", "pt")],
)
def test_normalize_code(code, expected):
    assert normalize_code(code) == expected
