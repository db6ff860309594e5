"""An index on a read-only file system, and files the serving user may not read.

Readers never write: `search query`, `stats`, `check` and `serve` work on a read-only bind
mount of a good index (their leases are shared flocks on a file opened read-only, which the
writer sees through the writable path), and `search index` there fails with one line. A
generation whose lease a reader cannot take is read all the same; garbage collection keeps
the newest two generations whatever the leases say, and an open reader reads on even after
its generation is deleted.

Unreadable files: chmod 000 does not stop root, so those tests drop privileges: a child
process imports everything as root, then becomes `nobody` (os.setuid) and runs the commands
on copies of an index owned by root, each with one file or folder it may not read. Files
replaced by a folder or a dangling link are tried as root. Each case is one line naming the
file, never a traceback.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest
from helpers import (
    DETECTOR,
    ENCODER,
    PROJECT,
    answers,
    base_corpus,
    build,
    error_line,
    run,
    write,
)
from mounts import need_root, read_only_bind
from web_fixtures import TESTS, fake_model_command, wait_for

from search.backends import open_backend
from search.config import Settings
from search.engine import Engine
from search.ranking.query import Mode, Query
from search.records import Filters

CHECK_OK = "OK "


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A small index with an HNSW graph (threshold lowered), and its seeds."""
    root = tmp_path_factory.mktemp("read-only")
    seeds = base_corpus(root / "seeds")
    build(seeds, root / "idx", Settings(model="fake", ann_threshold=10))
    return root


pytestmark = pytest.mark.usefixtures("fake_model")


def outputs(runner, index_dir: Path) -> dict[str, str]:
    """What the reading commands print for an index (times left out)."""
    found = {}
    for name, args in (("keyword", ["query", "harbour cranes", "--mode", "keyword"]),
                       ("hybrid", ["query", "storm warning coast"]),
                       ("stats", ["stats"]), ("check", ["check"])):
        result = run(runner, *args, "--json", "--index", index_dir)
        assert result.exit_code == 0, (args, result.output)
        data = json.loads(result.stdout)
        data.pop("took_ms", None)
        data.pop("index_dir", None)
        found[name] = data
    return found


def test_readers_work_on_a_read_only_mount_and_index_says_why_it_cannot(
        good, tmp_path, runner):
    index_dir = shutil.copytree(good / "idx", tmp_path / "idx")
    expected = outputs(runner, index_dir)
    # A generation written before writers made lease files has none, and a reader on a
    # read-only file system cannot make one: it reads without a lease.
    (index_dir / "generations" / "g000001" / "lease").unlink()
    with read_only_bind(index_dir, tmp_path / "ro") as ro:
        assert outputs(runner, ro) == expected
        assert run(runner, "check", "--index", ro).stdout.startswith(CHECK_OK)
        line = error_line(run(runner, "index", "--seeds", good / "seeds", "--index", ro,
                              "--model", "fake"))
        assert line == (f"Error: {ro} is on a read-only file system, so `search index` cannot "
                        f"write {ro}/writer.lock; query, stats, check and serve work read-only")


