"""Reading seeds/: find the supported files and parse each one into Articles.

Formats: plain text (title line, optional news dateline), Markdown, HTML, JSON and JSON Lines.
Every text that leaves this module has Unix newlines, no control characters other than newline
and tab, stripped paragraphs, and exactly one blank line between paragraphs.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from search.errors import SeedsNotFound, UnreadableFile
from search.ingest.article import Article, FileArticles, ReadLimits
from search.ingest.cleanup import clean, replace_surrogates
from search.ingest.datelines import Dateline, parse_date_words, parse_dateline
from search.ingest.jsonfiles import read_json, read_jsonl
from search.ingest.markup import read_html, read_markdown, read_text

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Article",
    "Dateline",
    "Problem",
    "SeedFile",
    "parse_date_words",
    "parse_dateline",
    "read_articles",
    "scan_seeds",
]

_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")


DEFAULT_LIMITS = ReadLimits()


@dataclass(frozen=True)
class SeedFile:
    path: str  # relative to seeds/, posix separators
    content_hash: str  # sha256 hex of the file's bytes
    limits: ReadLimits = DEFAULT_LIMITS  # what reading it may cost


@dataclass(frozen=True)
class Problem:
    """A file scan_seeds could not take, with a short human reason."""

    path: str
    reason: str


# ---------------------------------------------------------------------------------------------
# Scanning


def scan_seeds(seeds_dir: Path, skip: Path | None = None, limits: ReadLimits = DEFAULT_LIMITS
               ) -> tuple[list[SeedFile], list[Problem]]:
    """Every supported file under seeds_dir, recursively, sorted by path, with its content hash.

    Hidden files and folders, unsupported suffixes and the folder `skip` (an index kept inside
    seeds_dir) are skipped silently. Symlinks resolving outside seeds_dir and files that cannot
    be read become Problems, and so do files larger than limits.max_file_bytes; a bad file
    never raises. Raises SeedsNotFound when seeds_dir is missing or not a folder.
    """
    root = _seeds_root(seeds_dir)
    skipped = skip.resolve() if skip is not None else None
    files: list[SeedFile] = []
    problems: list[Problem] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            problems.append(Problem(_relative(root, folder), f"cannot list folder: {_why(exc)}"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            raw = _relative(root, path)
            rel = replace_surrogates(raw)  # undecodable bytes in a name are shown as U+FFFD
            if entry.is_dir(follow_symlinks=False):
                if path != skipped:
                    pending.append(path)
            elif entry.is_symlink() and _is_dir(path):
                if not _inside(root, path):
                    reason = "symlinked folder points outside the seeds folder"
                    problems.append(Problem(rel, reason))
            elif PurePosixPath(entry.name).suffix.lower() in SUPPORTED_SUFFIXES:
                found: SeedFile | Problem
                if rel != raw:
                    found = Problem(rel, "the file name is not valid UTF-8: rename the file")
                elif _CONTROL_CHARACTER.search(rel):
                    found = Problem(rel, "the file name holds a line break or another control "
                                         "character: rename the file")
                else:
                    found = _seed_file(root, path, rel, limits)
                if isinstance(found, SeedFile):
                    files.append(found)
                else:
                    problems.append(found)
    files.sort(key=lambda f: f.path)
    problems.sort(key=lambda p: p.path)
    return files, problems


def _seeds_root(seeds_dir: Path) -> Path:
    try:
        is_dir = seeds_dir.is_dir()
        exists = is_dir or seeds_dir.exists()
    except OSError:
        is_dir = exists = False
    if not is_dir:
        what = "is not a folder" if exists else "does not exist"
        raise SeedsNotFound(
            f"The seeds folder {seeds_dir} {what}: create it and put articles in it, "
            "or pass --seeds with the folder that holds them."
        )
    return seeds_dir.resolve()


def _seed_file(root: Path, path: Path, rel: str, limits: ReadLimits) -> SeedFile | Problem:
    try:
        real = path.resolve(strict=True)
        if not real.is_relative_to(root):
            return Problem(rel, "symlink points outside the seeds folder")
        info = real.stat()
        if not stat.S_ISREG(info.st_mode):
            return Problem(rel, "not a regular file")
        if info.st_size > limits.max_file_bytes:
            return Problem(rel, _too_large(info.st_size, limits))
        with real.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except FileNotFoundError:
        gone = "broken symlink (its target does not exist)" if path.is_symlink() else None
        return Problem(rel, gone or "file vanished while scanning")
    except RuntimeError:  # Python 3.11 reports symlink loops this way
        return Problem(rel, "symlink loop")
    except OSError as exc:
        return Problem(rel, f"cannot be read: {_why(exc)}")
    return SeedFile(rel, digest, limits)


def _too_large(size: int, limits: ReadLimits) -> str:
    return (f"{size:,} bytes, over the limit of {limits.max_file_bytes:,} "
            "(Settings.max_file_bytes)")


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _inside(root: Path, path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):
        return False


def _why(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or str(exc)).lower()


# ---------------------------------------------------------------------------------------------
# Reading


def read_articles(seeds_dir: Path, seed_file: SeedFile) -> FileArticles:
    """Parse one seed file into its articles (several for .json lists and .jsonl), with the
    records of it that could not be read while others were (FileArticles.lost).

    Raises UnreadableFile, whose message is a short reason, for binary or non-UTF-8 content,
    an empty file, malformed JSON, JSON without a usable text, and a file that vanished.
    """
    path = seeds_dir / seed_file.path
    if not _inside(seeds_dir.resolve(), path):  # replaced by an escaping symlink since the scan
        raise UnreadableFile("symlink points outside the seeds folder")
    limits = seed_file.limits
    raw = _read_bytes(path, limits.max_file_bytes + 1)
    if len(raw) > limits.max_file_bytes:  # it grew since the scan
        raise UnreadableFile(_too_large(len(raw), limits))
    text = _decode(raw)
    suffix = PurePosixPath(seed_file.path).suffix.lower()
    elements = _ELEMENTS.get(suffix)
    if elements is not None and elements[1](text) > limits.max_elements:
        raise UnreadableFile(f"more than {limits.max_elements:,} {elements[0]} "
                             "(Settings.max_elements)")
    parse = _PARSERS.get(suffix)
    if parse is None:
        raise UnreadableFile(f"unsupported file type {suffix!r}")
    found = parse(seed_file.path, text)
    return found if isinstance(found, FileArticles) else FileArticles(found)


def _read_bytes(path: Path, limit: int) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(limit)
    except FileNotFoundError as exc:
        raise UnreadableFile("the file vanished before it could be read") from exc
    except IsADirectoryError as exc:
        raise UnreadableFile("is a folder, not a file") from exc
    except OSError as exc:
        raise UnreadableFile(f"cannot be read: {_why(exc)}") from exc


def _decode(raw: bytes) -> str:
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise UnreadableFile(f"binary content (NUL byte at offset {nul}), not text")
    skip = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        text = raw[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[skip + exc.start]
        offset = skip + exc.start
        raise UnreadableFile(f"not valid UTF-8 (byte 0x{byte:02x} at offset {offset})") from exc
    text = clean(text)
    if not text.strip():
        raise UnreadableFile("empty file" if not text else "the file holds only whitespace")
    return text


# What counts as an element where one costs a parsed object: a cheap upper bound, counted
# before parsing (characters inside strings and text count too).
def _html_tags(text: str) -> int:
    return text.count("<") - text.count("</")


def _json_containers(text: str) -> int:
    return text.count("{") + text.count("[")


_ELEMENTS: dict[str, tuple[str, Callable[[str], int]]] = {
    ".html": ("HTML tags", _html_tags), ".htm": ("HTML tags", _html_tags),
    ".json": ("JSON objects and arrays", _json_containers)}

_PARSERS: dict[str, Callable[[str, str], list[Article]]] = {
    ".txt": read_text,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".json": read_json,
    ".jsonl": read_jsonl,
}
