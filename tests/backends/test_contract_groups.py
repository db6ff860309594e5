"""The backend contract for translation groups: every paragraph has a group id (its own pid
when alone), groups are set by the writer for new and old paragraphs, carried to the next
generation, left by removed paragraphs, and a generation open for reading keeps its groups."""

from __future__ import annotations

import pytest

from backends.test_contract import CORPUS, FIRST_PID, Spec, commit

EXTRA = {"fr.jsonl": [Spec("volcan", "Catastrophe", "fr", "2025-07-22", "Wire", (
    ("Le volcan est entré en éruption à l'aube qx42.", "fr"),
    ("Les vols ont été annulés pendant deux jours qx42.", "fr")))]}


def live_pids(catalog) -> list[int]:
    return sorted(pid for entry in catalog.files.values() for pid in entry.pids)


def test_every_paragraph_starts_alone(backend):
    catalog = commit(backend, None, CORPUS)
    reader = backend.open(catalog.name)
    try:
        pids = live_pids(catalog)
        assert reader.groups(pids) == pids
        assert reader.group_members(pids[:2]) == {pids[0]: [pids[0]], pids[1]: [pids[1]]}
        assert reader.group_members([catalog.next_pid + 5]) == {catalog.next_pid + 5: []}
        with pytest.raises(KeyError):
            reader.groups([catalog.next_pid + 5])
    finally:
        reader.close()


def test_groups_are_set_carried_forward_and_left(backend):
    first = commit(backend, None, CORPUS)
    en = sorted(first.files["en.jsonl"].pids)  # volcano (2 paragraphs), lighthouse, twin1
    de = sorted(first.files["de.txt"].pids)
    second = commit(backend, first, {}, groups={en[0]: en[0], de[0]: en[0]})
    fr = FIRST_PID + first.paragraphs  # the first pid of the next file
    assert second.next_pid == fr
    # New paragraphs join an old group, an old paragraph joins a new one's.
    third = commit(backend, second, EXTRA, groups={fr: en[0], fr + 1: fr + 1, en[1]: fr + 1})
    old = backend.open(second.name)
    new = backend.open(third.name)
    try:
        assert old.groups([en[0], de[0], en[1]]) == [en[0], en[0], en[1]]
        assert old.group_members([en[0]]) == {en[0]: [en[0], de[0]]}
        assert new.groups([en[0], de[0], fr, en[1], fr + 1]) == [en[0], en[0], en[0],
                                                                  fr + 1, fr + 1]
        assert new.group_members([en[0], fr + 1]) == {en[0]: [en[0], de[0], fr],
                                                      fr + 1: [en[1], fr + 1]}
    finally:
        old.close()
        new.close()
    # Removing the English file: its paragraphs leave their groups; the groups keep their
    # ids unless the writer relabels them (the updater gives a group its smallest live pid).
    fourth = commit(backend, third, {}, remove=["en.jsonl"], groups={de[0]: de[0], fr: de[0]})
    reader = backend.open(fourth.name)
    try:
        assert reader.groups([de[0], fr, fr + 1]) == [de[0], de[0], fr + 1]
        assert reader.group_members([de[0], fr + 1, en[0]]) == {
            de[0]: [de[0], fr], fr + 1: [fr + 1], en[0]: []}
    finally:
        reader.close()


def test_groups_of_a_writer_that_never_published_are_gone(backend):
    first = commit(backend, None, CORPUS)
    en = sorted(first.files["en.jsonl"].pids)
    with backend.writer_lock():
        writer = backend.begin(first)
        try:
            writer.set_groups([en[1]], [en[0]])  # the next writer gets the same number
        finally:
            writer.close()
    second = commit(backend, first, {}, remove=["de.txt"])
    reader = backend.open(second.name)
    try:
        assert reader.groups([en[0], en[1]]) == [en[0], en[1]]
        assert reader.group_members([en[0]]) == {en[0]: [en[0]]}
    finally:
        reader.close()


def test_facts_bring_the_other_members_of_each_group(backend):
    first = commit(backend, None, CORPUS)
    en = sorted(first.files["en.jsonl"].pids)
    de = sorted(first.files["de.txt"].pids)
    second = commit(backend, first, {}, groups={en[0]: en[0], de[0]: en[0]})
    reader = backend.open(second.name)
    try:
        facts = reader.facts([en[0], en[2]])
        assert facts.members == {en[0]: (en[0], de[0]), en[2]: (en[2],)}
        assert {en[0], de[0], en[2]} <= set(facts.paragraphs)
        assert facts.paragraphs[de[0]].lang == "de" and facts.paragraphs[de[0]].group == en[0]
    finally:
        reader.close()
