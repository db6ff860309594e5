"""The package face: `import search` exports the public API without loading heavy parts,
`python -m search` is the CLI, and README's Python example runs as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import search

ROOT = Path(__file__).resolve().parents[1]


def test_public_names_are_exported():
    for name in search.__all__:
        assert getattr(search, name) is not None, name
    assert issubclass(search.InvalidQuery, search.SearchError)


def test_import_loads_neither_torch_nor_faiss_nor_the_web_layer():
    code = ("import sys, search; print(sorted(m for m in ('torch', 'faiss', 'web', "
            "'whoosh.index', 'flask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "search", "--help"], capture_output=True,
                            text=True, check=True)
    assert result.stdout.startswith("Usage: search [OPTIONS] COMMAND")
    for command in ("index", "query", "serve", "stats", "check"):
        assert command in result.stdout


def readme_python_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use from Python", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path):
    """With the real default model, on the shipped seeds, in a fresh folder."""
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    (tmp_path / "example.py").write_text(readme_python_example(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"g000001: \d+ paragraphs added", lines[0])
    assert len(lines) == 4
    assert "000_7c2908e13247d0b5.txt:4" in lines[1]  # the prisoner-exchange paragraph
