"""The indexing progress line: counts, paragraphs/s and an ETA, with the total estimated while
files are still being read."""

from __future__ import annotations

import io

import pytest

from search.progress import ProgressBars, clock, describe, estimated_total, rate_of


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0:00"), (7.4, "0:07"), (59.6, "1:00"), (750, "12:30"), (3723, "1:02:03")])
def test_clock(seconds, text):
    assert clock(seconds) == text


@pytest.mark.parametrize(("found", "read", "files", "expected"), [
    (100, 10, 10, (100, False)),   # every file read: exact
    (100, 5, 10, (200, True)),     # half the files: twice as many
    (0, 0, 10, (0, True)),
    (100, 0, 0, (100, False)),     # nothing to read
])
def test_estimated_total(found, read, files, expected):
    assert estimated_total(found, read, files) == expected


@pytest.mark.parametrize(("done", "first", "seconds", "rate"), [
    (100, 0, 0.2, None), (0, 0, 5, None), (100, 0, 4, 25.0), (300, 100, 2, 100.0)])
def test_rate_of(done, first, seconds, rate):
    assert rate_of(done, first, seconds) == rate


def test_describe():
    assert describe("embedding", 1234, 20000, 305.0, estimate=True) == (
        "embedding [#-----------------------] 1,234/~20,000 paragraphs  305 paragraphs/s"
        "  ETA 1:02")
    assert describe("reading", 5, 10) == "reading   [############------------] 5/10 files"
    assert describe("embedding", 80, 80, 40.0).endswith("80/80 paragraphs  40 paragraphs/s")


def test_bars_show_rate_eta_and_reading_beside_embedding():
    now = [0.0]
    out = io.StringIO()
    with ProgressBars(enabled=True, stream=out, now=lambda: now[0]) as bars:
        bars("reading", 1, 4)
        bars("embedding", 0, 100)
        now[0] = 2.0
        bars("reading", 2, 4)
        bars("embedding", 100, 200)
        assert bars.line("embedding", now[0]) == (
            "embedding [######------------------] 100/~400 paragraphs  50 paragraphs/s"
            "  ETA 0:06  (reading 2/4 files)")
        bars("reading", 4, 4)
        bars("embedding", 400, 400)
    lines = out.getvalue().split("\n")
    assert lines[-1] == ""
    assert lines[-2].rstrip().endswith("400/400 paragraphs  200 paragraphs/s")


def test_small_stages_and_disabled_bars_draw_nothing():
    out = io.StringIO()
    with ProgressBars(enabled=True, stream=out) as bars:
        bars("embedding", 10, 20)
    with ProgressBars(enabled=False, stream=out) as bars:
        bars("embedding", 100, 200)
    assert out.getvalue() == ""
