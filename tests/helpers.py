"""Helpers the tests share (imported as `helpers`; fixtures are in conftest.py): the fake
encoder, files in tmp_path, and what the fault tests need: a small corpus and its update,
the `search` command with the fake encoder, and what an index holds and answers, to compare
before and after a fault."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import warnings
from contextlib import suppress
from pathlib import Path

import numpy as np
import regex
from click.testing import CliRunner, Result

from search.backends.local.reader import LocalReader
from search.backends.local.store import IndexStore
from search.cli import main
from search.config import Settings
from search.encoders.base import ModelInfo
from search.engine import Engine
from search.index.updater import update_index
from search.ingest.language import LanguageDetector
from search.ranking.query import Mode, Query

PROJECT = Path(__file__).resolve().parent.parent
SEEDS = PROJECT / "seeds"
_WORD = regex.compile(r"\w+")


class FakeEncoder:
    """Bag-of-words vectors from hashed lowercase words: fast, deterministic, and texts
    sharing words are close. For unit tests of the plumbing, not of meaning."""

    def __init__(self, dim: int = 64, name: str = "fake", languages=None) -> None:
        self.info = ModelInfo(name=name, dim=dim, languages=languages, max_chars=2000)
        self.calls = 0
        self.encoded = 0

    def encode(self, texts, batch_size: int = 64) -> np.ndarray:
        self.calls += 1
        self.encoded += len(texts)
        vectors = np.zeros((len(texts), self.info.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=4)
                vectors[row, int.from_bytes(digest.digest(), "little") % self.info.dim] += 1.0
            vectors[row, 0] += 1e-3  # no all-zero rows
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode_queries(self, texts, batch_size: int = 64) -> np.ndarray:
        return self.encode(texts, batch_size)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


SETTINGS = Settings(model="fake")
DETECTOR = LanguageDetector()  # shared: loading its model takes a second
ENCODER = FakeEncoder()
QUERIES = [
    ("harbour cranes container ships", Mode.KEYWORD),
    ("harbour cranes container ships", Mode.SEMANTIC),
    ("storm warning for the northern coast", Mode.HYBRID),
    ("Gefangenenaustausch Verhandlungen", Mode.HYBRID),
    ("élections municipales", Mode.KEYWORD),
    ("ferry strike wages", Mode.SEMANTIC),
]


def article(title: str, lang: str, *paragraphs: str) -> str:
    return f"---\nlang: {lang}\n---\n\n# {title}\n\n" + "\n\n".join(paragraphs) + "\n"


def base_corpus(seeds: Path) -> Path:
    for n in range(6):
        write(seeds / "news" / f"a{n:02d}.md", article(
            f"Port report {n}", "en",
            f"The harbour cranes at terminal {n} moved container ships through the night.",
            f"Dock workers at terminal {n} said the new schedule keeps the port busy."))
    write(seeds / "news" / "de.md", article(
        "Verhandlungen", "de",
        "Die Verhandlungen über einen Gefangenenaustausch werden in Istanbul fortgesetzt.",
        "Beide Seiten wollen weitere Gefangene austauschen, sagten die Unterhändler."))
    write(seeds / "news" / "fr.md", article(
        "Élections", "fr",
        "Les élections municipales auront lieu au printemps dans toutes les communes du pays.",
        "Les candidats présentent leurs programmes sur les transports et le logement."))
    write(seeds / "feed.jsonl", "\n".join(json.dumps({
        "id": str(n), "lang": "en", "title": f"Weather {n}",
        "text": f"Storm warning {n}: heavy rain and strong winds on the northern coast."})
        for n in range(4)))
    return seeds


def later_corpus(seeds: Path) -> Path:
    """The base corpus after a day: files added, changed and removed."""
    for n in range(14):
        write(seeds / "news" / f"b{n:02d}.md", article(
            f"Ferry strike {n}", "en",
            f"Ferry workers in port {n} walked out over unpaid wages on Monday morning.",
            f"The strike {n} stranded travellers, and talks with the operator continue.",
            f"Unions said strike {n} would last until the wages are paid in full."))
    write(seeds / "news" / "a01.md", article(
        "Port report 1", "en", "The harbour cranes at terminal one stood still for repairs.",
        "Container ships waited outside the harbour until the cranes worked again."))
    (seeds / "news" / "a02.md").unlink()
    with open(seeds / "feed.jsonl", "a", encoding="utf-8") as handle:
        handle.write("\n" + json.dumps({"id": "9", "lang": "en", "title": "Late storm",
                                         "text": "A late storm warning for the southern coast."}))
    return seeds


def build(seeds: Path, index_dir: Path, settings: Settings = SETTINGS) -> Path:
    update_index(seeds, index_dir, settings, lambda: ENCODER, detector=DETECTOR)
    return index_dir


def use_fake_model(monkeypatch) -> None:
    """Make `search` load the fake encoder instead of the real model, and make `serve` fail
    where it would start listening: these tests expect it to stop before, and a server that
    did start would wait for requests for ever."""
    monkeypatch.setattr("search.encoders.loading.load_encoder",
                        lambda model, threads=0, **_: FakeEncoder())
    monkeypatch.setattr("web.serving.create_server", _refuse_to_listen)
    monkeypatch.setattr("web.serving.serve_in_workers", _refuse_to_fork)  # --workers 2+


def fake_cli(monkeypatch) -> CliRunner:
    """A CliRunner whose `search` loads the fake encoder (see use_fake_model)."""
    use_fake_model(monkeypatch)
    return CliRunner()


def _refuse_to_listen(*args: object, **kwargs: object) -> None:
    raise AssertionError("`search serve` opened the index and was about to listen")


def _refuse_to_fork(*args: object, **kwargs: object) -> None:
    raise AssertionError("`search serve` opened the index and was about to fork its workers")


def run(runner: CliRunner, *args: object) -> Result:
    return runner.invoke(main, [str(a) for a in args])


def error_line(result: Result) -> str:
    """The one line a failed command printed on stderr (it fails if there are more)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    return line


