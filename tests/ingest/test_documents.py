"""Reading seeds/: scanning, every input format, datelines and every reason a file is refused."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from search.errors import SeedsNotFound, UnreadableFile
from search.ingest.seeds import (
    Article,
    Problem,
    SeedFile,
    parse_date_words,
    parse_dateline,
    read_articles,
    scan_seeds,
)

SHIPPED_SEEDS = Path(__file__).resolve().parents[2] / "seeds"

KYIV = """Zelensky Confirms Fresh Peace Talks

KYIV, Jul 22 (Alliance News): Ukraine and Russia will meet again for talks in Istanbul.

The negotiations will likely center on further prisoner exchanges.
"""


def put(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def read(root: Path, relative: str) -> list[Article]:
    data = (root / relative).read_bytes()
    return read_articles(root, SeedFile(relative, hashlib.sha256(data).hexdigest()))


def refusal(root: Path, relative: str, content: str | bytes) -> str:
    put(root, relative, content)
    with pytest.raises(UnreadableFile) as caught:
        read(root, relative)
    return str(caught.value)


# -- scanning ----------------------------------------------------------------------------------


def test_scan_lists_supported_files_sorted_with_hashes(tmp_path):
    put(tmp_path, "world/kyiv.txt", KYIV)
    put(tmp_path, "b.md", "# B\n\nbody")
    put(tmp_path, "a.HTML", "<p>x</p>")
    put(tmp_path, "feed.jsonl", "{}")
    put(tmp_path, "notes.docx", "ignored")
    put(tmp_path, ".hidden.txt", "ignored")
    put(tmp_path, ".git/config.txt", "ignored")
    put(tmp_path, "world/.cache/x.txt", "ignored")
    files, problems = scan_seeds(tmp_path)
    assert [f.path for f in files] == ["a.HTML", "b.md", "feed.jsonl", "world/kyiv.txt"]
    expected = hashlib.sha256(KYIV.encode("utf-8")).hexdigest()
    assert files[3] == SeedFile("world/kyiv.txt", expected)
    assert problems == []


def test_scan_reports_symlinks_leaving_the_folder(tmp_path):
    seeds, outside = tmp_path / "seeds", tmp_path / "outside"
    put(outside, "secret.txt", "Secret\n\nbody")
    put(seeds, "real.txt", "Real\n\nbody")
    (seeds / "escape.txt").symlink_to(outside / "secret.txt")
    (seeds / "escape_dir").symlink_to(outside, target_is_directory=True)
    (seeds / "alias.txt").symlink_to(seeds / "real.txt")
    (seeds / "dangling.txt").symlink_to(seeds / "gone.txt")
    files, problems = scan_seeds(seeds)
    assert [f.path for f in files] == ["alias.txt", "real.txt"]
    assert problems == [
        Problem("dangling.txt", "broken symlink (its target does not exist)"),
        Problem("escape.txt", "symlink points outside the seeds folder"),
        Problem("escape_dir", "symlinked folder points outside the seeds folder"),
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_scan_reports_unreadable_files(tmp_path):
    put(tmp_path, "locked.txt", "Locked\n\nbody").chmod(0)
    files, problems = scan_seeds(tmp_path)
    assert files == [] and problems == [Problem("locked.txt", "cannot be read: permission denied")]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (PermissionError(13, "Permission denied"), "cannot be read: permission denied"),
        (FileNotFoundError(2, "No such file or directory"), "file vanished while scanning"),
        (OSError(5, "Input/output error"), "cannot be read: input/output error"),
    ],
)
def test_scan_reports_read_errors(tmp_path, monkeypatch, error, reason):
    put(tmp_path, "good.txt", "Good\n\nbody")
    put(tmp_path, "bad.txt", "Bad\n\nbody")
    real_open = Path.open

    def failing_open(self, *args, **kwargs):
        if self.name == "bad.txt":
            raise error
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", failing_open)
    files, problems = scan_seeds(tmp_path)
    assert [f.path for f in files] == ["good.txt"]
    assert problems == [Problem("bad.txt", reason)]


def test_scan_reports_files_that_cannot_be_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    files, problems = scan_seeds(tmp_path)
    assert files == [] and problems == [Problem("pipe.txt", "not a regular file")]


def test_missing_seeds_folder_says_how_to_fix_it(tmp_path):
    with pytest.raises(SeedsNotFound) as caught:
        scan_seeds(tmp_path / "nowhere")
    message = str(caught.value)
    assert str(tmp_path / "nowhere") in message and "does not exist" in message
    assert "create it" in message and "--seeds" in message


def test_seeds_path_that_is_a_file_is_refused(tmp_path):
    with pytest.raises(SeedsNotFound, match="is not a folder"):
        scan_seeds(put(tmp_path, "seeds", "not a folder"))


# -- plain text and datelines -------------------------------------------------------------------


def test_txt_title_and_dateline(tmp_path):
    put(tmp_path, "world/kyiv.txt", KYIV)
    assert read(tmp_path, "world/kyiv.txt") == [
        Article(
            id="world/kyiv.txt",
            path="world/kyiv.txt",
            title="Zelensky Confirms Fresh Peace Talks",
            text="Ukraine and Russia will meet again for talks in Istanbul.\n\n"
            "The negotiations will likely center on further prisoner exchanges.",
            place="KYIV",
            source="Alliance News",
        )
    ]


def test_txt_newlines_bom_and_control_characters_are_normalised(tmp_path):
    raw = b"\xef\xbb\xbf\r\n  Title\x07 line  \r\n\r\nfirst\tline\x1b\r\nsecond line\r\r\r  last  "
    put(tmp_path, "a.txt", raw)
    [article] = read(tmp_path, "a.txt")
    assert article.title == "Title line"
    assert article.text == "first\tline\nsecond line\n\nlast"
    assert (article.place, article.date, article.source) == (None, None, None)


@pytest.mark.parametrize(
    ("paragraph", "place", "date", "source"),
    [
        ("KYIV, Jul 22 (Alliance News): Text.", "KYIV", None, "Alliance News"),
        ("LONDON, March 3, 2024 (Reuters) - Text.", "LONDON", "2024-03-03", "Reuters"),
        ("PARIS (AFP) — Text.", "PARIS", None, "AFP"),
        ("GENEVA, 22 July 2025 (UN News) -- Text.", "GENEVA", "2025-07-22", "UN News"),
        ("NEW YORK, July 22, 2025 – Text.", "NEW YORK", "2025-07-22", None),
        ("WASHINGTON, D.C., Jan. 5, 2024 (AP) — Text.", "WASHINGTON, D.C.", "2024-01-05", "AP"),
        ("SAN FRANCISCO, Calif. (AP) — Text.", "SAN FRANCISCO, Calif.", None, "AP"),
        ("Kyiv, July 22, 2025 (Reuters) - Text.", "Kyiv", "2025-07-22", "Reuters"),
        ("КИЕВ, 22 июля (Alliance News): Text.", "КИЕВ", None, "Alliance News"),
        ("МОСКВА, 3 марта 2024 года (ТАСС) - Text.", "МОСКВА", "2024-03-03", "ТАСС"),
        ("KIEW, 22. Juli (Alliance News): Text.", "KIEW", None, "Alliance News"),
        ("KIEV, 22 juillet (Alliance News) : Text.", "KIEV", None, "Alliance News"),
        ("KIEV, 22 de julio de 2025 (Alliance News): Text.", "KIEV", "2025-07-22", "Alliance News"),
        ("基辅，7月22日（Alliance News）：Text.", "基辅", None, "Alliance News"),
        ("北京，2025年7月22日（新华社）：Text.", "北京", "2025-07-22", "新华社"),
        ("كييف، 22 يوليو (Alliance News): Text.", "كييف", None, "Alliance News"),
    ],
)
def test_datelines(paragraph, place, date, source):
    line = parse_dateline(paragraph)
    assert line is not None
    assert (line.place, line.date, line.source, line.rest) == (place, date, source, "Text.")


@pytest.mark.parametrize(
    "paragraph",
    [
        "BREAKING: markets fall.",
        "Ukraine - Russia talks: what to expect.",
        "The report (pdf): it says little.",
        "WASHINGTON — the city woke up.",  # no source and no date: too unsure
        "UPDATE 2-Markets (Reuters) - shares fall.",
        "KYIV, Jul 22 (Alliance News):",  # nothing after the dateline
        "KYIV, Feb 30 - the date is impossible.",
        "Plain paragraph without any dateline at all.",
    ],
)
def test_doubtful_datelines_are_left_in_the_text(paragraph, tmp_path):
    assert parse_dateline(paragraph) is None
    put(tmp_path, "a.txt", f"Title\n\n{paragraph}\n\nSecond paragraph.")
    [article] = read(tmp_path, "a.txt")
    assert article.text == f"{paragraph}\n\nSecond paragraph."
    assert (article.place, article.date, article.source) == (None, None, None)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("Jul 22", (True, None)),
        ("July 22, 2025", (True, "2025-07-22")),
        ("22 July 2025", (True, "2025-07-22")),
        ("Sept. 3, 2024", (True, "2024-09-03")),
        ("1er mars 2024", (True, "2024-03-01")),
        ("Monday, July 22", (True, None)),
        ("2025-07-22", (True, "2025-07-22")),
        ("22 يوليو 2025", (True, "2025-07-22")),
        ("jui 5", (False, None)),  # juin or juillet: ambiguous
        ("Feb 29, 2023", (False, None)),
        ("England", (False, None)),
        ("July 22, 2025, 2026", (False, None)),
    ],
)
def test_date_words(words, expected):
    assert parse_date_words(words) == expected


def test_title_only_txt_is_refused(tmp_path):
    assert refusal(tmp_path, "a.txt", "\n\nJust a title\n\n") == "only a title line, no body text"


# -- markdown ----------------------------------------------------------------------------------


MARKDOWN = """Kicker line

