"""Exact before transliterated, the query's language first: on the shipped seeds (one story
in seven languages), a name finds the paragraph that holds it as typed, in the query's
language, with the story's other languages listed under it."""

from __future__ import annotations

import json

import pytest

from search.cli import main
from search.engine import Engine
from search.ranking.exactness import as_typed, exact_first, scripts_of
from search.ranking.query import Mode, Query
from search.records import Candidate, Filters

PESKOV = "000_7c2908e13247d0b5{}.txt:12"  # "Kremlin spokesperson Dmitry Peskov ..."


@pytest.fixture(scope="module")
def engine(seed_index, real_encoder):
    engine = Engine(seed_index, encoder_factory=lambda model: real_encoder).open()
    yield engine
    engine.close()


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize(("name", "lang"), [
    ("Peskov", "en"), ("Песков", "ru"), ("بيسكوف", "ar"), ("Umerov", "en"), ("Умеров", "ru")])
def test_a_story_is_shown_by_its_member_in_the_query_language(engine, mode, name, lang):
    page = engine.search(Query(name, mode=mode, collapse="translations", lang=lang))
    top = (page.hits or page.closest)[0]  # a lone name's cosine may be under the floor
    assert top.lang == lang, [(h.lang, h.paragraph_id) for h in page.hits or page.closest]
    assert len(top.translations) == 6  # the story's six other languages, listed under it


@pytest.mark.parametrize("mode", list(Mode))
def test_the_filtered_language_represents_the_story(engine, mode):
    page = engine.search(Query("Peskov", mode=mode, collapse="translations", lang="en",
                               filters=Filters(languages=("fr", "ru"))))
    assert (page.hits or page.closest)[0].lang == "fr"


def test_an_exact_match_outranks_a_latin_form_at_equal_evidence(engine):
    page = engine.search(Query("Peskov", mode=Mode.KEYWORD, lang="en"))
    order = [hit.paragraph_id for hit in page.hits]
    # es, en and fr hold "Peskov" as typed; ru holds "Песков" (its Latin form is peskov),
    # ar "بيسكوف": they come after, though per-language statistics scored ru first.
    assert set(order[:3]) == {PESKOV.format(s) for s in ("", ".es", ".fr")}
    assert order.index(PESKOV.format(".ru")) > order.index(PESKOV.format(""))
    scores = [hit.explain.keyword_score for hit in page.hits]
    assert scores == sorted(scores, reverse=True)


def test_the_cli_shows_the_english_paragraph_for_peskov(runner, seed_index):
    result = runner.invoke(main, ["query", "Peskov", "--mode", "keyword", "--index",
                                  str(seed_index), "--json"])
    assert result.exit_code == 0, result.output
    [top] = json.loads(result.stdout)["results"]  # the CLI collapses translations
    assert top["paragraph_id"] == PESKOV.format("") and "Peskov" in top["text"]
    assert "ru" in {t["lang"] for t in top["translations"]}


def test_scripts_and_what_a_script_can_hold():
    assert scripts_of("Peskov") == {"Latin"}
    assert scripts_of("Песков 2025") == {"Cyrillic"}
    assert scripts_of("東京タワー") == {"Han"}
    assert as_typed("en", scripts_of("Peskov")) and not as_typed("ru", scripts_of("Peskov"))
    assert as_typed("ru", scripts_of("Песков")) and as_typed(None, scripts_of("x"))
    assert as_typed("ru", scripts_of("2025"))  # no letters: nothing to tell


@pytest.mark.parametrize(("found", "expected"), [
    # equal coverage: the Latin-script paragraph moves up, scores stay in place
    ([Candidate(1, 3.0, 1.0, "ru"), Candidate(2, 2.0, 1.0, "en")],
     [Candidate(2, 3.0, 1.0, "en"), Candidate(1, 2.0, 1.0, "ru")]),
    # more evidence wins whatever the script
    ([Candidate(1, 3.0, 1.0, "ru"), Candidate(2, 2.0, 0.5, "en")],
     [Candidate(1, 3.0, 1.0, "ru"), Candidate(2, 2.0, 0.5, "en")]),
    ([Candidate(3, 4.0, 0.5, "en"), Candidate(1, 3.0, 1.0, "el"), Candidate(4, 2.5, 0.5, "ar"),
      Candidate(2, 2.0, 1.0, "de")],
     [Candidate(3, 4.0, 0.5, "en"), Candidate(2, 3.0, 1.0, "de"), Candidate(4, 2.5, 0.5, "ar"),
      Candidate(1, 2.0, 1.0, "el")]),
])
def test_exact_first_reorders_only_within_equal_coverage(found, expected):
    assert exact_first(found, "Peskov talks") == expected