def answers(index_dir: Path) -> list:
    """The fixed queries' hits as (paragraph id, score) lists."""
    engine = Engine(index_dir, encoder_factory=lambda model: ENCODER, detector=DETECTOR).open()
    try:
        return [[(hit.paragraph_id, hit.score)
                 for hit in engine.search(Query(text, mode=mode, lang="en", size=10)).hits]
                for text, mode in QUERIES]
    finally:
        engine.close()


def fingerprint(index_dir: Path) -> dict:
    """What the live generation holds (paragraphs and their vectors) and answers."""
    store = IndexStore(index_dir)
    name = store.require_current()
    reader = LocalReader.load(store, name, ef_search=1024)
    try:
        paragraphs = sorted((p.pid, p.article_id, p.position, p.text, p.lang)
                            for p in reader.paragraph_store.in_order())
        vectors = np.stack([reader.vector(p[0]) for p in paragraphs])
    finally:
        reader.close()
    return {"generation": name, "paragraphs": paragraphs, "vectors": vectors.tobytes(),
            "answers": answers(index_dir)}


def files_of(index_dir: Path) -> dict[str, str]:
    """Every file of the index but the embedding cache and the writer's lock, with a hash of
    its content: two equal results mean nothing was added, removed or changed."""
    found = {}
    for path in sorted(index_dir.rglob("*")):
        relative = path.relative_to(index_dir).as_posix()
        if path.is_file() and not relative.startswith("cache/") and relative != "writer.lock":
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def layout(index_dir: Path) -> list[str]:
    """The names of the index's files (as files_of), with Whoosh's random segment ids masked:
    two equal layouts hold the same kinds of files in the same places."""
    return sorted(re.sub(r"_[a-z0-9]{16}\.seg$", "_*.seg", name) for name in files_of(index_dir))


def settle() -> None:
    """Collect what a failed writer left: Whoosh leaves files open when a write fails, and
    they close when the writer is dropped (quietly, as outside the tests)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def open_files(folder: Path) -> list[str]:
    """The files under `folder` that this process holds open."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with suppress(OSError):  # the listing's own descriptor is gone by now
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(f"{folder}/"):
                found.append(target)
    return found
