from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from search.backends.local.checksums import CHECKSUMS
from search.backends.local.keyword import KeywordDoc, KeywordIndex
from search.backends.local.keyword_view import within_budget
from search.errors import IndexBusy, IndexCorrupt, IndexMissing

DOCS = [
    KeywordDoc(1, "en", "Currency", "The exchange of currencies opened at dawn."),
    KeywordDoc(2, "en", "Harbour", "Boats left the harbour before the storm."),
    KeywordDoc(3, "de", "Hafen", "Die Häfen von Hamburg waren wegen des Sturms geschlossen."),
    KeywordDoc(4, "zh", "大学", "北京大学是中国著名的大学，成立于1898年。"),
    KeywordDoc(5, "th", "ภาษา", "ภาษาไทยเป็นภาษาราชการของประเทศไทย"),
    KeywordDoc(6, "hi", "भाषा", "हिन्दी भारत की राजभाषा है और किताबें पढ़ी जाती हैं।"),
    KeywordDoc(7, "el", "Αθήνα", "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας."),
    KeywordDoc(8, "en", "Quotes", 'He said "unbalanced budgets" and typed title:foo twice.'),
    KeywordDoc(9, "xx", "Klingon", "Qapla batlh tlhIngan Hol"),
]


@pytest.fixture()
def index(tmp_path: Path) -> Iterator[KeywordIndex]:
    keyword_index = KeywordIndex.create(tmp_path)
    keyword_index.add(DOCS)
    keyword_index.commit()
    yield keyword_index
    keyword_index.close()


def pids(index: KeywordIndex, text: str, lang: str | None = None,
         allowed: list[int] | None = None) -> list[int]:
    """The pids found for `text` (`lang` only says what language the query is written in:
    the keyword side searches every language's fields)."""
    found = index.search(text, 10, None if allowed is None else np.array(allowed))
    return [hit.pid for hit in found]


def test_count_and_languages(index: KeywordIndex) -> None:
    assert index.count() == len(DOCS)
    assert index.languages() == ["de", "el", "en", "hi", "th", "xx", "zh"]


def test_stemming_finds_other_word_forms(index: KeywordIndex) -> None:
    assert pids(index, "exchanges", "en") == [1]
    assert pids(index, "currency", "en") == [1]
    # Doc 2 follows through typo tolerance (Sturm, one edit from storm).
    assert pids(index, "Hafen Sturm", "de")[0] == 3


def test_chinese_bigrams_match_inside_running_text(index: KeywordIndex) -> None:
    assert pids(index, "北京大学在哪里？", "zh") == [4]
    assert pids(index, "1898", None) == [4]


def test_thai_hindi_and_greek_words(index: KeywordIndex) -> None:
    assert pids(index, "ภาษาราชการ", "th") == [5]
    assert pids(index, "राजभाषा क्या है", "hi") == [6]
    assert pids(index, "ΑΘΗΝΑ πρωτεύουσα", "el") == [7]


def test_unknown_language_is_searchable(index: KeywordIndex) -> None:
    assert pids(index, "tlhingan", None) == [9]


def test_query_words_match_in_other_languages_fields(index: KeywordIndex) -> None:
    # A name in an English query finds the German paragraph that mentions it.
    assert pids(index, "Hamburg", "en") == [3]
    assert set(pids(index, "Hamburg harbour", "en")) == {2, 3}


def test_scores_are_best_first(index: KeywordIndex) -> None:
    hits = index.search("harbour storm boats", 10)
    assert hits[0].pid == 2
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.score > 0 for h in hits)


