"""Alerts evaluated by `search index` on what each generation adds, with the fake encoder:
watchlists across scripts, the matching rule, stories across translations, rebuilds."""

from __future__ import annotations

import numpy as np
import pytest
from alert_helpers import article, base, names, update
from helpers import write
from pytest import approx

from search.alerts import AlertKind, MatchForm, add_alert, alert_hits
from search.ranking.query import Mode


def test_a_watchlist_of_names_in_three_scripts_fires_on_the_english_paragraphs(tmp_path):
    seeds, index = base(tmp_path / "seeds"), tmp_path / "index"
    update(seeds, index)
    add_alert(index, "people", "Ζελένσκι\nبيسكوف\nПутин", kind=AlertKind.WATCHLIST)
    summary = update(names(seeds), index)
    assert not summary.warnings
    _, hits = alert_hits(index, "people")
    found = {h.paragraph_id.rsplit(":", 1)[1]: h for h in hits}
    assert sorted(found) == ["0", "1", "2"]  # not the harvest paragraph
    words = {w.query_word: w for h in hits for w in h.why.words}
    assert set(words) == {"Ζελένσκι", "بيسكوف", "Путин"}
    assert all(w.form is MatchForm.LATIN for w in words.values())
    assert words["Ζελένσκι"].found == ("Zelensky",)  # zelenski ~ zelensky, folded
    assert words["بيسكوف"].found == ("Peskov",)  # byskwf ~ peskov, by consonants
    assert words["Путин"].found == ("Putin",)
    assert "(latin: Zelensky)" in found["0"].why.summary()


def test_watchlists_forgive_typos_and_queries_need_half_their_words(tmp_path):
    seeds, index = base(tmp_path / "seeds"), tmp_path / "index"
    update(seeds, index)
    add_alert(index, "typo", "Peskow\nZelenskky", kind=AlertKind.WATCHLIST)
    add_alert(index, "words", "prisoner exchange weekend Kremlin", mode=Mode.KEYWORD)
    add_alert(index, "few", "prisoner harvest bridge ferry motorway", mode=Mode.KEYWORD)
    update(names(seeds), index)
    _, typo = alert_hits(index, "typo")
    assert sorted(h.paragraph_id for h in typo) == ["names.md:0", "names.md:1"]
    assert {w.form for h in typo for w in h.why.words} <= {MatchForm.TYPO, MatchForm.LATIN}
    _, words = alert_hits(index, "words")
    assert [h.paragraph_id for h in words] == ["names.md:2"]
    assert words[0].why.coverage == 0.75
    assert {w.query_word for w in words[0].why.words} == {"prisoner", "exchange", "weekend"}
    assert all(w.form is MatchForm.TYPED for w in words[0].why.words)
    assert alert_hits(index, "few")[1] == []  # 2 words of 5 are below half


def test_only_new_paragraphs_are_evaluated_and_a_translation_joins_its_story(tmp_path):
    seeds, index = names(base(tmp_path / "seeds")), tmp_path / "index"
    update(seeds, index)
    add_alert(index, "talks", "Istanbul delegation Wednesday", mode=Mode.KEYWORD)
    update(seeds, index)  # nothing new
    assert alert_hits(index, "talks")[1] == []
    write(seeds / "more.md", article(
        "Istanbul", "en", "A second delegation leaves for Istanbul on Wednesday morning.",
        "Weather in the capital stays dry and warm."))
    update(seeds, index)
    _, hits = alert_hits(index, "talks")
    assert [h.paragraph_id for h in hits] == ["more.md:0"]
    assert hits[0].why.coverage == 1.0


def test_a_rebuild_is_not_new(tmp_path):
    seeds, index = names(base(tmp_path / "seeds")), tmp_path / "index"
    update(seeds, index)
    add_alert(index, "people", "Zelensky", kind=AlertKind.WATCHLIST)
    update(seeds, index, rebuild=True)
    assert alert_hits(index, "people")[1] == []
    write(seeds / "more.md", article("Kyiv", "en", "Zelensky met the mayor of Kyiv today.",
                                     "The city council approved the budget."))
    update(seeds, index)
    assert [h.paragraph_id for h in alert_hits(index, "people")[1]] == ["more.md:0"]


def test_a_paragraph_read_word_by_word_gives_the_terms_and_spellings_the_index_holds():
    from search.alerts.terms import paragraph_terms
    from search.analysis import analyzer_for, field_language

    texts = {"en": "Zelensky met Peskov's envoys; talks resumed in Istanbul on 12 May.",
             "ru": "Зеленский и Песков обсуждали обмен пленными в Стамбуле.",
             "el": "Ο Ζελένσκι συναντήθηκε με τον Πεσκόφ στην Κωνσταντινούπολη.",
             "zh": "泽连斯基与佩斯科夫在伊斯坦布尔会谈 Istanbul 2024。",
             "ar": "التقى زيلينسكي وبيسكوف في إسطنبول لتبادل الأسرى.",
             "de": "Die Häuser der Gefangenen wurden in Kyjiw übergeben."}
    for lang, text in texts.items():
        whole: dict[str, tuple[set[str], bool]] = {}  # as the writer analyses the text
        for token in analyzer_for(field_language(lang))(text, mode="index", chars=True):
            whole.setdefault(token.text, (set(), bool(getattr(token, "transliterated", False)))
                             )[0].add(text[token.startchar : token.endchar])
        assert whole, lang
        analysed: dict = {}
        assert paragraph_terms((text,), lang, analysed) == whole, lang
        assert analysed and paragraph_terms((text,), lang, analysed) == whole, lang  # kept


