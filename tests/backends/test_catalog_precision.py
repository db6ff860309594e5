"""The precision of the encoder that made an index's vectors, as the catalog records it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner
from helpers import FakeEncoder, write

from search.cli import main
from search.config import Settings
from search.engine import Engine
from search.index.updater import update_index
from search.ingest.language import LanguageDetector
from search.records import Catalog

SETTINGS = Settings(model="fake")
DETECTOR = LanguageDetector()


def encoder_at(precision: str) -> FakeEncoder:
    encoder = FakeEncoder()
    encoder.info = replace(encoder.info, precision=precision)
    return encoder


def build(seeds: Path, index_dir: Path, precision: str) -> None:
    update_index(seeds, index_dir, SETTINGS, lambda: encoder_at(precision), detector=DETECTOR)


def stats(index_dir: Path) -> dict:
    result = CliRunner().invoke(main, ["stats", "--index", str(index_dir), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_catalog_without_the_field_reads_as_fp32():
    data = Catalog(1, "usem3", 512, Settings(), 1, "2025-08-01T00:00:00+00:00").to_dict()
    assert data["precision"] == "fp32"
    del data["precision"]
    assert Catalog.from_dict(data).precision == "fp32"
    assert Catalog.from_dict({**data, "precision": "bf16"}).precision == "bf16"


def test_a_new_index_records_its_precision_and_stats_show_it(tmp_path):
    write(tmp_path / "seeds" / "a.md", "# Port\n\nThe harbour cranes moved container ships.")
    build(tmp_path / "seeds", tmp_path / "idx", "bf16")
    assert stats(tmp_path / "idx")["precision"] == "bf16"
    text = CliRunner().invoke(main, ["stats", "--index", str(tmp_path / "idx")]).output
    assert "bf16" in text
    # A query at another precision is allowed: the vectors are compatible.
    with Engine(tmp_path / "idx", SETTINGS, encoder_factory=lambda m: encoder_at("fp32")) as e:
        e.open()
        assert e.stats().precision == "bf16"
        from search.ranking.query import Query
        assert e.search(Query("harbour cranes")).hits


def test_an_update_records_the_precision_of_its_encoder(tmp_path):
    seeds, index_dir = tmp_path / "seeds", tmp_path / "idx"
    write(seeds / "a.md", "# Port\n\nThe harbour cranes moved container ships.")
    build(seeds, index_dir, "fp32")
    write(seeds / "b.md", "# Docks\n\nDock workers at the terminal were busy all week.")
    build(seeds, index_dir, "int8")
    assert stats(index_dir)["precision"] == "int8"
    (seeds / "b.md").unlink()  # nothing to embed: the previous record stays
    build(seeds, index_dir, "bf16")
    assert stats(index_dir)["precision"] == "int8"


def test_an_old_local_index_without_the_field_reads_as_fp32(tmp_path):
    write(tmp_path / "seeds" / "a.md", "# Port\n\nThe harbour cranes moved container ships.")
    build(tmp_path / "seeds", tmp_path / "idx", "bf16")
    [manifest] = (tmp_path / "idx" / "generations").glob("*/manifest.json")
    data = json.loads(manifest.read_text(encoding="utf-8"))
    del data["catalog"]["precision"]
    manifest.write_text(json.dumps(data), encoding="utf-8")
    assert stats(tmp_path / "idx")["precision"] == "fp32"
