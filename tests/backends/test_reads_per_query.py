"""One read per stage: a query asks the reader for what its candidates need in a few batched
calls, whatever the number of candidates (on Qdrant each call is a round trip)."""

from __future__ import annotations

import json

import pytest
from helpers import FakeEncoder, write
from memory_backend.counting import CountingBackend

from search.backends import open_backend
from search.config import Settings
from search.engine import Engine
from search.index.updater import update_index
from search.ranking.language_bias import MIN_PARAGRAPHS
from search.ranking.query import Mode, Query

SETTINGS = Settings(model="fake", result_cache=0)
WORDS = {
    "en": "harbour talks prisoners exchange storm wheat harvest ferry strike wages".split(),
    "de": "hafen gespräche gefangene austausch sturm weizen ernte fähre streik löhne".split(),
    "ru": "порт переговоры пленные обмен шторм пшеница урожай паром забастовка зарплата".split(),
}
MOST_READS = 6  # keyword and vector candidates, the feedback search and its passage's
# vector, the candidates' facts, the page's texts


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """Three languages with enough paragraphs each for the language-bias correction and
    the feedback search (a third language), on the memory backend."""
    root = tmp_path_factory.mktemp("reads")
    rows = [{"id": f"{lang}{n}", "lang": lang, "title": f"{words[n % 10]} {n}",
             "date": f"2025-07-{1 + n % 28:02d}", "source": f"wire{n % 3}",
             "text": f"{words[n % 10]} {words[n * 3 % 10]} {words[n * 7 % 10]} {n} Istanbul."}
            for lang, words in WORDS.items() for n in range(MIN_PARAGRAPHS + 10)]
    write(root / "seeds" / "feed.jsonl", "\n".join(json.dumps(r, ensure_ascii=False)
                                                  for r in rows))
    encoder = FakeEncoder()
    update_index(root / "seeds", root / "idx", SETTINGS, lambda: encoder, backend="memory")
    counting = CountingBackend(open_backend(root / "idx", SETTINGS))
    engine = Engine(root / "idx", SETTINGS, encoder_factory=lambda model: encoder,
                    backend=counting).open()
    yield engine, counting
    engine.close()


@pytest.mark.parametrize(("query", "most"), [
    (Query("harbour talks Istanbul", lang="en"), MOST_READS),
    (Query("harbour talks Istanbul", lang="en", collapse="translations", sort="date"),
     MOST_READS),
    (Query("harbour talks Istanbul", lang="en", size=50, page=2), MOST_READS),
    # candidates, their columns (what counting needs), the page's facts, its texts
    (Query("harbour talks", mode=Mode.KEYWORD), 4),
    # candidates, their columns, the members of the groups of those in other languages and
    # the members' languages (they are judged by their translations), the page's facts, texts
    (Query("harbour talks", mode=Mode.SEMANTIC), 6),
])
def test_a_query_reads_once_per_stage(engine, query, most):
    engine, counting = engine
    counting.calls.clear()
    page = engine.search(query)
    assert page.hits and page.listed > 20  # many candidates, few reads
    assert sum(counting.calls.values()) <= most, dict(counting.calls)
    assert counting.calls["facts"] == 1, dict(counting.calls)


def test_the_feedback_search_runs_here(engine):
    """The hybrid count above includes the feedback search (a third language is indexed)."""
    engine, counting = engine
    counting.calls.clear()
    engine.search(Query("harbour talks Istanbul", lang="en"))
    assert counting.calls["vector_candidates"] == 2 and counting.calls["vector"] == 1