@pytest.mark.parametrize(
    "text",
    ["???", "*:*", "*", "AND OR NOT", ":", "((", "", "   ", "\x00\x01\x02", "\ud800", "😀🎉"],
)
def test_queries_without_searchable_words_return_nothing(index: KeywordIndex, text: str) -> None:
    assert index.search(text, 10) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"unbalanced', [8]),
        ("title:foo", [8]),
        ("foo AND NOT budgets", [8]),
        ("exchange?", [1]),
        ("exch*", []),
        ("exchange\x00", [1]),
        ("\ud800exchange\udfff", [1]),
        ("😀exchange😀", [1]),
        ("exchange\u200b", [1]),
    ],
)
def test_query_syntax_is_just_text(index: KeywordIndex, text: str, expected: list[int]) -> None:
    assert pids(index, text, "en") == expected


def test_very_long_query(index: KeywordIndex) -> None:
    text = ("storm " + "zebra " * 2000)[:10_000]
    assert len(text) == 10_000
    assert pids(index, text, "en")[0] == 2  # then doc 3, where storm is one edit from Sturm
    assert pids(index, "x" * 10_000, "en") == []


def test_limit(index: KeywordIndex) -> None:
    assert len(index.search("the storm harbour Hamburg exchange", 1)) == 1
    assert index.search("storm", 0) == []


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        ([3], [3]),
        ([2, 3], [2, 3]),
        ([1, 3, 4], [3]),  # 1 and 4 do not match the words
        ([999], []),
        ([], []),
    ],
)
def test_only_allowed_paragraphs(index: KeywordIndex, allowed: list[int],
                                 expected: list[int]) -> None:
    """Filters come as the pids that pass them (the reader computes them once per query)."""
    found = index.search("harbour Hamburg storm Sturm", 10, np.array(allowed, dtype=np.int64))
    assert sorted(hit.pid for hit in found) == expected


def test_allowed_pids_follow_removals(index: KeywordIndex) -> None:
    assert pids(index, "harbour", allowed=[2, 3]) == [2]
    index.remove([2])
    index.commit()
    assert pids(index, "harbour", allowed=[2, 3]) == []


def test_adds_are_invisible_until_commit(index: KeywordIndex) -> None:
    index.add([KeywordDoc(20, "en", "", "A zeppelin over the harbour")])
    assert pids(index, "zeppelin") == []
    index.commit()
    assert pids(index, "zeppelin") == [20]
    assert index.count() == len(DOCS) + 1


def test_remove(index: KeywordIndex) -> None:
    index.remove([1, 4, 999])
    assert pids(index, "exchange") == [1]  # not committed yet
    index.commit()
    assert pids(index, "exchange") == []
    assert pids(index, "北京大学") == []
    assert index.count() == len(DOCS) - 2


def test_commit_then_reopen(tmp_path: Path, index: KeywordIndex) -> None:
    before = index.search("harbour Hamburg storm", 10)
    index.close()
    reopened = KeywordIndex.open(tmp_path)
    try:
        assert reopened.search("harbour Hamburg storm", 10) == before
        assert reopened.count() == len(DOCS)
        reopened.add([KeywordDoc(30, "zh", "", "上海交通大学")])
        reopened.commit()
        assert pids(reopened, "交通大学") == [30, 4]  # 4 shares the bigram 大学
    finally:
        reopened.close()


def test_many_commits_and_removes_stay_consistent(tmp_path: Path) -> None:
    with KeywordIndex.create(tmp_path) as keyword_index:
        for batch in range(8):
            keyword_index.add(
                KeywordDoc(batch * 10 + i, "en", "", f"common word{batch} item{i}")
                for i in range(10)
            )
            keyword_index.commit()
            keyword_index.remove([batch * 10])
            keyword_index.commit()
        assert keyword_index.count() == 72
        assert len(keyword_index.search("common", 100)) == 72
        assert pids(keyword_index, "word3") == [31, 32, 33, 34, 35, 36, 37, 38, 39]


def test_ties_are_broken_by_pid(tmp_path: Path) -> None:
    with KeywordIndex.create(tmp_path) as keyword_index:
        keyword_index.add(
            KeywordDoc(pid, "en", "", "identical paragraph text")
            for pid in (7, 3, 9, 1, 5)
        )
        keyword_index.commit()
        assert pids(keyword_index, "identical") == [1, 3, 5, 7, 9]
        assert [h.pid for h in keyword_index.search("identical", 2)] == [1, 3]


