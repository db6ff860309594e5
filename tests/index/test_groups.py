"""Translation groups made by the updater, through the local backend (Whoosh and FAISS) with
the fake bag-of-words encoder: names and numbers carry translations here, as they do for the
languages the real encoder does not cover."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.backends import open_backend
from search.backends.local.groups import GROUPS_FILE
from search.config import Settings
from search.index.updater import update_index

STORY = {
    "en": ["Maria Lindqvist opened the Rotterdam harbour festival on 14 June 1987 with 2300 "
           "guests.",
           "The mayor Pieter Vandermeer thanked 45 volunteers from Antwerpen and Groningen.",
           "Fireworks over the Maas river ended the evening at 23 hours, the police reported "
           "7 incidents."],
    "de": ["Maria Lindqvist eröffnete am 14. Juni 1987 das Hafenfest in Rotterdam mit 2300 "
           "Gästen.",
           "Bürgermeister Pieter Vandermeer dankte 45 Freiwilligen aus Antwerpen und Groningen.",
           "Ein Feuerwerk über der Maas beendete den Abend um 23 Uhr, die Polizei meldete 7 "
           "Zwischenfälle."],
    "fr": ["Maria Lindqvist a ouvert la fête du port de Rotterdam le 14 juin 1987 avec 2300 "
           "invités.",
           "Le maire Pieter Vandermeer a remercié 45 bénévoles venus d'Antwerpen et de "
           "Groningen.",
           "Un feu d'artifice sur la Maas a clos la soirée à 23 heures, la police a signalé 7 "
           "incidents."],
    "es": ["Maria Lindqvist inauguró el festival del puerto de Rotterdam el 14 de junio de "
           "1987 con 2300 invitados.",
           "El alcalde Pieter Vandermeer agradeció a 45 voluntarios de Antwerpen y Groningen.",
           "Los fuegos artificiales sobre el río Maas cerraron la noche a las 23 horas, la "
           "policía informó de 7 incidentes."],
}
# Dutch, so that only its content keeps it out of the story's groups.
UNRELATED = {"id": "budget", "title": "-", "lang": "nl",
             "text": "De gemeenteraad van Tromsø keurde een begroting van 512 miljoen kronen "
                     "goed voor nieuwe scholen in 2031, na een lang debat in het stadhuis."}


def write_story(seeds: Path, lang: str, name: str = "story") -> None:
    record = {"id": name, "title": "-", "lang": lang, "text": "\n\n".join(STORY[lang])}
    (seeds / f"{lang}.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n",
                                         encoding="utf-8")


def index(seeds: Path, folder: Path, encoder) -> None:
    update_index(seeds, folder, Settings(model="fake"), lambda: encoder)


def groups_by_position(folder: Path) -> dict[tuple[str, int], set[str]]:
    """(article, position) -> the languages of the other members of its group."""
    backend = open_backend(folder, Settings(model="fake"))
    reader = backend.open(backend.current())
    try:
        pids = [pid for entry in reader.catalog.files.values() for pid in entry.pids]
        records = {r.pid: r for r in reader.paragraphs(pids)}
        groups = dict(zip(pids, reader.groups(pids), strict=True))
        members = reader.group_members(sorted(set(groups.values())))
        return {(r.article_id, r.position): {records[m].lang for m in members[groups[r.pid]]
                                             if m != r.pid}
                for r in records.values()}
    finally:
        reader.close()


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    return folder


def test_a_translated_article_is_grouped_paragraph_by_paragraph(seeds, tmp_path,
                                                                fake_encoder):
    for lang in ("en", "de", "fr"):
        write_story(seeds, lang)
    (seeds / "other.jsonl").write_text(json.dumps(UNRELATED) + "\n", encoding="utf-8")
    index(seeds, tmp_path / "idx", fake_encoder)
    found = groups_by_position(tmp_path / "idx")
    for position in range(3):
        assert found[("en.jsonl#story", position)] == {"de", "fr"}
        assert found[("de.jsonl#story", position)] == {"en", "fr"}
    assert found[("other.jsonl#budget", 0)] == set()


def test_a_group_holds_one_paragraph_per_language(seeds, tmp_path, fake_encoder):
    write_story(seeds, "en")
    write_story(seeds, "de")
    (seeds / "en2.jsonl").write_text((seeds / "en.jsonl").read_text(encoding="utf-8"),
                                     encoding="utf-8")  # the same English article twice
    index(seeds, tmp_path / "idx", fake_encoder)
    found = groups_by_position(tmp_path / "idx")
    for position in range(3):
        assert found[("de.jsonl#story", position)] == {"en"}
        english = [found[(f"{path}#story", position)] for path in ("en.jsonl", "en2.jsonl")]
        assert sorted(map(sorted, english)) == [[], ["de"]]


def test_added_and_removed_translations_join_and_leave_groups(seeds, tmp_path, fake_encoder):
    write_story(seeds, "en")
    write_story(seeds, "de")
    folder = tmp_path / "idx"
    index(seeds, folder, fake_encoder)
    write_story(seeds, "fr")
    index(seeds, folder, fake_encoder)
    found = groups_by_position(folder)
    assert all(found[("fr.jsonl#story", position)] == {"en", "de"} for position in range(3))
    (seeds / "en.jsonl").unlink()  # the first members: the groups get new ids
    index(seeds, folder, fake_encoder)
    found = groups_by_position(folder)
    assert all(found[("fr.jsonl#story", position)] == {"de"} for position in range(3))
    backend = open_backend(folder, Settings(model="fake"))
    reader = backend.open(backend.current())
    try:
        pids = [pid for entry in reader.catalog.files.values() for pid in entry.pids]
        groups = reader.groups(pids)
        members = reader.group_members(sorted(set(groups)))
        assert all(group == min(members[group]) for group in groups)
    finally:
        reader.close()


def test_an_index_written_before_groups_reads_every_paragraph_alone(seeds, tmp_path,
                                                                    fake_encoder):
    write_story(seeds, "en")
    write_story(seeds, "de")
    folder = tmp_path / "idx"
    index(seeds, folder, fake_encoder)
    live = (folder / "CURRENT").read_text(encoding="ascii").strip()
    (folder / "generations" / live / GROUPS_FILE).unlink()
    assert all(not others for others in groups_by_position(folder).values())
    write_story(seeds, "fr")  # the next run groups the new article against the old ones
    index(seeds, folder, fake_encoder)
    found = groups_by_position(folder)
    assert all(found[("fr.jsonl#story", position)] == {"en", "de"} for position in range(3))
