"""An existing index keeps the model it was built with; a new one gets the default."""

from __future__ import annotations

from click.testing import CliRunner
from helpers import FakeEncoder, write

from search.cli import main
from search.config import DEFAULT_MODEL, Settings
from search.index.model_choice import choose_model, indexed_model
from search.index.updater import update_index


def build(tmp_path, model: str):
    seeds = tmp_path / "seeds"
    write(seeds / "a.txt", "Title\n\nThe council met on Tuesday to discuss the new bridge.")
    index = tmp_path / "index"
    update_index(seeds, index, Settings(model=model), lambda: FakeEncoder(name=model))
    return seeds, index


def test_a_usem3_index_keeps_usem3_and_says_how_to_move(tmp_path) -> None:
    _, index = build(tmp_path, "usem3")
    assert indexed_model(index) == "usem3"
    choice = choose_model(index, None, rebuild=False)
    assert choice.model == "usem3"
    assert choice.note is not None
    assert f"search index --rebuild --model {DEFAULT_MODEL}" in choice.note


def test_asked_model_and_rebuild_and_new_index(tmp_path) -> None:
    _, index = build(tmp_path, "usem3")
    assert choose_model(index, "e5-small", rebuild=False).model == "e5-small"
    assert choose_model(index, None, rebuild=True).model == DEFAULT_MODEL
    assert choose_model(tmp_path / "new", None, rebuild=False).model == DEFAULT_MODEL
    assert choose_model(tmp_path / "new", None, rebuild=False).note is None


def test_cli_index_on_a_usem3_index_goes_on_with_usem3(tmp_path) -> None:
    seeds, index = build(tmp_path, "usem3")
    result = CliRunner().invoke(main, ["index", "--seeds", str(seeds), "--index", str(index)])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "--rebuild --model e5-small" in notes[0]
    assert indexed_model(index) == "usem3"