def test_per_language_statistics(tmp_path: Path) -> None:
    # "berlin" is in every German paragraph but rare overall; with per-language IDF it counts
    # for little in German, so the rarer "mauer" decides.
    docs = [
        KeywordDoc(i, "en", "", f"english filler text number {i}")
        for i in range(40)
    ]
    docs += [
        KeywordDoc(100, "de", "", "Berlin Berlin Berlin liegt an der Spree"),
        KeywordDoc(101, "de", "", "Berlin und die Mauer"),
        KeywordDoc(102, "de", "", "Berlin ist groß"),
    ]
    with KeywordIndex.create(tmp_path) as keyword_index:
        keyword_index.add(docs)
        keyword_index.commit()
        assert pids(keyword_index, "Berlin Mauer", "de")[0] == 101


@pytest.mark.parametrize(
    ("dfs", "budget", "expected"),
    [
        ({}, 10, []),
        ({"a": 1}, 0, ["a"]),
        ({"a": 5, "b": 1, "c": 3}, 100, ["b", "c", "a"]),
        ({"a": 5, "b": 1, "c": 3}, 4, ["b", "c"]),
        ({"a": 5, "b": 1, "c": 3}, 1, ["b", "c"]),
        ({"a": 5, "b": 1, "c": 3, "d": 1}, 3, ["b", "d"]),
        ({"a": 2, "b": 2, "c": 2}, 4, ["a", "b"]),
    ],
)
def testwithin_budget(dfs: dict[str, int], budget: float, expected: list[str]) -> None:
    assert within_budget(dfs, budget) == expected


def test_concurrent_searches_agree_with_serial_ones(index: KeywordIndex) -> None:
    queries = ["harbour storm", "exchange", "北京大学", "Hafen", "ภาษาไทย", "राजभाषा", "Αθήνα"]
    expected = {q: pids(index, q) for q in queries}
    failures: list[str] = []

    def worker() -> None:
        for _ in range(20):
            for q in queries:
                if pids(index, q) != expected[q]:
                    failures.append(q)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    index.add([KeywordDoc(40, "en", "", "a committed zeppelin")])
    index.commit()
    for thread in threads:
        thread.join()
    assert failures == []
    assert pids(index, "zeppelin") == [40]


# Damage and errors ------------------------------------------------------------------------


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garble":
        middle = len(data) // 3
        path.write_bytes(data[:middle] + bytes(b ^ 0x5A for b in data[middle:]))
    else:
        path.unlink()


@pytest.mark.parametrize("how", ["truncate", "empty", "garble", "delete"])
@pytest.mark.parametrize("kind", [".toc", ".seg"])
def test_damaged_index_raises_index_corrupt(
    tmp_path: Path, index: KeywordIndex, kind: str, how: str
) -> None:
    index.add([KeywordDoc(50, "en", "", "a second segment")])
    index.commit()
    index.close()
    victims = sorted(p for p in tmp_path.iterdir() if p.name.endswith(kind))
    assert victims
    _damage(victims[-1], how)
    with pytest.raises(IndexCorrupt) as caught:
        KeywordIndex.open(tmp_path)
    assert str(tmp_path) in str(caught.value)
    assert "search index --rebuild" in str(caught.value)


def test_garbage_folder_raises_index_corrupt(tmp_path: Path) -> None:
    (tmp_path / "_MAIN_1.toc").write_bytes(b"\x00not a whoosh index")
    with pytest.raises(IndexCorrupt):
        KeywordIndex.open(tmp_path)


def test_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing):
        KeywordIndex.open(tmp_path / "nowhere")
    with pytest.raises(IndexMissing):
        KeywordIndex.open(tmp_path)


def test_create_refuses_an_existing_index(tmp_path: Path, index: KeywordIndex) -> None:
    with pytest.raises(FileExistsError):
        KeywordIndex.create(tmp_path)


