from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest
from whoosh.collectors import Collector, FilterCollector, TopCollector
from whoosh.query import Or, Term

from search.backends.local.bm25 import top_documents
from search.backends.local.keyword import TIE_MARGIN, KeywordDoc, KeywordIndex
from search.backends.local.keyword_view import clean, query_terms
from search.records import Candidate

WORDS = {
    "en": """harbour storm currency exchange river mountain village castle railway bridge
        museum library painting orchestra festival election parliament treaty battle empire
        island volcano glacier desert forest wheat cotton copper silver engine""".split(),
    "de": """Hafen Sturm Währung Fluss Gebirge Dorf Schloss Eisenbahn Brücke Museum Bibliothek
        Gemälde Orchester Wahl Parlament Vertrag Schlacht Kaiserreich Insel Vulkan""".split(),
    "ru": """гавань буря валюта река гора деревня замок железная дорога мост музей библиотека
        картина оркестр выборы парламент договор битва империя остров вулкан""".split(),
    "zh": """北京 大学 上海 交通 河流 山脉 村庄 城堡 铁路 桥梁 博物馆 图书馆 绘画 音乐节 选举
        议会 条约 战争 帝国 岛屿 火山""".split(),
}
NAMES = ["Hamburg", "1898", "Tesla", "Amazonas"]  # shared by every language, as in real text


def _text(rng: random.Random, lang: str, size: int) -> str:
    words = WORDS[lang]
    # Zipf-like choice, so that document frequencies and term weights vary widely.
    picked = [words[min(int(rng.paretovariate(1.1)) - 1, len(words) - 1)] for _ in range(size)]
    picked += rng.sample(NAMES, rng.randint(0, 2))
    rng.shuffle(picked)
    return ("" if lang == "zh" else " ").join(picked)


def _docs(rng: random.Random, first_pid: int, count: int) -> list[KeywordDoc]:
    docs = []
    for pid in range(first_pid, first_pid + count):
        lang = rng.choice(list(WORDS))
        title = _text(rng, lang, rng.randint(1, 3)) if rng.random() < 0.6 else ""
        text = _text(rng, lang, rng.randint(3, 120))
        docs.append(KeywordDoc(pid, lang, title, text))
    return docs


def whoosh_search(
    index: KeywordIndex, text: str, limit: int, allowed: set[int] | None = None
) -> list[Candidate]:
    """The same query scored and collected by Whoosh itself, a posting at a time."""
    view = index._view
    terms = query_terms(view, clean(text))
    if not terms:
        return []
    query = Or(terms)
    query.matcher_type = Or.ARRAY_MATCHER
    collector: Collector = TopCollector(limit + TIE_MARGIN, usequality=False, replace=0)
    if allowed is not None:
        restriction = Or([Term("pid", str(pid)) for pid in sorted(allowed)])
        collector = FilterCollector(collector, restriction)
    view.searcher.search_with_collector(query, collector)
    results = collector.results()
    hits = [
        Candidate(int(results.fields(i)["pid"]), float(results.score(i)))
        for i in range(results.scored_length())
    ]
    hits.sort(key=lambda hit: (-hit.score, hit.pid))
    return hits[:limit]


def _queries(rng: random.Random) -> list[str]:
    queries = []
    for lang, words in WORDS.items():
        for _ in range(6):
            picked = rng.sample(words, rng.randint(1, 6)) + rng.sample(NAMES, rng.randint(0, 1))
            queries.append(("" if lang == "zh" else " ").join(picked))
    queries.append("Hamburg harbour Hafen гавань 北京大学 railway 1898")
    return queries


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KeywordIndex, set[int]]]:
    """An index in three commits (two segments of documents, then deletions from both)."""
    rng = random.Random(11)
    index = KeywordIndex.create(tmp_path_factory.mktemp("bm25"))
    index.add(_docs(rng, 0, 900))
    index.commit()
    index.add(_docs(rng, 900, 400))
    index.commit()
    removed = set(rng.sample(range(1300), 150))
    index.remove(removed)
    index.commit()
    yield index, removed
    index.close()


def test_the_index_has_what_the_comparison_needs(built: tuple[KeywordIndex, set[int]]) -> None:
    index, _ = built
    searcher = index._view.searcher
    leaves = [leaf.reader() for leaf, _ in searcher.leaf_searchers()]
    assert len(leaves) > 1
    assert any(reader.has_deletions() for reader in leaves)
    assert set(index.languages()) == set(WORDS)


@pytest.mark.parametrize("limit", [5, 60])
def test_search_ranks_and_scores_as_whoosh_does(
    built: tuple[KeywordIndex, set[int]], limit: int
) -> None:
    index, removed = built
    compared = 0
    for text in _queries(random.Random(5)):
        expected = whoosh_search(index, text, limit)
        found = index.search(text, limit)
        assert [hit.pid for hit in found] == [hit.pid for hit in expected], text
        assert [hit.score for hit in found] == pytest.approx(
            [hit.score for hit in expected], rel=1e-5
        )
        assert not removed & {hit.pid for hit in found}
        compared += len(found)
    # Real rankings: full pages with many distinct scores, not a few ties.
    assert compared >= 0.9 * limit * len(_queries(random.Random(5)))
    scores = [hit.score for hit in index.search("Hamburg harbour Hafen гавань", limit)]
    assert len(set(scores)) > limit // 2


@pytest.mark.parametrize(
    "allowed",
    [set(range(0, 1300, 3)), set(range(200, 700)), set(range(1250, 1300)), {10**6}],
    ids=["every third", "a range", "the last ones", "none of them"],
)
def test_restricted_search_ranks_and_scores_as_whoosh_does(
    built: tuple[KeywordIndex, set[int]], allowed: set[int]
) -> None:
    index, _ = built
    as_array = np.array(sorted(allowed), dtype=np.int64)
    for text in _queries(random.Random(6))[::3]:
        expected = whoosh_search(index, text, 30, allowed)
        found = index.search(text, 30, as_array)
        assert [hit.pid for hit in found] == [hit.pid for hit in expected], text
        assert [hit.score for hit in found] == pytest.approx(
            [hit.score for hit in expected], rel=1e-5
        )
        assert {hit.pid for hit in found} <= allowed
    if len(allowed) > 1:
        assert index.search("Hamburg 1898 Tesla", 30, as_array)


def test_removed_paragraphs_are_deleted_documents(built: tuple[KeywordIndex, set[int]]) -> None:
    # Not merged away: the comparisons above go through the deletion mask.
    index, removed = built
    searcher = index._view.searcher
    deleted = [
        int(searcher.stored_fields(doc)["pid"])
        for doc in range(searcher.doc_count_all())
        if searcher.ixreader.is_deleted(doc)
    ]
    assert set(deleted) == removed


@pytest.mark.parametrize(
    ("scores", "candidates", "n", "expected"),
    [
        ([0, 3, 1, 2], [1, 2, 3], 5, [1, 2, 3]),
        ([0, 3, 1, 2], [1, 2, 3], 2, [1, 3]),
        ([0, 3, 1, 2], [2, 3], 1, [3]),
        ([2, 2, 2, 2, 2], [0, 1, 2, 3, 4], 3, [0, 1, 2]),  # ties go to lower numbers
        ([1, 2, 5, 2, 2], [0, 1, 2, 3, 4], 3, [1, 2, 3]),
    ],
)
def test_top_documents(
    scores: list[float], candidates: list[int], n: int, expected: list[int]
) -> None:
    chosen = top_documents(np.array(scores, dtype=float), np.array(candidates), n)
    assert sorted(chosen.tolist()) == expected