# The **Real** Title

Some *emphasis*, __bold__, ~~struck~~ and a [link](http://x.com/a_(b)) ![photo](p.png) \
with snake_case_name, \\*stars\\* and `code *kept*`.

## A section
- first item
> quoted [ref link][1]

```python
def f(x):
    return x * 2
```

[1]: http://example.com

---
Closing line
"""


def test_markdown(tmp_path):
    put(tmp_path, "notes/a.md", MARKDOWN)
    assert read(tmp_path, "notes/a.md") == [
        Article(
            id="notes/a.md",
            path="notes/a.md",
            title="The Real Title",
            text="Kicker line\n\n"
            "Some emphasis, bold, struck and a link with snake_case_name, *stars* and "
            "code *kept*.\n\n"
            "A section\n\n"
            "first item\nquoted ref link\n\n"
            "def f(x):\nreturn x * 2\n\n"
            "Closing line",
        )
    ]


def test_markdown_front_matter_setext_title_and_fallback(tmp_path):
    put(tmp_path, "a.markdown", "---\ndate: 2024-03-03\nurl: http://a\n---\nTitle\n=====\n\nBody.")
    [article] = read(tmp_path, "a.markdown")
    assert (article.title, article.text, article.date, article.url) == (
        "Title",
        "Body.",
        "2024-03-03",
        "http://a",
    )
    put(tmp_path, "b.md", "First *line* is the title\nsecond line\n\nthird")
    [article] = read(tmp_path, "b.md")
    assert (article.title, article.text) == ("First line is the title", "second line\n\nthird")


def test_markdown_without_body_is_refused(tmp_path):
    assert refusal(tmp_path, "a.md", "# Only a heading\n") == "only a title, no body text"


# -- html --------------------------------------------------------------------------------------


HTML = """<!DOCTYPE html>
<html><head><title>Talks &amp; Truce</title><style>p { color: red }</style></head>
<body><nav>Home | World</nav><header>Site header</header>
<main><h1>Talks &amp; Truce</h1>
<p>First   paragraph
spread over <b>two</b> lines &eacute;t&eacute;.</p>
<div>Loose text<p>Inner paragraph</p>tail</div>
<ul><li>one</li><li>two</li></ul>
<table><tr><td>cell a</td><td>cell b</td></tr></table>
<script>var hidden = 1;</script><!-- a comment --><form>Search</form>
</main><aside>Related</aside><footer>Footer</footer></body></html>"""


def test_html(tmp_path):
    put(tmp_path, "page.html", HTML)
    assert read(tmp_path, "page.html") == [
        Article(
            id="page.html",
            path="page.html",
            title="Talks & Truce",
            text="First paragraph spread over two lines été.\n\nLoose text\n\nInner paragraph\n\n"
            "tail\n\none\n\ntwo\n\ncell a cell b",
        )
    ]


def test_html_title_from_h1_and_body_from_article(tmp_path):
    page = "<body><p>outside</p><article><h1>Head</h1><p>Inside.</p></article></body>"
    put(tmp_path, "a.htm", page)
    [article] = read(tmp_path, "a.htm")
    assert (article.title, article.text) == ("Head", "Inside.")


def test_deeply_nested_html_is_read(tmp_path):
    depth = 100_000
    page = "<title>Deep</title>" + "<div>" * depth + "bottom" + "</div>" * depth
    put(tmp_path, "deep.html", page)
    [article] = read(tmp_path, "deep.html")
    assert (article.title, article.text) == ("Deep", "bottom")


def test_html_empty_title_falls_back_to_h1(tmp_path):
    put(tmp_path, "a.html", "<title> </title><h1>Real</h1><p>Body text.</p>")
    [article] = read(tmp_path, "a.html")
    assert (article.title, article.text) == ("Real", "Body text.")


def test_html_without_text_is_refused(tmp_path):
    page = "<title>T</title><script>x()</script><nav>menu</nav>"
    assert refusal(tmp_path, "a.html", page) == "no body text in the HTML"


# -- json and json lines -----------------------------------------------------------------------


def test_json_object(tmp_path):
    record = {
        "title": "Talks",
        "body": "One.\r\n\r\nTwo\u0000.",
        "date": "2025-07-22T10:30:00+03:00",
        "url": " https://example.com/a ",
        "lang": "en",
        "source": "Wire",
        "id": "ignored for a single object",
    }
    put(tmp_path, "one.json", json.dumps(record))
    assert read(tmp_path, "one.json") == [
        Article(
            id="one.json",
            path="one.json",
            title="Talks",
            text="One.\n\nTwo.",
            date="2025-07-22",
            source="Wire",
            url="https://example.com/a",
            lang="en",
        )
    ]


def test_json_list_ids_skipped_records_and_odd_values(tmp_path):
    records = [
        {"id": "a1", "title": "First", "text": "Alpha text.", "date": "not a date"},
        {"title": "No text at all"},
        "not an object",
        {"content": ["Para one.", "Para two."], "date": "July 22, 2025"},
        {"id": "a1", "text": "Same id again."},
        {"id": 12, "text": "Numeric id.", "views": "HUGE"},
    ]
    # An integer beyond Python's int-from-string digit limit must not break the file.
    put(tmp_path, "list.json", json.dumps(records).replace('"HUGE"', "9" * 5000))
    articles = read(tmp_path, "list.json")
    assert [(a.id, a.title, a.text, a.date) for a in articles] == [
        ("list.json#a1", "First", "Alpha text.", None),
        ("list.json#3", "Para one.", "Para one.\n\nPara two.", "2025-07-22"),
        ("list.json#a1~2", "Same id again.", "Same id again.", None),
        ("list.json#12", "Numeric id.", "Numeric id.", None),
    ]


def test_jsonl_keeps_good_lines_around_a_bad_one(tmp_path):
    lines = [
        json.dumps({"title": "A", "text": "Line zero."}),
        "",
        '{"title": "broken", "text": ',
        json.dumps({"id": "x", "title": "B", "text": "Line two.", "lang": "de"}),
        json.dumps({"title": "C", "text": "Line three."}),
    ]
    put(tmp_path, "feed.jsonl", "\n".join(lines) + "\n")
    articles = read(tmp_path, "feed.jsonl")
    assert [(a.id, a.title, a.lang) for a in articles] == [
        ("feed.jsonl#0", "A", None),
        ("feed.jsonl#x", "B", "de"),
        ("feed.jsonl#3", "C", None),
    ]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("a.json", '{"title": "x", "text": ', "malformed JSON at line 1, column 24"),
        ("b.json", '{\n  "title": "x",\n  oops\n}', "malformed JSON at line 3, column 3"),
        ("c.json", '{"title": "only a title"}', "the JSON object has no usable text"),
        ("d.json", '[{"title": "x"}, 3]', "no object in the JSON list has a usable text"),
        ("e.json", '"just a string"', "the JSON must be an object or a list of objects"),
        ("f.json", "[" * 100_000 + "]" * 100_000, "JSON nested too deeply to read"),
        ("g.jsonl", '{"text": \n[1,', "malformed JSON at line 1, column 10"),
        ("h.jsonl", '{"title": "no text"}\n', "no line holds an object with a usable text field"),
    ],
)
def test_json_refusals(tmp_path, name, content, reason):
    assert refusal(tmp_path, name, content).startswith(reason)


# -- refusals shared by every format -----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"Title\n\nbody\x00\x01\x02", "binary content (NUL byte at offset 11), not text"),
        (b"Caf\xe9 au lait", "not valid UTF-8 (byte 0xe9 at offset 3)"),
        (b"\xef\xbb\xbfok\xff", "not valid UTF-8 (byte 0xff at offset 5)"),
        (b"", "empty file"),
        (b" \r\n\t\n", "the file holds only whitespace"),
        (b"\x07\x08\n", "the file holds only whitespace"),
    ],
)
@pytest.mark.parametrize("suffix", [".txt", ".md", ".html", ".json", ".jsonl"])
def test_unreadable_content(tmp_path, content, reason, suffix):
    assert refusal(tmp_path, f"bad{suffix}", content) == reason


def test_file_swapped_for_an_escaping_symlink_after_the_scan(tmp_path):
    seeds = tmp_path / "seeds"
    put(tmp_path, "outside.txt", "Secret\n\nbody")
    put(seeds, "a.txt", "Title\n\nbody")
    [seed_file], _ = scan_seeds(seeds)
    (seeds / "a.txt").unlink()
    (seeds / "a.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(UnreadableFile, match="outside the seeds folder"):
        read_articles(seeds, seed_file)


def test_vanished_file(tmp_path):
    with pytest.raises(UnreadableFile, match="vanished"):
        read_articles(tmp_path, SeedFile("gone.txt", "0" * 64))


# -- the shipped seeds -------------------------------------------------------------------------


PRISONER_EXCHANGES = {
    "000_7c2908e13247d0b5.txt": "further prisoner exchanges",
    "000_7c2908e13247d0b5.ru.txt": "дальнейших обменах пленными",
    "000_7c2908e13247d0b5.de.txt": "weitere Gefangenenaustausche",
    "000_7c2908e13247d0b5.fr.txt": "nouveaux échanges de prisonniers",
    "000_7c2908e13247d0b5.es.txt": "nuevos intercambios de prisioneros",
    "000_7c2908e13247d0b5.zh.txt": "进一步交换战俘",
    "000_7c2908e13247d0b5.ar.txt": "مزيد من عمليات تبادل الأسرى",
}


def test_shipped_seeds_are_seven_translations_of_one_article():
    files, problems = scan_seeds(SHIPPED_SEEDS)
    assert problems == []
    articles = [a for f in files for a in read_articles(SHIPPED_SEEDS, f)]
    assert sorted(a.id for a in articles) == sorted(PRISONER_EXCHANGES)
    for article in articles:
        paragraphs = article.text.split("\n\n")
        assert len(paragraphs) == 17, article.id
        assert PRISONER_EXCHANGES[article.id] in paragraphs[4], article.id
        assert article.source == "Alliance News" and article.date is None, article.id
    english = next(a for a in articles if a.id == "000_7c2908e13247d0b5.txt")
    assert english.place == "KYIV"
    assert english.title == "Zelensky Confirms Fresh Peace Talks with Russia Amid Ongoing Attacks"
    assert english.text.startswith("Ukrainian President Volodymyr Zelensky has confirmed")
    assert english.text.endswith("left large areas of Ukraine in ruins.")


def test_markdown_front_matter_title_keeps_the_first_paragraph(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "note.md").write_text(
        "---\ntitle: From front matter\n---\nThe first paragraph is body text.\n\nSecond one.",
        encoding="utf-8",
    )
    (article,) = read_articles(seeds, scan_seeds(seeds)[0][0])
    assert article.title == "From front matter"
    assert article.text == "The first paragraph is body text.\n\nSecond one."
