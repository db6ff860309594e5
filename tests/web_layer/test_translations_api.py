"""Translation groups through the JSON API, on the shipped seeds (one article, 7 languages)
indexed with the real model: hits' translations, a paragraph with its group, similar
paragraphs, and an article's other-language versions."""

from __future__ import annotations

from web_fixtures import PRISONER_PARAGRAPH, SEED_ARTICLE

LANGS = {"ar", "de", "es", "fr", "ru", "zh"}  # besides English
PRISONER_ID = f"{SEED_ARTICLE}:4"


def _article_of(lang: str) -> str:
    return SEED_ARTICLE.replace(".txt", f".{lang}.txt")


def test_a_hit_lists_its_translations(client):
    body = client.get("/api/search?q=Istanbul+talks+prisoner+exchange&lang=en").get_json()
    first = body["results"][0]
    assert PRISONER_PARAGRAPH in first["text"]
    assert {t["lang"] for t in first["translations"]} == LANGS
    for t in first["translations"]:
        assert t["article_id"] == _article_of(t["lang"])
        assert t["paragraph_id"] == f"{t['article_id']}:{t['position']}"
        assert t["title"]


def test_a_paragraph_with_its_group(client):
    body = client.get(f"/api/paragraphs/{PRISONER_ID}").get_json()
    assert body["paragraph_id"] == PRISONER_ID
    assert PRISONER_PARAGRAPH in body["text"]
    assert body["lang"] == "en" and body["article_id"] == SEED_ARTICLE
    assert {t["lang"] for t in body["translations"]} == LANGS
    german = next(t for t in body["translations"] if t["lang"] == "de")
    back = client.get(f"/api/paragraphs/{german['paragraph_id']}").get_json()
    assert back["lang"] == "de"
    assert PRISONER_ID in {t["paragraph_id"] for t in back["translations"]}


def test_similar_paragraphs_come_from_other_articles_with_translations_marked(client):
    body = client.get(f"/api/paragraphs/{PRISONER_ID}/similar?size=8").get_json()
    results = body["results"]
    assert body["paragraph_id"] == PRISONER_ID and len(results) == 8
    assert SEED_ARTICLE not in {r["article_id"] for r in results}
    # The six translations come first, then the other paragraphs, each part best first.
    assert [r["translation"] for r in results] == [True] * 6 + [False] * 2
    for part in (results[:6], results[6:]):
        scores = [r["score"] for r in part]
        assert scores == sorted(scores, reverse=True)
    assert {r["lang"] for r in results[:6]} == LANGS
    assert all(r["paragraph_id"].endswith(":4") for r in results[:6])


def test_an_article_lists_its_versions_in_other_languages(client):
    body = client.get(f"/api/articles/{SEED_ARTICLE}").get_json()
    assert {v["lang"] for v in body["versions"]} == LANGS
    assert {v["id"] for v in body["versions"]} == {_article_of(lang) for lang in LANGS}


def test_unknown_paragraphs_and_bad_sizes_are_clear_errors(client):
    for missing in ("nope", f"{SEED_ARTICLE}:999", f"{SEED_ARTICLE}:x", ":4"):
        response = client.get(f"/api/paragraphs/{missing}")
        assert response.status_code == 404
        assert "no paragraph" in response.get_json()["error"]
        assert client.get(f"/api/paragraphs/{missing}/similar").status_code == 404
    for size in ("0", "1000", "two"):
        response = client.get(f"/api/paragraphs/{PRISONER_ID}/similar?size={size}")
        assert response.status_code == 400
        assert "size" in response.get_json()["error"]


def test_a_translated_article_added_then_removed_joins_and_leaves(seeds_copy, tmp_path,
                                                                  real_encoder):
    """Incremental updates: the French version, added to an index of the other six, joins
    every group of its paragraphs (hits, paragraph, similar, versions, facets), and leaves
    them when its file is removed."""
    from search import Engine, Filters, Query, Settings, update_index

    french = seeds_copy / _article_of("fr")
    kept = french.read_text(encoding="utf-8")
    french.unlink()
    index_dir = tmp_path / "index"

    def update() -> None:
        update_index(seeds_copy, index_dir, Settings(), lambda: real_encoder)

    def seen() -> tuple[set[str], set[str], set[str], set[str]]:
        with Engine(index_dir, encoder_factory=lambda model: real_encoder).open() as engine:
            page = engine.search(Query(
                "Istanbul talks prisoner exchange", lang="en",
                filters=Filters(languages=("en",))))
            assert PRISONER_PARAGRAPH in page.hits[0].text
            hit = {t.lang for t in page.hits[0].translations}
            paragraph = {t.lang for t in engine.paragraph(PRISONER_ID).translations}
            similar = {s.paragraph.lang for s in engine.similar(PRISONER_ID, 6)
                       if s.translation}
            versions = {v.lang for v in engine.article(SEED_ARTICLE).versions}
            return hit, paragraph, similar, versions

    update()
    assert all(langs == LANGS - {"fr"} for langs in seen())
    french.write_text(kept, encoding="utf-8")
    update()
    assert all(langs == LANGS for langs in seen())
    french.unlink()
    update()
    assert all(langs == LANGS - {"fr"} for langs in seen())



def test_the_translations_of_the_best_paragraphs_follow_them(client):
    """Every paragraph of a translation group is as relevant as the story: with every
    language apart, the prisoner-exchange paragraph comes with its six translations."""
    body = client.get("/api/search?q=Istanbul+talks+prisoner+exchange&size=7").get_json()
    assert [r["paragraph_id"].rsplit(":", 1)[1] for r in body["results"]] == ["4"] * 7
    assert {r["lang"] for r in body["results"]} == LANGS | {"en"}
