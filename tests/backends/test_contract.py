"""The backend contract: what the engine and the updater rely on, held against every backend.

Each test builds its index from the tiny corpus below (English, German and Russian articles,
16-d unit vectors derived from each paragraph's text) through the `Backend` protocol alone,
and compares answers with references computed here, `Filters.admits` among them.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pytest

from search.backends import create_backend
from search.backends.base import Backend, GenerationReader
from search.config import Settings
from search.errors import IndexBusy, IndexMissing
from search.records import (
    Candidate,
    Catalog,
    FileEntry,
    Filters,
    NewArticle,
    NewParagraph,
    ParagraphColumns,
    ParagraphRecord,
)

DIM = 16
MARK = "qx42"  # in every paragraph, so that a keyword query can match the whole corpus
EVERYTHING = 1000  # a limit larger than any corpus here
FIRST_PID = 1  # as the updater numbers them (the local backend's check counts 0 as invalid)


@dataclass(frozen=True)
class Spec:
    """An article to write: its paragraphs as (text, language) pairs."""

    key: str
    title: str
    lang: str | None
    date: str | None
    source: str | None
    paragraphs: tuple[tuple[str, str], ...]


CORPUS: dict[str, list[Spec]] = {
    "en.jsonl": [
        Spec("volcano", "Island disaster", "en", "2025-07-22", "Wire", (
            (f"The volcano erupted at dawn and ash covered the harbour {MARK}.", "en"),
            (f"Flights were cancelled across the region for two days {MARK}.", "en"))),
        Spec("lighthouse", "Lighthouse keepers", None, "2025-06-01", "Daily", (
            (f"The keepers repaired the old lamp before the winter storms {MARK}.", "en"),)),
        Spec("twin1", "Market note", "en", None, None, (
            (f"Copper prices rose sharply on Monday {MARK}.", "en"),)),
    ],
    "de.txt": [
        Spec("weather", "Wetterbericht", "de", "2025-07-23", "Wire", (
            (f"Am Wochenende wird in Berlin starker Regen mit Gewitter erwartet {MARK}.", "de"),
            (f"Die Feuerwehr warnt vor Hochwasser an der Elbe {MARK}.", "de"))),
        Spec("mixed", "Konferenz", None, "2024-12-31", "Daily", (
            (f"Die Konferenz zum Klimaschutz begann gestern mit langen Reden {MARK}.", "de"),
            (f"Climate talks opened {MARK}.", "en"))),
    ],
    "ru.md": [
        Spec("talks", "Переговоры", "ru", "2025-07-22", "Wire", (
            (f"Переговоры в Стамбуле будут посвящены обмену пленными {MARK}.", "ru"),)),
        Spec("twin2", "Market note", "en", "2025-01-15", None, (
            (f"Copper prices rose sharply on Monday {MARK}.", "en"),)),
        Spec("stated", "Погода", "uk", None, "Wire", (
            (f"Завтра в Москве ожидается снег и сильный ветер {MARK}.", "ru"),)),
    ],
}


def vector_of(text: str) -> np.ndarray:
    """A unit vector determined by the text: paragraphs with the same text get the same."""
    rng = np.random.default_rng(zlib.crc32(text.encode("utf-8")))
    vector = rng.standard_normal(DIM)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def make_articles(path: str, specs: Sequence[Spec], first_pid: int) -> list[NewArticle]:
    articles, pid = [], first_pid
    for spec in specs:
        paragraphs, start = [], 0
        for position, (text, lang) in enumerate(spec.paragraphs):
            paragraphs.append(NewParagraph(pid, position, start, start + len(text), text, lang))
            pid, start = pid + 1, start + len(text) + 2
        articles.append(NewArticle(f"{path}#{spec.key}", path, spec.title, spec.date, None,
                                   spec.source, None, spec.lang, tuple(paragraphs)))
    return articles


def file_entry(articles: Sequence[NewArticle], first_pid: int) -> FileEntry:
    paragraphs = [p for a in articles for p in a.paragraphs]
    digest = hashlib.sha256("".join(p.text for p in paragraphs).encode()).hexdigest()
    return FileEntry(digest, tuple(a.id for a in articles), len(paragraphs),
                     dict(Counter(p.lang for p in paragraphs)), first_pid)


def commit(backend: Backend, previous: Catalog | None, add: dict[str, list[Spec]],
           remove: Sequence[str] = (),
           vector: Callable[[NewParagraph], np.ndarray] | None = None,
           groups: Mapping[int, int] | None = None) -> Catalog:
    """Publish the next generation: `previous` without the files `remove`, with `add`;
    `vector` gives each paragraph's vector (by default derived from its text); `groups`
    sets translation groups (pid -> group id) before publishing."""
    vector = vector or (lambda paragraph: vector_of(paragraph.text))
    dim = previous.dim if previous else DIM
    with backend.writer_lock():
        writer = backend.begin(previous)
        try:
            files = dict(previous.files) if previous else {}
            next_pid = previous.next_pid if previous else FIRST_PID
            for path in remove:
                writer.remove(list(files.pop(path).pids))
            for path, specs in add.items():
                articles = make_articles(path, specs, next_pid)
                files[path] = file_entry(articles, next_pid)
                next_pid += files[path].paragraphs
                # Articles backwards, and vectors in yet another order (paragraphs backwards):
                # neither the order of storage nor that of `add` may stand in for the pids.
                writer.add(articles[::-1])
                paragraphs = [p for a in articles for p in a.paragraphs][::-1]
                vectors = np.stack([vector(p) for p in paragraphs])
                writer.add_vectors(np.array([p.pid for p in paragraphs], dtype=np.int64),
                                   vectors)
                dim = vectors.shape[1]
            catalog = Catalog(writer.number, "fake", dim, Settings(model="fake"), next_pid,
                              "2025-08-01T00:00:00+00:00", files)
            if groups:
                writer.set_groups(list(groups), list(groups.values()))
            writer.publish(catalog)
        finally:
            writer.close()
    return catalog


def corpus_articles() -> dict[str, NewArticle]:
    """The corpus as `commit` writes it into an empty index: pids consecutive per file."""
    articles: dict[str, NewArticle] = {}
    for path, specs in CORPUS.items():
        first_pid = FIRST_PID + sum(len(a.paragraphs) for a in articles.values())
        articles.update((a.id, a) for a in make_articles(path, specs, first_pid))
    return articles


ARTICLES = corpus_articles()
PARAGRAPHS = {p.pid: (a, p) for a in ARTICLES.values() for p in a.paragraphs}
PROBE = vector_of("a query vector")


def admitted(filters: Filters) -> set[int]:
    return {pid for pid, (a, p) in PARAGRAPHS.items()
            if filters.admits(p.lang, a.id, a.source, a.date)}


def pid_of(word: str) -> int:
    [pid] = [pid for pid, (_, p) in PARAGRAPHS.items() if word in p.text]
    return pid


def assert_ranked(candidates: list[Candidate]) -> None:
    """Best first, ties by pid, no pid twice."""
    assert candidates == sorted(candidates, key=lambda c: (-c.score, c.pid))
    assert len({c.pid for c in candidates}) == len(candidates)


def pids(candidates: list[Candidate]) -> list[int]:
    return [c.pid for c in candidates]


def everything(reader: GenerationReader) -> set[int]:
    """The paragraphs both sides can find, after checking that they agree."""
    keyword = pids(reader.keyword_candidates(MARK, "en", EVERYTHING, Filters()))
    vector = pids(reader.vector_candidates(PROBE, EVERYTHING, Filters()))
    assert set(keyword) == set(vector)
    return set(keyword)


@pytest.fixture(scope="module")
def corpus(backend_name: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[GenerationReader]:
    """The corpus published once per backend, open for reading (tests only read it)."""
    backend = create_backend(backend_name, tmp_path_factory.mktemp(backend_name) / "idx")
    catalog = commit(backend, None, CORPUS)
    reader = backend.open(catalog.name)
    yield reader
    reader.close()


# -- keyword candidates ---------------------------------------------------------------------

@pytest.mark.parametrize(("word", "lang"), [
    ("volcano", "en"), ("Gewitter", "de"), ("Elbe", "de"), ("пленными", "ru"), ("Москве", "ru")])
def test_a_distinctive_word_finds_its_paragraph_first(corpus, word, lang):
    found = corpus.keyword_candidates(word, lang, 10, Filters())
    assert found and found[0].pid == pid_of(word)
    assert_ranked(found)


def test_title_words_match_the_articles_paragraphs(corpus):
    found = pids(corpus.keyword_candidates("disaster", "en", 10, Filters()))
    volcano = ARTICLES["en.jsonl#volcano"]
    assert found and set(found) <= {p.pid for p in volcano.paragraphs}


def test_equal_scores_are_ordered_by_pid(corpus):
    found = corpus.keyword_candidates("copper", "en", 10, Filters())
    twins = sorted(pid for pid, (_, p) in PARAGRAPHS.items() if "Copper" in p.text)
    assert pids(found) == twins
    assert found[0].score == pytest.approx(found[1].score)


def test_keyword_scores_descend(corpus):
    found = corpus.keyword_candidates("volcano copper Gewitter Переговоры qx42", "en",
                                      EVERYTHING, Filters())
    assert len(found) == len(PARAGRAPHS)
    assert_ranked(found)
    assert found[0].score > found[-1].score > 0


@pytest.mark.parametrize("text", ["xylophone", "", "   ", "*", "?", ":", "volc*"])
def test_no_match_gives_nothing(corpus, text):
    assert corpus.keyword_candidates(text, "en", 10, Filters()) == []


def test_keyword_limit(corpus):
    full = corpus.keyword_candidates(MARK, "en", EVERYTHING, Filters())
    assert len(full) == len(PARAGRAPHS)
    for limit in (1, 3):
        assert pids(corpus.keyword_candidates(MARK, "en", limit, Filters())) == pids(full)[:limit]
    assert corpus.keyword_candidates(MARK, "en", 0, Filters()) == []
    assert corpus.keyword_candidates(MARK, "en", -1, Filters()) == []


@pytest.mark.parametrize("text", [
    "volcano?", "volcano*", "title:volcano", "volcano AND", "AND volcano", "NOT volcano",
    "(volcano", '"volcano', "volcano~2", "volcano^3", "-volcano", "[volcano TO z]", "{volcano}",
    "volcano\\", "AND", "OR NOT", "a:b:c", "\ud800volcano"])
def test_query_syntax_is_plain_text(corpus, text):
    found = corpus.keyword_candidates(text, "en", 10, Filters())
    assert_ranked(found)
    assert pids(found)[:1] == ([pid_of("volcano")] if "volcano" in text else [])


def test_words_are_alternatives_not_a_boolean_query(corpus):
    found = set(pids(corpus.keyword_candidates("volcano AND lighthouse", "en", 10, Filters())))
    assert {pid_of("volcano"), pid_of("keepers")} <= found


# -- vector candidates ----------------------------------------------------------------------

def cosine_ranking(query: np.ndarray) -> list[tuple[int, float]]:
    scores = {pid: float(np.dot(vector_of(p.text), query)) for pid, (_, p) in PARAGRAPHS.items()}
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def test_vector_candidates_are_exact_cosine_ranks(corpus):
    noisy = vector_of(PARAGRAPHS[pid_of("Elbe")][1].text) + 0.3 * PROBE
    query = (noisy / np.linalg.norm(noisy)).astype(np.float32)
    found = corpus.vector_candidates(query, EVERYTHING, Filters())
    reference = cosine_ranking(query)
    assert pids(found) == [pid for pid, _ in reference]
    assert [c.score for c in found] == pytest.approx([s for _, s in reference], abs=1e-5)
    assert found[0].pid == pid_of("Elbe")


def test_equal_vectors_are_ordered_by_pid(corpus):
    twins = sorted(pid for pid, (_, p) in PARAGRAPHS.items() if "Copper" in p.text)
    found = corpus.vector_candidates(corpus.vector(twins[1]), 3, Filters())
    assert pids(found)[:2] == twins
    assert found[0].score == found[1].score == pytest.approx(1.0, abs=1e-5)
    assert_ranked(found)


def test_vector_limit(corpus):
    full = corpus.vector_candidates(PROBE, EVERYTHING, Filters())
    assert len(full) == len(PARAGRAPHS)
    for limit in (1, 4):
        assert pids(corpus.vector_candidates(PROBE, limit, Filters())) == pids(full)[:limit]
    assert corpus.vector_candidates(PROBE, 0, Filters()) == []


# -- filters --------------------------------------------------------------------------------

FILTERS = {
    "none": Filters(),
    "one language": Filters(languages=("de",)),
    "two languages": Filters(languages=("en", "ru")),
    "absent language": Filters(languages=("fr",)),
    "articles": Filters(article_ids=("en.jsonl#volcano", "ru.md#talks")),
    "absent article": Filters(article_ids=("nowhere.txt#1",)),
    "one source": Filters(sources=("Wire",)),
    "two sources": Filters(sources=("Wire", "Daily")),
    "date from": Filters(date_from="2025-07-01"),
    "date to, inclusive": Filters(date_to="2025-06-01"),
    "one day": Filters(date_from="2025-07-22", date_to="2025-07-22"),
    "no day in range": Filters(date_from="2025-07-24", date_to="2025-12-31"),
    "any date": Filters(date_from="0001-01-01", date_to="9999-12-31"),
    "language and date": Filters(languages=("en",), date_from="2025-06-01"),
    "source and articles": Filters(sources=("Daily",),
                                   article_ids=("de.txt#mixed", "en.jsonl#volcano")),
    "everything": Filters(languages=("de", "en"), sources=("Daily", "Wire"),
                          article_ids=("de.txt#mixed", "de.txt#weather", "en.jsonl#volcano"),
                          date_from="2024-12-31", date_to="2025-07-22"),
}


@pytest.mark.parametrize("filters", FILTERS.values(), ids=FILTERS.keys())
def test_filters_admit_exactly_the_reference(corpus, filters):
    keyword = corpus.keyword_candidates(MARK, "en", EVERYTHING, filters)
    vector = corpus.vector_candidates(PROBE, EVERYTHING, filters)
    assert set(pids(keyword)) == admitted(filters)
    assert set(pids(vector)) == admitted(filters)
    assert_ranked(keyword)
    assert_ranked(vector)


def test_an_article_without_a_date_passes_no_date_filter(corpus):
    undated = {pid for pid, (a, _) in PARAGRAPHS.items() if a.date is None}
    assert undated
    for filters in (Filters(date_from="0001-01-01"), Filters(date_to="9999-12-31")):
        keyword = set(pids(corpus.keyword_candidates(MARK, "en", EVERYTHING, filters)))
        vector = set(pids(corpus.vector_candidates(PROBE, EVERYTHING, filters)))
        assert keyword == vector == set(PARAGRAPHS) - undated


# -- records --------------------------------------------------------------------------------

def test_paragraphs_come_in_the_order_asked_with_their_fields(corpus):
    asked = [pid_of("пленными"), pid_of("volcano"), pid_of("Climate"), pid_of("Elbe")]
    expected = [ParagraphRecord(p.pid, a.id, p.position, p.start, p.end, p.text, p.lang)
                for a, p in (PARAGRAPHS[pid] for pid in asked)]
    assert corpus.paragraphs(asked) == expected
    assert corpus.langs(asked) == [record.lang for record in expected]
    assert corpus.article_ids(asked) == [record.article_id for record in expected]
    assert corpus.paragraphs([]) == []


def test_articles_have_their_stated_or_dominant_language(corpus):
    for article in ARTICLES.values():
        assert corpus.article(article.id) == article.record()
    assert corpus.article("en.jsonl#mixed") is None
    assert corpus.article("de.txt#mixed").lang == "de"  # dominant: more German text
    assert corpus.article("ru.md#stated").lang == "uk"  # stated wins over the paragraphs'


def test_articles_come_at_once_in_the_order_asked(corpus):
    ids = [*reversed(ARTICLES), "en.jsonl#mixed", next(iter(ARTICLES))]
    assert corpus.articles(ids) == [corpus.article(article_id) for article_id in ids]
    assert corpus.articles(ids)[-2] is None
    assert corpus.articles([]) == []


def test_vectors_are_stored_as_added(corpus):
    for pid, (_, paragraph) in PARAGRAPHS.items():
        np.testing.assert_allclose(corpus.vector(pid), vector_of(paragraph.text), atol=1e-6)


def test_unknown_pids_raise_key_error(corpus):
    unknown = max(PARAGRAPHS) + 1
    with pytest.raises(KeyError):
        corpus.vector(unknown)
    with pytest.raises(KeyError):
        corpus.paragraphs([pid_of("volcano"), unknown])


def test_the_reader_tells_its_catalog(corpus):
    assert corpus.catalog.paragraphs == len(PARAGRAPHS)
    assert corpus.catalog.files["de.txt"].articles == ("de.txt#weather", "de.txt#mixed")
    assert isinstance(corpus.approximate, bool)


def test_the_catalog_keeps_the_precision_of_the_vectors(backend):
    first = commit(backend, None, A)
    assert backend.catalog(first.name).precision == "fp32"  # the default
    with backend.writer_lock():
        writer = backend.begin(first)
        try:
            catalog = replace(first, generation=writer.number, precision="bf16")
            writer.publish(catalog)
        finally:
            writer.close()
    assert backend.catalog(catalog.name).precision == "bf16"
    reader = backend.open(catalog.name)
    try:
        assert reader.catalog.precision == "bf16"
    finally:
        reader.close()


# -- generations ----------------------------------------------------------------------------

A = {"a.jsonl": [Spec("1", "Volcano", "en", "2025-01-01", "Wire", (
    (f"The volcano erupted {MARK}.", "en"), (f"Ash fell on the town {MARK}.", "en")))]}
B = {"b.jsonl": [Spec("1", "Wetter", "de", "2025-01-02", "Daily", (
    (f"Gewitter über Berlin {MARK}.", "de"),))]}
B2 = {"b.jsonl": [Spec("1", "Wetter", "de", "2025-01-03", "Daily", (
    (f"Hagel über Hamburg {MARK}.", "de"),))]}
C = {"c.jsonl": [Spec("1", "Снег", "ru", None, None, ((f"Снегопад в Москве {MARK}.", "ru"),))]}


def finds(reader: GenerationReader, word: str) -> bool:
    return bool(reader.keyword_candidates(word, "en", 10, Filters()))


def test_current_moves_only_at_publish(backend):
    assert backend.current() is None
    with backend.writer_lock():
        writer = backend.begin(None)
        try:
            [article] = make_articles("a.jsonl", A["a.jsonl"], FIRST_PID)
            writer.add([article])
            writer.add_vectors(np.array([p.pid for p in article.paragraphs]),
                               np.stack([vector_of(p.text) for p in article.paragraphs]))
            assert backend.current() is None
            catalog = Catalog(writer.number, "fake", DIM, Settings(), FIRST_PID + 2,
                              "2025-08-01T00:00:00+00:00",
                              {"a.jsonl": file_entry([article], FIRST_PID)})
            writer.publish(catalog)
            assert backend.current() == catalog.name
        finally:
            writer.close()
    assert backend.catalog(catalog.name) == catalog
    second = commit(backend, catalog, C)
    assert second.generation > catalog.generation
    assert backend.current() == second.name


def test_a_reader_keeps_its_generation(backend, backend_name, tmp_path):
    first = commit(backend, None, A)
    # The engine reaches the folder through a backend object of its own.
    old = create_backend(backend_name, tmp_path / "idx").open(first.name)
    second = commit(backend, first, C)
    new = backend.open(backend.current() or "")
    try:
        assert old.catalog == first and new.catalog == second
        assert not finds(old, "Снегопад") and finds(new, "Снегопад")
        added = list(second.files["c.jsonl"].pids)
        assert everything(old) == set(first.files["a.jsonl"].pids)
        assert everything(new) == set(first.files["a.jsonl"].pids) | set(added)
        assert old.article("c.jsonl#1") is None and new.article("c.jsonl#1") is not None
        with pytest.raises(KeyError):
            old.paragraphs(added)
    finally:
        old.close()
        new.close()


def test_removed_paragraphs_are_gone_from_the_new_generation_only(backend):
    first = commit(backend, None, {**A, **B})
    old = backend.open(first.name)
    second = commit(backend, first, B2, remove=["b.jsonl"])  # b.jsonl changed
    new = backend.open(second.name)
    try:
        gone, added = list(first.files["b.jsonl"].pids), list(second.files["b.jsonl"].pids)
        assert not set(gone) & set(added)
        assert not finds(new, "Gewitter") and finds(new, "Hagel")
        assert finds(old, "Gewitter") and not finds(old, "Hagel")
        assert everything(new) == set(first.files["a.jsonl"].pids) | set(added)
        assert everything(old) == set(first.files["a.jsonl"].pids) | set(gone)
        with pytest.raises(KeyError):
            new.paragraphs(gone)
        assert old.paragraphs(gone)[0].text.startswith("Gewitter")
        assert new.article("b.jsonl#1").paragraph_pids == tuple(added)
        assert old.article("b.jsonl#1").paragraph_pids == tuple(gone)
    finally:
        old.close()
        new.close()


def test_a_writer_closed_without_publishing_changes_nothing(backend):
    first = commit(backend, None, A)
    with backend.writer_lock():
        writer = backend.begin(first)
        articles = make_articles("b.jsonl", B["b.jsonl"], first.next_pid)
        writer.remove(list(first.files["a.jsonl"].pids))
        writer.add(articles)
        writer.add_vectors(np.array([first.next_pid]),
                           vector_of(articles[0].paragraphs[0].text)[None, :])
        writer.close()
    assert backend.current() == first.name
    reader = backend.open(first.name)
    try:
        assert finds(reader, "volcano") and not finds(reader, "Gewitter")
    finally:
        reader.close()
    second = commit(backend, first, B2)  # the same new pids as the abandoned writer's
    reader = backend.open(backend.current() or "")
    try:
        assert reader.catalog == second
        assert finds(reader, "volcano") and finds(reader, "Hagel")
        assert not finds(reader, "Gewitter")
    finally:
        reader.close()


def numbered(n: int) -> dict[str, list[Spec]]:
    return {f"f{n}.jsonl": [Spec("1", f"Report {n}", "en", "2025-01-01", "Wire", (
        (f"Report number {n} says little {MARK}.", "en"),
        (f"Bericht Nummer {n} sagt wenig {MARK}.", "de")))]}


def assert_whole(reader: GenerationReader) -> None:
    """The reader answers with exactly the paragraphs its catalog lists, records included."""
    listed = {pid for entry in reader.catalog.files.values() for pid in entry.pids}
    assert everything(reader) == listed
    ids = {article for entry in reader.catalog.files.values() for article in entry.articles}
    assert set(reader.article_ids(sorted(listed))) == ids


def test_readers_see_whole_generations_while_others_are_published(backend):
    catalog = commit(backend, None, numbered(0))
    first = catalog.name
    shared = backend.open(first)  # one reader used by every thread at once
    errors: list[BaseException] = []
    seen: set[str] = set()
    ready = threading.Barrier(4, timeout=60)
    done = threading.Event()

    def read() -> None:
        try:
            rounds = 0
            while True:
                finished = done.is_set()
                reader = backend.open(backend.current() or "")
                try:
                    assert_whole(reader)
                    seen.add(reader.catalog.name)
                finally:
                    reader.close()
                assert_whole(shared)
                assert shared.catalog.name == first
                rounds += 1
                if rounds == 1:
                    ready.wait()
                if finished:
                    return
        except BaseException as exc:
            errors.append(exc)
            ready.abort()

    threads = [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        ready.wait()
        for n in range(1, 6):
            catalog = commit(backend, catalog, numbered(n),
                             remove=[f"f{n - 2}.jsonl"] if n >= 2 else [])
    except threading.BrokenBarrierError:
        pass  # a reader failed before the first publish: its error is raised below
    finally:
        done.set()
        for thread in threads:
            thread.join(60)
        shared.close()
    if errors:
        raise errors[0]
    assert {first, catalog.name} <= seen


def test_one_writer_at_a_time(backend, backend_name, tmp_path):
    other = create_backend(backend_name, tmp_path / "idx")
    with backend.writer_lock():
        with pytest.raises(IndexBusy):
            with backend.writer_lock():
                pass
        with pytest.raises(IndexBusy):
            with other.writer_lock():
                pass
    with other.writer_lock():
        pass


def test_garbage_collection_keeps_the_live_and_the_held_generations(
        backend, backend_name, tmp_path):
    first = commit(backend, None, A)
    held = create_backend(backend_name, tmp_path / "idx").open(first.name)
    try:
        second = commit(backend, first, B)
        third = commit(backend, second, C, remove=["a.jsonl"])
        fourth = commit(backend, third, B2, remove=["b.jsonl"])
        with backend.writer_lock():
            removed = backend.collect_garbage()
        assert second.name in removed
        assert first.name not in removed and fourth.name not in removed
        assert backend.current() == fourth.name
        assert finds(held, "volcano") and held.paragraphs(list(first.files["a.jsonl"].pids))
        live = backend.open(fourth.name)
        assert finds(live, "Hagel") and not finds(live, "volcano")
        live.close()
    finally:
        held.close()
    with backend.writer_lock():
        assert first.name in backend.collect_garbage()
    assert backend.current() == fourth.name


# -- check ----------------------------------------------------------------------------------

def test_check_of_a_fresh_index(backend):
    with pytest.raises(IndexMissing):
        backend.check()  # nothing published yet
    catalog = commit(backend, None, CORPUS)
    report = backend.check()
    assert report.ok, report.problems
    assert (report.generation, report.model, report.dim) == (catalog.name, "fake", DIM)
    assert report.articles == len(ARTICLES) == catalog.articles
    assert report.paragraphs == report.vectors == len(PARAGRAPHS)
    assert report.keyword_paragraphs == len(PARAGRAPHS)
    commit(backend, catalog, C, remove=["en.jsonl"])
    report = backend.check()
    assert report.ok, report.problems
    assert report.articles == len(ARTICLES) - len(CORPUS["en.jsonl"]) + 1
    left = len(PARAGRAPHS) - catalog.files["en.jsonl"].paragraphs + 1
    assert report.paragraphs == report.vectors == report.keyword_paragraphs == left


# -- keyword coverage -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "word", "share"), [
    ("volcano", "volcano", 1.0),
    ("volcano harbour", "volcano", 1.0),
    ("volcano glacier", "volcano", 0.5),
    ("volcano glacier avalanche tundra", "volcano", 0.25),
    ("disaster glacier", "volcano", 0.5),  # a title word counts as contained
    ("Gewitter Lawine Gletscher", "Gewitter", 1 / 3),
])
def test_keyword_candidates_carry_the_share_of_query_terms_they_contain(corpus, text, word,
                                                                         share):
    found = {c.pid: c for c in corpus.keyword_candidates(text, "en", EVERYTHING, Filters())}
    assert found[pid_of(word)].coverage == pytest.approx(share, abs=1e-6)


def test_coverage_counts_a_term_once_and_stays_within_one(corpus):
    found = corpus.keyword_candidates("volcano volcano Volcano ash", "en", EVERYTHING,
                                      Filters())
    assert found[0].pid == pid_of("volcano") and found[0].coverage == pytest.approx(1.0)
    assert all(c.coverage is not None and 0 < c.coverage <= 1 for c in found)


def test_vector_candidates_carry_no_coverage(corpus):
    assert all(c.coverage is None for c in corpus.vector_candidates(PROBE, 5, Filters()))


# -- the facts a query reads ----------------------------------------------------------------

def test_candidates_carry_their_language(corpus):
    langs = {pid: p.lang for pid, (_, p) in PARAGRAPHS.items()}
    for found in (corpus.keyword_candidates(MARK, "en", EVERYTHING, Filters()),
                  corpus.vector_candidates(PROBE, EVERYTHING, Filters())):
        assert found and all(c.lang == langs[c.pid] for c in found)


def test_facts_are_what_the_single_lookups_say(corpus):
    asked = sorted(PARAGRAPHS)[:3]
    facts = corpus.facts(asked)
    assert set(asked) <= set(facts.paragraphs)
    for pid in asked:
        article, paragraph = PARAGRAPHS[pid]
        fact = facts.paragraphs[pid]
        assert (fact.article_id, fact.position, fact.lang, fact.group) == (
            article.id, paragraph.position, paragraph.lang, corpus.groups([pid])[0])
        assert (fact.title, fact.date, fact.source, fact.place, fact.url) == (
            article.title, article.date, article.source, article.place, article.url)
        assert fact.paragraph_id == corpus.paragraphs([pid])[0].paragraph_id
    assert facts.members == {group: tuple(row) for group, row in corpus.group_members(
        sorted({facts.paragraphs[pid].group for pid in asked})).items()}
    with pytest.raises(KeyError):
        corpus.facts([max(PARAGRAPHS) + 100])


def test_columns_are_what_the_facts_say_in_the_order_asked(corpus):
    asked = sorted(PARAGRAPHS)[::-1][:5] + sorted(PARAGRAPHS)[:1]
    facts = corpus.facts(asked).paragraphs
    columns = corpus.columns(asked)
    assert columns == ParagraphColumns(
        [facts[pid].lang for pid in asked], [facts[pid].article_id for pid in asked],
        [facts[pid].group for pid in asked], [facts[pid].date for pid in asked],
        [facts[pid].source for pid in asked])
    assert columns.groups == corpus.groups(asked)
    assert corpus.columns([]) == ParagraphColumns([], [], [], [], [])
    with pytest.raises(KeyError):
        corpus.columns([asked[0], max(PARAGRAPHS) + 100])