def test_serve_on_a_read_only_mount(good, tmp_path):
    """`search serve` (a real process, with the fake model) answers from a read-only copy;
    its reindex jobs fail with the one line and it keeps serving."""
    index_dir = shutil.copytree(good / "idx", tmp_path / "idx")
    with read_only_bind(index_dir, tmp_path / "ro") as ro:
        server = subprocess.Popen(
            fake_model_command("serve", "--index", ro, "--seeds", good / "seeds", "--port", 0),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
            assert line.startswith("serving http://127.0.0.1:"), (line, server.stderr.read())
            base = line.split()[1].rstrip(";/")
            hits = get(base + "/api/search?q=harbour+cranes&mode=keyword")
            assert hits["generation"] == "g000001" and hits["results"]
            assert get(base + "/api/health")["status"] == "ok"
            request = urllib.request.Request(base + "/api/reindex", data=b"", method="POST")
            with urllib.request.urlopen(request, timeout=10) as response:
                status_url = base + json.load(response)["status_url"]
            job = wait_for(lambda: finished(status_url), timeout=30)
            assert job["status"] == "failed"
            assert job["error"] == (f"{ro} is on a read-only file system, so `search index` "
                                    f"cannot write {ro}/writer.lock; query, stats, check and "
                                    "serve work read-only")
            assert get(base + "/api/search?q=storm+warning")["results"]
        finally:
            server.send_signal(signal.SIGTERM)
            _, err = server.communicate(timeout=30)
        assert "Traceback" not in err, err


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def finished(status_url: str) -> dict | None:
    job = get(status_url)
    return job if job["status"] in ("done", "failed") else None


def test_garbage_collection_keeps_what_readers_on_a_read_only_mount_hold(good, tmp_path):
    index_dir = shutil.copytree(good / "idx", tmp_path / "idx")
    seeds = shutil.copytree(good / "seeds", tmp_path / "seeds")
    generations = index_dir / "generations"

    def update(number: int) -> None:
        write(seeds / "news" / f"late{number}.md", f"# Late {number}\n\nLate news {number}.\n")
        build(seeds, index_dir)

    def engine(path: Path) -> Engine:
        return Engine(path, encoder_factory=lambda model: ENCODER, detector=DETECTOR).open()

    def top(reader: Engine) -> list[str]:
        page = reader.search(Query("harbour cranes terminal", mode=Mode.HYBRID, lang="en",
                                   filters=Filters()))
        return [hit.paragraph_id for hit in page.hits]

    with read_only_bind(index_dir, tmp_path / "ro") as ro:
        held = engine(ro)  # its lease on g000001 goes through the read-only mount
        before = top(held)
        update(2)
        update(3)  # g000001 is past the newest two, but leased
        assert sorted(p.name for p in generations.iterdir()) == ["g000001", "g000002", "g000003"]
        assert top(held) == before
        held.close()
        update(4)
        assert sorted(p.name for p in generations.iterdir()) == ["g000003", "g000004"]

        # A reader that cannot take a lease: the newest two are kept anyway, and once its
        # generation is deleted, it reads on from the files it holds open.
        (generations / "g000004" / "lease").unlink()
        unleased = engine(ro)
        before = top(unleased)
        update(5)
        assert (generations / "g000004").is_dir()
        update(6)
        assert sorted(p.name for p in generations.iterdir()) == ["g000005", "g000006"]
        assert top(unleased) == before
        unleased.close()
    assert answers(index_dir)  # and the writable side is a sound index
    assert open_backend(index_dir).check().ok


# -- files the serving user may not read -----------------------------------------------------

AS_NOBODY = r'''
"""Test harness: run `search` commands as the user nobody, with the fake encoder. Everything
is imported (and each reading command run once) as root first, so that nobody needs no access
to the project; then the process drops its privileges for good."""
import json, os, pwd, sys
sys.path[:0] = sys.argv[1:3]
import search.encoders.loading
from helpers import FakeEncoder
search.encoders.loading.load_encoder = lambda model, threads=0, **_: FakeEncoder()
from click.testing import CliRunner
from search.cli import main
import importlib, pkgutil, waitress.server, search, web
# The project and its environment may lie in a folder nobody may enter (root's home, any
# `mktemp -d` folder): every module of ours is imported now, with what it imports.
for package in (search, web):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if module.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional extra that is not installed
            pass
# Data read on each use, from that environment: a copy in a folder nobody may read.
import py3langid.langid, shutil
py3langid.langid.MODEL_FILE = shutil.copy(
    py3langid.langid.MODEL_DIR / py3langid.langid.MODEL_FILE, sys.argv[3])
runner = CliRunner()
warm_up, cases = json.load(sys.stdin)
for args in warm_up:
    assert runner.invoke(main, args).exit_code == 0, args
nobody = pwd.getpwnam("nobody")
os.setgroups([])
os.setgid(nobody.pw_gid)
os.setuid(nobody.pw_uid)
results = [runner.invoke(main, args) for args in cases]
print(json.dumps([[r.exit_code, r.stdout, r.stderr + (repr(r.exception) if r.exit_code == 1
                    and not r.stderr else "")] for r in results]))
'''

UNREADABLE = {  # case: (the path under the index made unreadable, its mode)
    "manifest": ("generations/g000001/manifest.json", 0o600),
    "paragraphs": ("segments/s000001.jsonl", 0o600),
    "vectors": ("segments/s000001.npy", 0o600),
    "graph": ("segments/ann-g000001.faiss", 0o600),
    "keyword segment": ("generations/g000001/keyword/*.seg", 0o600),
    "keyword folder": ("generations/g000001/keyword", 0o700),
}
READERS = (["query", "harbour cranes"], ["stats"], ["check"])


@pytest.fixture
def shared_dir():
    """A folder that nobody may enter (pytest's tmp_path is root's alone)."""
    need_root("running a command as another user")
    folder = Path(tempfile.mkdtemp(prefix="search-as-nobody-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def as_nobody(warm_up: list[list[str]], cases: list[list[str]], readable: Path
              ) -> list[tuple[int, str, str]]:
    """The results of `cases` run as nobody; `readable` is a folder nobody may read, for
    copies of the data files it needs."""
    done = subprocess.run(
        [sys.executable, "-c", AS_NOBODY, str(PROJECT), str(TESTS), str(readable)],
        input=json.dumps([warm_up, cases]), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [tuple(result) for result in json.loads(done.stdout)]


def test_files_the_user_may_not_read_are_one_line_naming_them(good, shared_dir):
    index_dirs = {}
    for case, (pattern, mode) in UNREADABLE.items():
        index_dir = shutil.copytree(good / "idx", shared_dir / case.replace(" ", "-"))
        [victim] = index_dir.glob(pattern)
        victim.chmod(mode)
        index_dirs[case] = (index_dir, victim)
    readable = shutil.copytree(good / "idx", shared_dir / "readable")
    unleased = shutil.copytree(good / "idx", shared_dir / "unleased")
    (unleased / "generations" / "g000001" / "lease").chmod(0o600)
    scratch = shutil.copytree(good / "idx", shared_dir / "scratch")

    warm_up = [[*args, "--index", str(scratch)] for args in READERS]
    warm_up.append(["index", "--seeds", str(good / "seeds"), "--index", str(scratch),
                    "--model", "fake"])
    cases = [[*args, "--index", str(index_dir)] for index_dir, _ in index_dirs.values()
             for args in (*READERS, ["serve", "--port", "0"])]
    cases += [[*args, "--index", str(index_dir)] for index_dir in (readable, unleased)
              for args in READERS]
    cases.append(["index", "--seeds", str(good / "seeds"), "--index", str(readable),
                  "--model", "fake"])
    results = iter(as_nobody(warm_up, cases, shared_dir))

    for case, (_, victim) in index_dirs.items():
        for args in (*READERS, ["serve"]):
            code, _, err = next(results)
            lines = err.strip().splitlines()
            if args[0] == "serve":  # it says "loading <index>..." first
                assert lines.pop(0).startswith("loading"), (case, lines)
            assert code == 1 and lines == [f"Error: Permission denied: {victim}"], (case, args,
                                                                                   lines)
    # Readable by all but writable by root only, and a lease file nobody may open: readers
    # need no more (the second reads without a lease); `search index` says what it needs.
    for _ in range(2):
        for args in READERS:
            code, out, err = next(results)
            assert code == 0 and "Traceback" not in err, (args, out, err)
    code, _, err = next(results)
    assert code == 1 and err.strip() == (
        f"Error: permission denied writing {readable}/writer.lock: run `search index` as a user "
        f"who may write {readable}")


@pytest.mark.parametrize(("part", "replace"), [
    ("generations/g000001/manifest.json", "folder"),
    ("segments/s000001.jsonl", "folder"),
    ("segments/s000001.npy", "dangling link"),
])
def test_a_file_replaced_by_a_folder_or_a_dangling_link_is_one_line(good, tmp_path, runner,
                                                                     part, replace):
    index_dir = shutil.copytree(good / "idx", tmp_path / "idx")
    victim = index_dir / part
    victim.unlink()
    if replace == "folder":
        victim.mkdir()
    else:
        victim.symlink_to(tmp_path / "nowhere")
    for args in READERS[:2]:
        line = error_line(run(runner, *args, "--index", index_dir))
        assert str(victim) in line, line
