from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.ranking.highlight import ELLIPSIS, highlight, match_spans, snippet

LONG_EN = (
    "The Panthers defense gave up just 308 points, ranking sixth in the league, while also "
    "leading the NFL in interceptions with 24 and boasting four Pro Bowl selections. Pro Bowl "
    "defensive tackle Kawann Short led the team in sacks with 11, while also forcing three "
    "fumbles and recovering two. Fellow lineman Mario Addison added 6½ sacks. The Panthers line "
    "also featured veteran defensive end Jared Allen, a 5-time pro bowler who was the NFL's "
    "active career sack leader with 136, along with defensive end Kony Ealy, who had 5 sacks in "
    "just 9 starts. Behind them, two of the Panthers three starting linebackers were also "
    "selected to play in the Pro Bowl: Thomas Davis and Luke Kuechly."
)


def visible(markup: str) -> str:
    """The text a browser shows for the markup."""
    return html.unescape(re.sub(r"</?mark>", "", markup))


def test_marks_stemmed_matches_and_escapes() -> None:
    assert (
        highlight("Exchange rates & the exchanges' <b>hours</b>", "exchanges", "en")
        == "<mark>Exchange</mark> rates &amp; the <mark>exchanges</mark>&#x27; "
        "&lt;b&gt;hours&lt;/b&gt;"
    )


def test_script_in_text_and_query_stays_escaped() -> None:
    text = 'Run <script>alert("x")</script> now'
    assert (
        highlight(text, "<script>alert(1)</script>", "en")
        == "Run &lt;<mark>script</mark>&gt;<mark>alert</mark>(&quot;x&quot;)&lt;/"
        "<mark>script</mark>&gt; now"
    )
    assert "<script" not in highlight(text, "run", "en")


def test_stop_words_are_not_marked() -> None:
    assert highlight("The cat and the hat", "the cat", "en") == "The <mark>cat</mark> and the hat"


def test_chinese_bigram_runs_merge_into_one_mark() -> None:
    assert (
        highlight("北京大学是中国著名的大学。", "北京大学在哪里", "zh")
        == "<mark>北京大学</mark>是中国著名的<mark>大学</mark>。"
    )


def test_touching_matches_merge() -> None:
    assert highlight("NFL联赛", "nfl 联赛", "zh") == "<mark>NFL联赛</mark>"


def test_query_language_analysis_also_marks() -> None:
    # The German paragraph does not stem "Hamburgs" the English way, but the name matches.
    assert (
        highlight("Die Häfen von Hamburg", "harbours of Hamburg", "de", "en")
        == "Die Häfen von <mark>Hamburg</mark>"
    )
    # Under English analysis "exchanges" matches the English word in a German text.
    assert (
        highlight("Der Exchange-Kurs", "exchanges", "de", "en") == "Der <mark>Exchange</mark>-Kurs"
    )


def test_hindi_and_thai_words_are_marked_whole() -> None:
    assert (
        highlight("हिन्दी भारत की राजभाषा है", "राजभाषा क्या है", "hi")
        == "हिन्दी भारत की <mark>राजभाषा</mark> है"
    )
    assert highlight("ภาษาไทย ง่ายมาก", "ง่ายมาก", "th") == "ภาษาไทย <mark>ง่ายมาก</mark>"


def test_nothing_to_mark() -> None:
    assert highlight("a < b", "???", "en") == "a &lt; b"
    assert highlight("a < b", "", None) == "a &lt; b"
    assert highlight("", "anything", "en") == ""


def test_hostile_input_never_raises() -> None:
    assert highlight("bad \ud800 text", "text \udfff", "en") == "bad \ufffd <mark>text</mark>"
    assert highlight("nul\x00word", "word", "xx") == "nul\x00<mark>word</mark>"
    assert highlight("emoji 😀 sun", "😀 sun", "en") == "emoji 😀 <mark>sun</mark>"


def test_match_spans() -> None:
    assert match_spans("Exchanges and exchange", "exchange", "en") == [(0, 9), (14, 22)]


def test_short_text_snippet_is_the_whole_highlight() -> None:
    assert snippet("Short <text>", "text", "en") == "Short &lt;<mark>text</mark>&gt;"


