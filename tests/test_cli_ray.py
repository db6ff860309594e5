"""`search index --ray`: a local Ray end to end, and one line (exit 1) for each way it fails
before anything is written."""

from __future__ import annotations

import json
import sys

import pytest

from search.cli import main


def test_help_shows_the_option(runner):
    result = runner.invoke(main, ["index", "--help"])
    assert "--ray [ADDRESS]" in result.output and "scale extra" in result.output


def test_without_ray_installed_it_says_how_to_install_it(runner, seeds_copy, tmp_path,
                                                         monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    result = runner.invoke(main, ["index", "--seeds", str(seeds_copy), "--index",
                                  str(tmp_path / "idx"), "--ray"])
    assert result.exit_code == 1
    assert result.output == 'Error: Ray is not installed here: pip install -e ".[scale]"\n'
    assert not (tmp_path / "idx").exists()


def test_an_address_where_nothing_answers_is_one_line(runner, seeds_copy, tmp_path):
    pytest.importorskip("ray")
    result = runner.invoke(main, ["index", "--seeds", str(seeds_copy), "--index",
                                  str(tmp_path / "idx"), "--ray", "127.0.0.1:1"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach Ray at 127.0.0.1:1 (")
    assert result.output.count("\n") == 1
    assert not (tmp_path / "idx").exists()


@pytest.mark.slow
def test_index_on_a_local_ray(runner, seeds_copy, tmp_path, ray_session):
    index = str(tmp_path / "idx")
    result = runner.invoke(main, ["index", "--seeds", str(seeds_copy), "--index", index,
                                  "--ray", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["paragraphs_added"] == summary["paragraphs_embedded"] > 100
    assert runner.invoke(main, ["check", "--index", index]).exit_code == 0
    (seeds_copy / "000_7c2908e13247d0b5.txt").unlink()
    result = runner.invoke(main, ["index", "--seeds", str(seeds_copy), "--index", index,
                                  "--ray", "--json"])
    assert json.loads(result.stdout)["paragraphs_embedded"] == 0  # nothing new: Ray idle
