"""The query-time language-bias correction of the dense side: the arithmetic, table-driven."""

from __future__ import annotations

import numpy as np

from search.config import Settings
from search.encoders.centering import LanguageCentroids
from search.ranking.language_bias import MIN_PARAGRAPHS, LanguageBias, language_bias
from search.records import Candidate, Catalog


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def test_rescored_scores_are_inner_products_with_both_offsets_taken_out():
    rng = np.random.default_rng(0)
    offsets = {"en": 0.3 * unit(rng.standard_normal(8)), "de": 0.4 * unit(rng.standard_normal(8))}
    bias = LanguageBias({k: v.astype(np.float32) for k, v in offsets.items()})
    query = unit(rng.standard_normal(8)).astype(np.float32)
    stored = [unit(rng.standard_normal(8)).astype(np.float32) for _ in range(6)]
    langs = ["en", "de", "en", "de", "ru", "en"]  # ru has no offset
    debiased = bias.debiased(query, "en")
    np.testing.assert_allclose(debiased, unit(query - offsets["en"]), atol=1e-6)
    raw = [Candidate(pid, float(debiased @ vector)) for pid, vector in enumerate(stored)]
    rescored = bias.rescored(raw, langs, debiased)
    expected = {pid: float(debiased @ (vector - offsets.get(lang, 0.0)))
                for pid, (vector, lang) in enumerate(zip(stored, langs, strict=True))}
    assert {c.pid: round(c.score, 5) for c in rescored} == \
        {pid: round(score, 5) for pid, score in expected.items()}
    assert [c.pid for c in rescored] == sorted(expected, key=lambda pid: -expected[pid])


def test_equal_scores_after_the_correction_are_ordered_by_pid():
    bias = LanguageBias({"en": np.array([0.5, 0.0], dtype=np.float32),
                         "de": np.array([-0.5, 0.0], dtype=np.float32)})
    vector = np.array([1.0, 0.0], dtype=np.float32)
    found = [Candidate(7, 1.0), Candidate(3, 0.5), Candidate(5, 0.0)]
    rescored = bias.rescored(found, ["en", "ru", "de"], vector)
    assert rescored == [Candidate(3, 0.5, None, "ru"), Candidate(5, 0.5, None, "de"),
                        Candidate(7, 0.5, None, "en")]


def test_a_vector_in_a_language_without_an_offset_is_left_as_it_is():
    bias = LanguageBias({"en": np.array([0.5, 0.0], dtype=np.float32)})
    vector = np.array([0.6, 0.8], dtype=np.float32)
    assert bias.debiased(vector, "vi") is vector


def catalog_with(centroids: LanguageCentroids | None) -> Catalog:
    return Catalog(1, "fake", 2, Settings(), 1, "2025-08-01T00:00:00+00:00", centroids=centroids)


def test_the_correction_needs_statistics_of_two_languages_with_enough_paragraphs():
    rows = np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (MIN_PARAGRAPHS, 1))
    other = np.tile(np.array([[0.0, 1.0]], dtype=np.float32), (MIN_PARAGRAPHS, 1))
    two = LanguageCentroids().added(np.vstack([rows, other]),
                                    ["en"] * MIN_PARAGRAPHS + ["de"] * MIN_PARAGRAPHS)
    bias = language_bias(catalog_with(two))
    assert bias is not None and sorted(bias.offsets) == ["de", "en"]
    np.testing.assert_allclose(bias.offsets["en"], [0.5, -0.5])
    assert language_bias(catalog_with(two), enabled=False) is None
    assert language_bias(catalog_with(None)) is None  # an index from before the statistics
    few = two.removed(other[:1], ["de"])
    assert language_bias(catalog_with(few)) is None
