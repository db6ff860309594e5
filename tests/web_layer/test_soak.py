"""The soak benchmark (bench/soak.py) for about a minute, with the fake encoder: a real
`search serve` process under a steady stream of new queries while reindex jobs add and remove
articles every 8 s. docs/reliability.md has the figures of the full ten-minute run."""

from __future__ import annotations

import pytest
from helpers import PROJECT
from web_fixtures import fake_model_command


@pytest.fixture
def soak(monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT / "bench"))
    import soak

    return soak


def test_a_minute_of_queries_and_reindexes_fails_nothing_and_leaks_nothing(soak, tmp_path,
                                                                           capsys):
    config = soak.Config(tuple(fake_model_command()), model="fake", minutes=0.8, rate=20,
                         reindex_every=8, warmup=16, window=12, sample_every=2)
    result = soak.run(config, work=tmp_path)
    totals = result["totals"]
    with capsys.disabled():
        print(f"\nsoak: {totals['requests']} requests ({totals['failures']} failed), p50 "
              f"{totals['p50_ms']} ms, p95 {totals['p95_ms']} ms; {totals['reindexes']} "
              f"reindexes; memory {totals['rss_mb']}; descriptors {totals['fds']}")
    assert totals["failures"] == 0, totals["failure_examples"]
    assert totals["reindexes"] >= 4 and totals["reindexes_failed"] == 0, totals
    assert totals["requests"] >= 0.9 * config.rate * config.seconds
    assert all(result["targets"].values()), result["targets"]
