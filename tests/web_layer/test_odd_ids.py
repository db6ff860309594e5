"""Paragraph ids mean one thing (issue 21, finding 4): the position is ASCII digits, at most
nine of them; anything else is "no such paragraph" (404, ParagraphNotFound in Python), never a
500 or a bare ValueError, and ids echoed in messages are cut short."""

from __future__ import annotations

import pytest
from helpers import ENCODER, base_corpus, build
from web_fixtures import make_app

from search.engine import Engine
from search.errors import ArticleNotFound, ParagraphNotFound, SearchError

ARTICLE = "news/a00.md"
ODD = ["%C2%B2", "%E2%91%A0", "%D9%A0", "0" * 5000, "1" * 5000, "1234567890", "-1", "+1",
       "%201", "1%20", "0x1", ""]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("odd-ids")
    return build(base_corpus(root / "seeds"), root / "idx")


def test_odd_positions_are_404_in_the_api(index):
    app = make_app(index, ENCODER, FOLLOW_INTERVAL=0)
    try:
        client = app.test_client()
        for suffix in ("", "/similar"):
            good = client.get(f"/api/paragraphs/{ARTICLE}:0{suffix}")
            assert good.status_code == 200
            for position in ODD:
                response = client.get(f"/api/paragraphs/{ARTICLE}:{position}{suffix}")
                assert response.status_code == 404, (position, suffix)
                error = response.get_json()["error"]
                assert error.startswith("no paragraph 'news/a00.md:") and len(error) < 300
        response = client.get("/api/articles/" + "x" * 250_000)
        assert response.status_code == 404 and len(response.get_data()) < 400
        assert client.get("/api/search?q=harbour+cranes").get_json()["results"]
    finally:
        app.extensions["search"].close()


def test_odd_positions_are_paragraph_not_found_in_python(index):
    with Engine(index, encoder_factory=lambda model: ENCODER).open() as engine:
        assert engine.paragraph(f"{ARTICLE}:1").paragraph.position == 1
        for position in ["²", "①", "٠", "0" * 5000, "9" * 10, " 1", "1\n"]:
            with pytest.raises(ParagraphNotFound) as raised:
                engine.paragraph(f"{ARTICLE}:{position}")
            assert isinstance(raised.value, SearchError) and len(str(raised.value)) < 300
            with pytest.raises(ParagraphNotFound):
                engine.similar(f"{ARTICLE}:{position}")
        with pytest.raises(ArticleNotFound) as missing:
            engine.article("y" * 250_000)
        assert len(str(missing.value)) < 300
