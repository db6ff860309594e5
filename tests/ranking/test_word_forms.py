"""A hit's words read through a batch's own table (search.ranking.word_forms): the same
explanations and marks as through the process's memo, without filling the memo."""

from __future__ import annotations

import pytest

from search.analysis import word_analyzer
from search.memo import ANALYSIS
from search.ranking.explain import explain_terms
from search.ranking.highlight import highlight_and_snippet
from search.ranking.word_forms import WordTable, word_forms

CASES = [
    ("prisoner exchanges", "The prisoner Exchange happened.", "en", "en"),
    ("Zelensky", "Встреча Зеленского и Путина", "ru", "en"),
    ("Zelensky", "Ο Ζελένσκι είπε", "el", "en"),
    ("Zelensky", "الرئيس زيلينسكي", "ar", "en"),
    ("Зеленский", "President Zelensky met Peskov. Zelenskyy said", "en", "ru"),
    ("Peskov", "Präsident Selenskyj traf Peskow.", "de", "en"),
    ("Selenskyj Gespräche", "Selenskyj führte Gespräche, Gespräche in Kiew.", "de", "de"),
    ("習近平 talks", "習近平在北京 talks", "zh", "zh"),
    ("the Qwxzvbn", "President Zelensky met Peskov.", "en", "en"),
]


@pytest.mark.parametrize(("query", "text", "lang", "query_lang"), CASES)
def test_a_table_explains_and_marks_as_the_memo_does(query, text, lang, query_lang):
    table = WordTable()
    assert (explain_terms(query, text, lang, query_lang, table)
            == explain_terms(query, text, lang, query_lang))
    assert (highlight_and_snippet(text, query, lang, query_lang, words=table)
            == highlight_and_snippet(text, query, lang, query_lang))
    assert len(table) > 0


def test_a_table_leaves_the_words_of_a_text_out_of_the_memo():
    words = [f"harbour{n}ing" for n in range(200)]
    text = " ".join(words)

    def entries_after(words_of) -> int:
        ANALYSIS.clear()
        explain_terms("ferries", text, "en", "en", words_of)
        return len(ANALYSIS)

    # Through the memo a word leaves its forms, its terms and its stem there; through a
    # table its stem alone.
    assert entries_after(word_forms) >= 3 * len(words)
    assert entries_after(WordTable()) <= len(words) + 10


def test_a_table_keeps_at_most_its_capacity_the_oldest_dropped_first():
    table = WordTable(capacity=2)
    first = table("Exchanges", "en", "en")
    table("prisoners", "en", "en")
    table("harbour", "en", "en")
    assert len(table) == 2
    assert table("Exchanges", "en", "en") == first == (("exchang",), (), ())


def test_a_page_reads_a_word_from_the_memo_once_for_its_highlight_and_its_explanation():
    ANALYSIS.clear()
    word_forms("harbours", "en", "en")
    remembered = len(ANALYSIS)
    assert word_analyzer("en")("harbours") == "harbour"
    assert len(ANALYSIS) == remembered