def test_snippet_without_matches_starts_at_the_beginning() -> None:
    out = snippet(LONG_EN, "zebra", "en", max_chars=60)
    assert out == "The Panthers defense gave up just 308 points, ranking" + ELLIPSIS
    assert len(visible(out)) <= 60


def test_snippet_centres_on_the_densest_matches() -> None:
    out = snippet(LONG_EN, "Thomas Davis Luke Kuechly linebackers", "en", max_chars=120)
    assert out == (
        ELLIPSIS + "of the Panthers three starting <mark>linebackers</mark> were also selected to "
        "play in the Pro Bowl: <mark>Thomas</mark> <mark>Davis</mark> and <mark>Luke</mark> "
        "<mark>Kuechly</mark>."
    )
    assert len(visible(out)) <= 120


def test_snippet_cuts_on_both_sides_between_words() -> None:
    out = snippet(LONG_EN, "Kawann Short", "en", max_chars=80)
    assert out.startswith(ELLIPSIS) and out.endswith(ELLIPSIS)
    assert "<mark>Kawann</mark> <mark>Short</mark>" in out
    inner = visible(out)[1:-1]
    assert inner == inner.strip()
    assert f" {inner} " in f" {LONG_EN} "  # whole words only
    assert len(visible(out)) <= 80


@pytest.mark.parametrize("max_chars", [20, 37, 50, 81, 150])
def test_snippet_never_cuts_an_entity_or_a_mark(max_chars: int) -> None:
    text = ("a&b <c> " * 10) + "needle & haystack " + ("x<y>&z " * 10)
    out = snippet(text, "needle haystack", "en", max_chars=max_chars)
    assert out.count("<mark>") == out.count("</mark>")
    assert re.fullmatch(r"(?:[^&<]|&(?:amp|lt|gt|quot|#x27);|</?mark>)*", out)
    assert len(visible(out)) <= max_chars
    assert "<mark>needle</mark>" in out


def test_chinese_snippet() -> None:
    text = "这是一个很长的段落。" * 10 + "北京大学成立于1898年。" + "后面还有很多文字。" * 10
    out = snippet(text, "北京大学什么时候成立", "zh", max_chars=30)
    assert "<mark>北京大学成立</mark>" in out
    assert out.startswith(ELLIPSIS) and out.endswith(ELLIPSIS)
    assert len(visible(out)) <= 30


def test_snippet_does_not_split_combining_marks() -> None:
    text = "किताबें " * 60
    out = snippet(text, "zzz", "hi", max_chars=50)
    assert visible(out) == ("किताबें " * 6).strip() + ELLIPSIS


def test_one_match_longer_than_the_window_is_clipped_not_broken() -> None:
    text = "前言。" + "北京大学" * 30
    out = snippet(text, "北京大学" * 30, "zh", max_chars=20)
    assert out.count("<mark>") == out.count("</mark>") == 1
    assert len(visible(out)) <= 20


_WORDS = st.sampled_from(
    [
        "exchange",
        "Exchanges",
        "<b>",
        "&amp;",
        "北京",
        "大学",
        "ภาษา",
        "ไทย",
        "हिन्दी",
        "\u0301",
        " ",
        "\n",
        "\ud800",
        "😀",
        ",",
        "q\"u'o",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(_WORDS, max_size=80).map("".join),
    query=st.lists(_WORDS, max_size=6).map(" ".join),
    lang=st.sampled_from(["en", "zh", "th", "hi", None]),
    max_chars=st.integers(min_value=3, max_value=120),
)
def test_markup_invariants(text: str, query: str, lang: str | None, max_chars: int) -> None:
    shown = text.replace("\ud800", "\ufffd")
    full = highlight(text, query, lang, "en")
    assert visible(full) == shown
    for out in (full, snippet(text, query, lang, "en", max_chars=max_chars)):
        assert re.fullmatch(r"(?:[^&<>]|&(?:amp|lt|gt|quot|#x27);|<mark>[^<]+</mark>)*", out)
    cut = snippet(text, query, lang, "en", max_chars=max_chars)
    assert len(visible(cut)) <= max(max_chars, 3)
    assert visible(cut).strip(ELLIPSIS) in shown
