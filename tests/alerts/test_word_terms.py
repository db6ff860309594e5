"""The alerts' words are analysed once and kept per analyzer; kept terms are trusted only
while the analyzer reads its probe words as it did."""

from __future__ import annotations

from search.alerts import AlertStore
from search.alerts.terms import WordTerms, analysis_mark
from search.analysis import word_terms


def test_words_analysed_once_are_kept_and_dropped_when_the_analyzer_changes(tmp_path):
    mark = analysis_mark("ru")
    with AlertStore(tmp_path) as store:
        words = store.word_terms({"ru": mark})
        assert words.terms("ru", "Зеленского") == word_terms("ru", True)("Зеленского")
        assert any(latin for _, latin in words.terms("ru", "Зеленского"))  # a Latin form
        store.save_word_terms(words, {"ru": mark})
        kept = store.word_terms({"ru": mark})
        assert kept.known == {"ru": {"Зеленского": words.terms("ru", "Зеленского")}}
        assert store.word_terms({"ru": mark + "changed"}).known == {}
        peace = {"мир": (("мир", False),)}
        store.save_word_terms(WordTerms(added={"ru": peace}), {"ru": mark + "changed"})
        assert store.word_terms({"ru": mark + "changed"}).known == {"ru": peace}


def test_the_probe_differs_between_analyzers():
    assert analysis_mark("en") != analysis_mark("ru")
