"""Why a paragraph matched: the query words it holds, their form and the spellings found."""

from __future__ import annotations

import json

import pytest
from conftest import FakeEncoder, write

from search.config import Settings
from search.engine import Engine
from search.index.updater import update_index
from search.ranking.explain import MatchForm, TermMatch, explain_terms, query_words
from search.ranking.query import Mode, Query

TYPED, LATIN, TYPO = MatchForm.TYPED, MatchForm.LATIN, MatchForm.TYPO


@pytest.mark.parametrize(("query", "text", "lang", "query_lang", "expected"), [
    # as typed, inflections included
    ("prisoner exchanges", "The prisoner Exchange happened.", "en", "en",
     [("prisoner", TYPED, ("prisoner",)), ("exchanges", TYPED, ("Exchange",))]),
    # a Latin query finds a name in Cyrillic, Greek and Arabic, inflected too
    ("Zelensky", "Встреча Зеленского и Путина", "ru", "en",
     [("Zelensky", LATIN, ("Зеленского",))]),
    ("Zelensky", "Ο Ζελένσκι είπε", "el", "en", [("Zelensky", LATIN, ("Ζελένσκι",))]),
    ("Zelensky", "الرئيس زيلينسكي", "ar", "en", [("Zelensky", LATIN, ("زيلينسكي",))]),
    # a Cyrillic query finds both Latin spellings in an English paragraph
    ("Зеленский", "President Zelensky met Peskov. Zelenskyy said", "en", "ru",
     [("Зеленский", LATIN, ("Zelensky", "Zelenskyy"))]),
    ("Песков", "President Zelensky met Peskov.", "en", "ru", [("Песков", LATIN, ("Peskov",))]),
    # near spellings in Latin script: other languages' spellings of a name, and typos
    ("Selenskyj", "President Zelensky met Peskov.", "en", "de",
     [("Selenskyj", TYPO, ("Zelensky",))]),
    ("Peskov", "Präsident Selenskyj traf Peskow.", "de", "en", [("Peskov", TYPO, ("Peskow",))]),
    ("Zelenksy", "President Zelensky met", "en", "en", [("Zelenksy", TYPO, ("Zelensky",))]),
    # a word found as typed needs no typo: the near spelling beside it is not claimed
    ("prisoner", "The prisoner and the prisonr", "en", "en", [("prisoner", TYPED, ("prisoner",))]),
    # a common word in another language than the query's gets no typo tolerance
    ("house", "A horse ran.", "en", "de", []),
    # scripts without spaces: a word is its bigrams, the spelling found the merged run
    ("習近平 talks", "習近平在北京 talks", "zh", "zh",
     [("習近平", TYPED, ("習近平",)), ("talks", TYPED, ("talks",))]),
    # stop words and words not there are left out
    ("the Qwxzvbn", "President Zelensky met Peskov.", "en", "en", []),
])
def test_forms_and_spellings(query, text, lang, query_lang, expected):
    found = explain_terms(query, text, lang, query_lang)
    assert found == tuple(TermMatch(w, form, spellings) for w, form, spellings in expected)


def test_the_strongest_form_is_given_and_every_spelling_listed():
    [match] = explain_terms("Zelensky", "Zelensky, also Зеленский", "en", "en")
    assert match.form is TYPED and match.found == ("Zelensky", "Зеленский")


def test_query_words_keep_spaceless_runs_whole():
    assert [word for word, _ in query_words("泽连斯基 and Peskov")] == ["泽连斯基", "and",
                                                                       "Peskov"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    encoder = FakeEncoder()
    root = tmp_path_factory.mktemp("explain")
    articles = [
        {"id": "ru", "title": "Встреча", "lang": "ru",
         "text": "Президент Зеленский встретился с делегацией в Киеве во вторник."},
        {"id": "en", "title": "Meeting", "lang": "en",
         "text": "President Zelensky met the delegation in Kyiv on Tuesday."},
    ]
    write(root / "seeds" / "feed.jsonl", "\n".join(json.dumps(a) for a in articles))
    update_index(root / "seeds", root / "idx", Settings(model="fake"), lambda: encoder)
    with Engine(root / "idx", encoder_factory=lambda model: encoder).open() as opened:
        yield opened


def test_hits_carry_the_explanation_in_keyword_modes_only(engine):
    page = engine.search(Query("Zelensky", mode=Mode.KEYWORD, lang="en"))
    terms = {hit.lang: hit.explain.terms for hit in page.hits}
    assert terms == {"en": (TermMatch("Zelensky", TYPED, ("Zelensky",)),),
                     "ru": (TermMatch("Zelensky", LATIN, ("Зеленский",)),)}
    semantic = engine.search(Query("Zelensky", mode=Mode.SEMANTIC, lang="en"))
    assert all(hit.explain.terms == () for hit in semantic.hits)
