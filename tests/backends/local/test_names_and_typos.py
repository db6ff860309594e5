"""Names across scripts and spellings, and typo tolerance, on real Whoosh indexes.

The seed article is one news story in seven languages: a name written in another script or
spelling, filtered to English, must find the English paragraphs that name it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import SEEDS, FakeEncoder

from search.backends.local.keyword import KeywordDoc, KeywordIndex
from search.config import Settings
from search.engine import Engine
from search.index.updater import update_index
from search.ranking.query import Mode, Query
from search.records import Filters


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    encoder = FakeEncoder()
    root = tmp_path_factory.mktemp("names")
    update_index(SEEDS, root / "idx", Settings(model="fake"), lambda: encoder)
    engine = Engine(root / "idx", encoder_factory=lambda model: encoder).open()
    yield engine
    engine.close()


def english_hits(engine: Engine, text: str) -> list[str]:
    page = engine.search(Query(text, mode=Mode.KEYWORD, size=50,
                               filters=Filters(languages=("en",))))
    return [hit.text for hit in page.hits]


@pytest.mark.parametrize(("query", "name"), [
    ("Zelensky", "Zelensky"),  # the English spelling itself
    ("Zelenskyy", "Zelensky"),  # another English spelling: one edit
    ("Selenskyj", "Zelensky"),  # German: the same after folding z/s and y/j
    ("Zelenski", "Zelensky"),  # Spanish
    ("Зеленский", "Zelensky"),  # Russian
    ("Зеленского", "Zelensky"),  # Russian genitive: stemmed, then transliterated
    ("Ζελένσκι", "Zelensky"),  # Greek
    ("زيلينسكي", "Zelensky"),  # Arabic, vowels unwritten: by consonant skeleton
    ("Умеров", "Umerov"),
    ("Умерова", "Umerov"),
    ("Umjerow", "Umerov"),  # German
    ("Oumerov", "Umerov"),  # French
    ("عمروف", "Umerov"),
    ("Песков", "Peskov"),
    ("بيسكوف", "Peskov"),
])
def test_a_name_in_another_script_or_spelling_finds_the_english_paragraphs(
        engine: Engine, query: str, name: str) -> None:
    """The English paragraphs the name itself finds (those naming it, then the others of the
    article whose title names it), in the same order."""
    hits = english_hits(engine, query)
    expected = english_hits(engine, name)
    naming = [text for text in expected if name in text]
    assert naming and hits == expected
    assert hits[: len(naming)] == naming


def test_an_unrelated_name_finds_nothing_in_english(engine: Engine) -> None:
    assert english_hits(engine, "Шольц") == []  # Scholz: not in the article


@pytest.fixture()
def index(tmp_path: Path) -> Iterator[KeywordIndex]:
    keyword_index = KeywordIndex.create(tmp_path)
    yield keyword_index
    keyword_index.close()


def ranked(index: KeywordIndex, text: str) -> list[int]:
    return [hit.pid for hit in index.search(text, 100)]


def test_exact_matches_rank_above_spelling_variants_and_transliterations(
        index: KeywordIndex) -> None:
    index.add([
        KeywordDoc(1, "en", "", "Zelensky spoke to reporters in the capital."),
        KeywordDoc(2, "en", "", "Zelenskyy spoke to reporters in the capital."),
        KeywordDoc(3, "ru", "", "Зеленский говорил с журналистами в столице."),
        KeywordDoc(4, "en", "", "Reporters waited in the capital all day."),
    ])
    index.commit()
    # A spelling the field holds is matched exactly there, and not expanded there.
    assert ranked(index, "Zelenskyy") == [2, 3]
    assert ranked(index, "Zelensky") == [1, 3]
    # One the field lacks reaches both English spellings, below the exact match.
    assert ranked(index, "Зеленский") == [3, 1, 2]
    assert ranked(index, "Selenskyj")[2:] == [3]


def test_a_common_word_one_edit_from_another_does_not_flood(index: KeywordIndex) -> None:
    horses = [KeywordDoc(n, "en", "", f"A horse grazed in field {n} near the road.")
              for n in range(1, 31)]
    houses = [KeywordDoc(n, "en", "", f"A house stood in street {n} near the road.")
              for n in range(31, 61)]
    index.add(horses + houses)
    index.commit()
    # horse and house are one edit apart and both common: each finds only itself...
    assert sorted(ranked(index, "horse")) == list(range(1, 31))
    assert sorted(ranked(index, "house")) == list(range(31, 61))
    # ...while a misspelling, in no document, finds the word it misspells.
    assert sorted(ranked(index, "hosre")) == list(range(1, 31))
    assert sorted(ranked(index, "huose")) == list(range(31, 61))


def test_short_words_and_numbers_tolerate_no_typo(index: KeywordIndex) -> None:
    index.add([KeywordDoc(1, "en", "", "The cat sat on mat 1898 and 20250722.")])
    index.commit()
    assert ranked(index, "cot") == []
    assert ranked(index, "1899") == []
    assert ranked(index, "20250723") == []
