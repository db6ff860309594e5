"""Per-language vector statistics: exact under additions and removals, saved and read back,
and the offsets the query-time correction takes out of the dense side."""

from __future__ import annotations

import numpy as np
import pytest

from search.encoders.centering import LanguageCentroids


def unit_rows(count: int, seed: int, dim: int = 8) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def assert_same(a: LanguageCentroids, b: LanguageCentroids) -> None:
    assert a.counts == b.counts
    assert a.sums.keys() == b.sums.keys()
    for lang in a.sums:
        np.testing.assert_allclose(a.sums[lang], b.sums[lang], atol=1e-9)


def test_removing_what_was_added_leaves_the_statistics_of_the_rest():
    rows = unit_rows(9, seed=1)
    langs = ["en", "de", "en", "ru", "de", "en", "ru", "ru", "en"]
    everything = LanguageCentroids().added(rows, langs)
    without = everything.removed(rows[[1, 3, 5]], [langs[i] for i in (1, 3, 5)])
    rest = [i for i in range(9) if i not in (1, 3, 5)]
    assert_same(without, LanguageCentroids().added(rows[rest], [langs[i] for i in rest]))
    assert without.counts == {"de": 1, "en": 3, "ru": 2}
    np.testing.assert_allclose(without.mean("ru"), rows[[6, 7]].mean(axis=0), atol=1e-6)


def test_a_language_whose_paragraphs_are_all_removed_disappears():
    rows = unit_rows(3, seed=2)
    stats = LanguageCentroids().added(rows, ["en", "de", "en"]).removed(rows[[1]], ["de"])
    assert stats.counts == {"en": 2} and stats.mean("de") is None


def test_the_statistics_are_saved_and_read_back_exactly():
    stats = LanguageCentroids().added(unit_rows(5, seed=3), ["th", "zh", "th", "en", "zh"])
    assert_same(LanguageCentroids.from_dict(stats.to_dict()), stats)


def test_offsets_are_each_mean_minus_the_mean_of_the_means():
    en, de, ru = unit_rows(4, seed=4), unit_rows(2, seed=5), unit_rows(3, seed=6)
    stats = LanguageCentroids().added(np.vstack([en, de, ru]), ["en"] * 4 + ["de"] * 2 + ["ru"] * 3)
    means = {"en": en.mean(axis=0), "de": de.mean(axis=0), "ru": ru.mean(axis=0)}
    middle = (means["en"] + means["de"] + means["ru"]) / 3
    offsets = stats.offsets(min_paragraphs=2)
    assert sorted(offsets) == ["de", "en", "ru"]
    for lang, mean in means.items():
        np.testing.assert_allclose(offsets[lang], mean - middle, atol=1e-6)
    # de has too few paragraphs for a mean to trust: it neither has an offset nor moves the
    # middle the others are measured from.
    offsets = stats.offsets(min_paragraphs=3)
    assert sorted(offsets) == ["en", "ru"]
    np.testing.assert_allclose(offsets["en"], (means["en"] - means["ru"]) / 2, atol=1e-6)


@pytest.mark.parametrize("min_paragraphs", [1, 4])
def test_one_language_alone_has_no_offsets(min_paragraphs):
    rows = unit_rows(6, seed=7)
    stats = LanguageCentroids().added(rows, ["en"] * 4 + ["de"] * 2)
    expected = ["de", "en"] if min_paragraphs == 1 else []
    assert sorted(stats.offsets(min_paragraphs)) == expected