def test_second_writer_is_busy(tmp_path: Path, index: KeywordIndex) -> None:
    index.add([KeywordDoc(60, "en", "", "first writer")])
    other = KeywordIndex.open(tmp_path)
    try:
        with pytest.raises(IndexBusy):
            other.add([KeywordDoc(61, "en", "", "second writer")])
        assert pids(other, "writer") == []
    finally:
        other.close()


def test_failed_add_aborts_the_writer(tmp_path: Path, index: KeywordIndex) -> None:
    def docs() -> Iterator[KeywordDoc]:
        yield KeywordDoc(70, "en", "", "half written parcel")
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError):
        index.add(docs())
    index.commit()  # nothing pending: the failed batch was dropped
    assert pids(index, "parcel") == []
    # The write lock was released: another index object can write now.
    other = KeywordIndex.open(tmp_path)
    try:
        other.add([KeywordDoc(71, "en", "", "next parcel")])
        other.commit()
        assert pids(other, "parcel") == [71]
    finally:
        other.close()


def test_close_drops_uncommitted_changes(tmp_path: Path, index: KeywordIndex) -> None:
    index.add([KeywordDoc(80, "en", "", "never committed")])
    index.close()
    with KeywordIndex.open(tmp_path) as reopened:
        assert pids(reopened, "committed") == []
        assert reopened.count() == len(DOCS)


def test_texts_with_surrogates_are_stored(tmp_path: Path) -> None:
    with KeywordIndex.create(tmp_path) as keyword_index:
        keyword_index.add([KeywordDoc(1, "en", "t\udfff", "odd ids \ud800")])
        keyword_index.commit()
        assert pids(keyword_index, "odd", allowed=[1]) == [1]


def test_any_flipped_bit_is_caught_before_whoosh_reads_it(
    tmp_path: Path, index: KeywordIndex
) -> None:
    # A garbled pickle in a TOC can make C pickle allocate gigabytes, and a flipped bit in a
    # pickled stop list loads silently: the checksums catch both before anything is unpickled.
    index.close()
    files = sorted(p for p in tmp_path.iterdir() if p.stat().st_size)
    rng = random.Random(7)
    for trial in range(24):
        victim = files[trial % len(files)]
        original = victim.read_bytes()
        flipped = bytearray(original)
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        victim.write_bytes(bytes(flipped))
        with pytest.raises(IndexCorrupt):
            KeywordIndex.open(tmp_path)
        victim.write_bytes(original)
    KeywordIndex.open(tmp_path).close()


def test_missing_checksums_or_unrecorded_commit_is_corrupt(
    tmp_path: Path, index: KeywordIndex
) -> None:
    index.close()
    toc = max(tmp_path.glob("*.toc"))
    newer = tmp_path / toc.name.replace("_1.toc", "_9.toc")
    newer.write_bytes(toc.read_bytes())
    with pytest.raises(IndexCorrupt, match="not in checksums.json"):
        KeywordIndex.open(tmp_path)
    newer.unlink()
    (tmp_path / CHECKSUMS).unlink()
    with pytest.raises(IndexCorrupt, match="checksums.json is missing"):
        KeywordIndex.open(tmp_path)


def test_hard_linked_copy_commits_without_touching_the_original(
    tmp_path: Path, index: KeywordIndex
) -> None:
    # The store shares a generation's files with the next one by hard link.
    index.close()
    copy = tmp_path / "next"
    copy.mkdir()
    for path in tmp_path.iterdir():
        if path.is_file() and not path.name.endswith("WRITELOCK"):
            os.link(path, copy / path.name)
    with KeywordIndex.open(copy) as following:
        following.add([KeywordDoc(90, "en", "", "only in the next generation")])
        following.remove([1])
        following.commit()
    with KeywordIndex.open(tmp_path) as original, KeywordIndex.open(copy) as following:
        assert original.count() == len(DOCS)
        assert pids(original, "exchange generation") == [1]
        assert pids(following, "exchange generation") == [90]
