"""Latin forms of names in other alphabets, as the analyzers add them."""

from __future__ import annotations

import pytest

from search.analysis import marked_tokens
from search.transliteration import latin, looks_like_name


@pytest.mark.parametrize(("word", "form"), [
    ("Зеленский", "zelenskiy"), ("Песков", "peskov"), ("Кремль", "kreml"),
    ("Ζελένσκι", "zelenski"), ("زيلينسكي", "zylynsky"), ("Київ", "kiiv"), ("Zelensky", "zelensky"),
])
def test_latin_forms(word: str, form: str) -> None:
    assert latin(word) == form


def test_documents_transliterate_names_and_every_word_of_uncased_scripts() -> None:
    assert looks_like_name("Зеленский") and not looks_like_name("переговоры")
    assert looks_like_name("زيلينسكي") and not looks_like_name("Zelensky")
    assert marked_tokens("Зеленского переговоры", "ru") == [
        ("зеленск", False), ("zelensk", True), ("zelenskogo", True), ("переговор", False)]


def test_queries_transliterate_every_word_stemmed_by_its_own_script() -> None:
    # In the English field the Russian word is not stemmed; its Latin forms are the whole
    # word's and the Russian stem's, so an inflected name still comes near the Latin spelling.
    assert marked_tokens("зеленского", "en", query=True) == [
        ("зеленского", False), ("zelenskogo", True), ("zelensk", True)]


def test_greek_latin_forms_come_from_whole_words() -> None:
    assert marked_tokens("Ζελένσκι", "el") == [("ζελεν", False), ("zelenski", True)]
