"""Memory that comes back (issue 21, finding 7): the analysis memos of a process share one
budget in bytes (search.memo), so 300 long queries of unique words through one worker leave
its RSS within a bound (docs/reliability.md has the measurement it was set from)."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import PROJECT, article, build, write

from search.memo import MemoStore, size_of

# Growth of one worker's RSS over the 300 queries after 20 to warm up. Measured (2026-12-07,
# machine loaded): 229 MB before search.memo (be21de9), 51 MB with it.
RSS_GROWTH_BOUND_MB = 100

WORKER = """
import json, random, string, sys
sys.path[:0] = sys.argv[1:3]
from helpers import FakeEncoder
from search.engine import Engine
from search.ranking.query import Query

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

rng = random.Random(7)

def unique_words():
    words = []
    while sum(len(w) + 1 for w in words) < 1990:
        words.append("".join(rng.choice(string.ascii_lowercase)
                             for _ in range(rng.randint(5, 11))))
    return " ".join(words)[:2000]

engine = Engine(sys.argv[3], encoder_factory=lambda model: FakeEncoder()).open()
for _ in range(20):
    engine.search(Query(unique_words()))
before = rss_mb()
for _ in range(300):
    assert engine.search(Query(unique_words())).listed >= 0
print(json.dumps({"before": before, "after": rss_mb()}))
"""

PARAGRAPHS = {
    "en": "The harbour cranes moved container ships through the night at the port.",
    "de": "Die Verhandlungen über einen Gefangenenaustausch werden in Istanbul fortgesetzt.",
    "fr": "Les négociations sur un échange de prisonniers se poursuivent à Istanbul demain.",
    "es": "Las negociaciones sobre un intercambio de prisioneros continúan en Estambul hoy.",
    "it": "I negoziati per uno scambio di prigionieri continuano a Istanbul questa settimana.",
    "pt": "As negociações sobre uma troca de prisioneiros continuam em Istambul esta semana.",
    "nl": "De onderhandelingen over een gevangenenruil worden in Istanbul voortgezet deze week.",
    "sv": "Förhandlingarna om ett fångutbyte fortsätter i Istanbul under veckan som kommer.",
    "ru": "Переговоры об обмене пленными продолжатся в Стамбуле на этой неделе, сообщили.",
    "fi": "Neuvottelut vankienvaihdosta jatkuvat Istanbulissa tällä viikolla, kertoivat he.",
}


def test_long_unique_word_queries_leave_a_workers_memory_bounded(tmp_path):
    seeds = tmp_path / "seeds"
    for code, text in PARAGRAPHS.items():  # ten languages: each analyses a query's words
        for n in range(3):
            write(seeds / f"{code}{n}.md", article(f"{code} {n}", code, f"{text} ({n})",
                                                   f"{text} Again."))
    index = build(seeds, tmp_path / "idx")
    done = subprocess.run([sys.executable, "-c", WORKER, str(PROJECT), str(PROJECT / "tests"),
                           str(index)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rss = json.loads(done.stdout)
    growth = rss["after"] - rss["before"]
    print(f"RSS {rss['before']:.0f} -> {rss['after']:.0f} MB (+{growth:.0f} MB)")
    assert growth < RSS_GROWTH_BOUND_MB, rss


def test_the_memo_store_keeps_within_its_bytes_and_answers_right():
    store = MemoStore(max_bytes=50_000)
    calls: list[str] = []

    def upper(word: str) -> tuple[str, bool]:
        calls.append(word)
        return word.upper(), False

    remembered = store.memoize(upper)
    other = store.memoize(lambda word: None)  # a second memo shares the budget
    for n in range(5_000):
        assert remembered(f"word{n}") == (f"WORD{n}", False)
        assert other(f"word{n}") is None
        assert store.bytes <= 50_000
    assert 0 < len(store) < 1_000
    assert remembered("word4999") == ("WORD4999", False) and calls.count("word4999") == 1
    assert remembered("word0") == ("WORD0", False) and calls.count("word0") == 2  # evicted
    assert size_of(("abc", ("d", True), None)) > size_of("abc")