def _at_cosine(cosine: float) -> np.ndarray:
    """A unit vector at `cosine` to the first axis."""
    return np.array([cosine, (1 - cosine**2) ** 0.5, 0, 0], dtype=np.float32)


def test_each_paragraph_is_held_to_its_language_floor_and_a_story_told_in_the_query_language():
    from search.alerts import Alert
    from search.alerts.evaluate import NewParagraph, evaluate
    from search.config import Settings
    from search.encoders.calibration import SemanticFloors
    from search.records import ArticleRecord, Filters, ParagraphRecord

    floors = SemanticFloors(same=0.83, cross=0.75)
    cases = [(1, "en", 0.84, {}), (2, "en", 0.82, {}), (3, "de", 0.76, {}),
             (4, "de", 0.74, {}), (5, "de", 0.70, {"en": _at_cosine(0.9)}),
             (6, "de", 0.70, {"en": _at_cosine(0.8)})]
    paragraphs = [NewParagraph(ParagraphRecord(pid, f"a{pid}", 0, 0, 9, "zzz qqq", lang),
                               ArticleRecord(f"a{pid}", "x.txt", "t", None, None, None, None,
                                             lang, (pid,)), told)
                  for pid, lang, _, told in cases]
    vectors = np.stack([_at_cosine(c) for _, _, c, _ in cases])
    query = np.array([1, 0, 0, 0], dtype=np.float32)
    alerts = [Alert(1, "all", AlertKind.QUERY, "prisoner exchange", Mode.HYBRID, Filters(),
                    "t1", ""),
              Alert(2, "later", AlertKind.QUERY, "prisoner exchange", Mode.HYBRID, Filters(),
                    "t2", ""),
              Alert(3, "german", AlertKind.QUERY, "prisoner exchange", Mode.HYBRID,
                    Filters(languages=("de",)), "t3", "")]
    matches = evaluate(alerts, {2: 4}, {1: query, 2: query, 3: query}, paragraphs, vectors,
                       Settings(), floors, None, {1: "en", 2: "en", 3: "en"})
    fired = [(m.alert_id, m.pid) for m in matches]
    assert fired == [(1, 1), (1, 3), (1, 5), (2, 5), (3, 3), (3, 5)]
    first = matches[0]
    assert first.why.cosine == approx(0.84) and first.score == approx(0.5 + 0.5 * 0.01 / 0.17,
                                                                      abs=1e-4)
    assert matches[2].why.cosine == approx(0.9)  # the English version's cosine, same floor


def test_a_story_told_in_the_query_language_counts_when_no_new_paragraph_is_in_it():
    from search.alerts import Alert
    from search.alerts.evaluate import NewParagraph, evaluate
    from search.config import Settings
    from search.encoders.calibration import SemanticFloors
    from search.records import ArticleRecord, Filters, ParagraphRecord

    told = {1: {"en": _at_cosine(0.9)}, 2: {}}  # 1's English version came earlier
    paragraphs = [NewParagraph(ParagraphRecord(pid, f"a{pid}", 0, 0, 9, "zzz", "de"),
                               ArticleRecord(f"a{pid}", "x.txt", "t", None, None, None, None,
                                             "de", (pid,)), told[pid]) for pid in (1, 2)]
    alert = Alert(1, "talks", AlertKind.QUERY, "prisoner exchange", Mode.SEMANTIC, Filters(),
                  "t1", "")
    matches = evaluate([alert], {}, {1: np.array([1, 0, 0, 0], dtype=np.float32)}, paragraphs,
                       np.stack([_at_cosine(0.7), _at_cosine(0.7)]), Settings(),
                       SemanticFloors(same=0.83, cross=0.75), None, {1: "en"})
    assert [(m.pid, m.why.cosine) for m in matches] == [(1, approx(0.9))]


def test_cycles_are_collected_after_an_evaluation_not_during_it(tmp_path, monkeypatch):
    import gc

    from search.alerts import watch

    seeds, index = base(tmp_path / "seeds"), tmp_path / "index"
    update(seeds, index)
    add_alert(index, "talks", "Istanbul delegation Wednesday", mode=Mode.KEYWORD)
    during = []
    evaluate = watch.evaluate

    def watched(*args, **kwargs):
        during.append(gc.isenabled())
        if len(during) == 2:
            raise RuntimeError("failed mid-evaluation")
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(watch, "evaluate", watched)
    update(names(seeds), index)
    assert during == [False] and gc.isenabled()
    write(seeds / "more.md", article("More", "en", "A second delegation leaves on Wednesday."))
    with pytest.raises(RuntimeError, match="mid-evaluation"):
        update(seeds, index)
    assert during == [False, False] and gc.isenabled()
