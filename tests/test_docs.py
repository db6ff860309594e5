"""Docs are code: every file path that README.md, docs/ and the docstrings and comments of
the code name exists, every `search.x.y` module they name exists, and README's JSON example
has the shape the API returns."""

from __future__ import annotations

import importlib
import json

import pytest
import regex
from helpers import PROJECT

from search.cli import main

ROOTS = ("search", "web", "tests", "bench", "docs", "scripts", "seeds", ".ci")
# A path under one of the project's folders, as prose names it (no wildcards or placeholders).
PATH = regex.compile(rf"(?<![\w./-])((?:{'|'.join(regex.escape(r) for r in ROOTS)})"
                     r"/[\w./-]*[\w/])(?![\w<*{])")
MODULE = regex.compile(r"(?<![\w./])(search(?:\.[a-z_][a-z0-9_]*)+)\b(?!\s*=)")
DOCS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
FILE_SUFFIXES = {"html", "py", "json", "md", "txt", "jsonl", "toml"}
# Names kept on purpose for older code trees that a benchmark may run.
OLDER_TREES = {"search.query"}
CODE = sorted(p for root in ("search", "web", "tests", "bench")
              for p in (PROJECT / root).rglob("*.py"))


def _named_paths(text: str) -> set[str]:
    return {m.rstrip(".") for m in PATH.findall(text)}


def _missing_path(name: str) -> bool:
    return not (PROJECT / name).exists()


def _missing_module(dotted: str) -> bool:
    """A dotted name is real when a prefix of it imports and the rest are its attributes."""
    parts = dotted.split(".")
    if parts[-1] in FILE_SUFFIXES:  # a file name such as search.html
        return False
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return True
            found = getattr(found, name)
        return False
    return True


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_path_a_doc_names_exists(doc):
    text = doc.read_text(encoding="utf-8")
    assert not sorted(p for p in _named_paths(text) if _missing_path(p))
    assert not sorted(m for m in set(MODULE.findall(text)) if _missing_module(m))


def test_every_path_the_code_names_exists():
    missing = {}
    for source in CODE:
        if source.name == "test_docs.py":
            continue
        text = source.read_text(encoding="utf-8")
        found = sorted(p for p in _named_paths(text) if _missing_path(p))
        found += sorted(m for m in set(MODULE.findall(text)) - OLDER_TREES
                        if _missing_module(m))
        if found:
            missing[source.relative_to(PROJECT).as_posix()] = found
    assert not missing


def _readme_json_example() -> dict:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    [block] = regex.findall(r"```json\n(.*?)```", readme, flags=regex.S)
    return json.loads(block)


def _same_shape(example: object, real: object, where: str = "") -> list[str]:
    """Where the example differs from a real response in keys or value types (lists are
    compared by their first item; null stands for any type)."""
    if example is None or real is None:
        return []
    if isinstance(example, dict) and isinstance(real, dict):
        problems = [f"{where}: keys {sorted(example)} != {sorted(real)}"] \
            if list(example) != list(real) else []
        for key in example.keys() & real.keys():
            problems += _same_shape(example[key], real[key], f"{where}.{key}")
        return problems
    if isinstance(example, list) and isinstance(real, list):
        return _same_shape(example[0], real[0], f"{where}[0]") if example and real else []
    numbers = (int, float)
    if isinstance(example, numbers) and isinstance(real, numbers) \
            and not isinstance(example, bool) and not isinstance(real, bool):
        return []
    return [] if type(example) is type(real) else \
        [f"{where}: {type(example).__name__} != {type(real).__name__}"]


def test_the_readme_json_example_is_what_the_api_returns(runner, seed_index):
    """Rendered from a real response over the shipped seeds: the same fields in the same
    order, each of the same type (the values depend on the model)."""
    example = _readme_json_example()
    query = example["query"]
    args = ["query", query["text"], "--index", str(seed_index), "--json", "--collapse",
            query["collapse"], "-k", str(example["size"]), "--mode", query["mode"]]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    real = json.loads(result.stdout)
    assert _same_shape(example, real) == []
    assert example["size"] == len(example["results"]) == real["size"]
