"""Paragraph splitting: spans, merging short fragments, sentence splitting, scripts, speed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.ingest.chunking import Chunk, count_words, split_paragraphs
from search.ingest.seeds import read_articles, scan_seeds

SHIPPED_SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def spans(chunks: list[Chunk]) -> list[tuple[int, int, str]]:
    return [(c.start, c.end, c.text) for c in chunks]


def assert_consistent(text: str, chunks: list[Chunk], max_chars: int) -> None:
    assert [c.position for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text == chunk.text.strip() != ""
        assert len(chunk.text) <= max_chars
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:], strict=False))
    covered = "".join(c.text for c in chunks)
    assert "".join(covered.split()) == "".join(text.split())  # nothing lost, nothing repeated


def test_blank_lines_separate_paragraphs_and_offsets_point_into_the_text():
    text = "  First paragraph has enough words to stand.  \n\n\n Second one\nspans two lines ok.\n"
    chunks = split_paragraphs(text)
    assert chunks == [
        Chunk(0, 2, 44, "First paragraph has enough words to stand."),
        Chunk(1, 50, 80, "Second one\nspans two lines ok."),
    ]


def test_lines_are_paragraphs_when_there_is_no_blank_line():
    text = "one two three four five six\nseven eight nine ten eleven twelve\r\nthirteen"
    assert spans(split_paragraphs(text)) == [
        (0, 27, "one two three four five six"),
        (28, 72, "seven eight nine ten eleven twelve\r\nthirteen"),
    ]


def test_short_fragments_join_the_next_paragraph_or_the_previous_when_last():
    text = "Background\n\nThe talks began in May and made little progress.\n\nMore later."
    assert spans(split_paragraphs(text)) == [(0, len(text), text)]
    text = (
        "Background\n\nThe talks began in May and made little progress.\n\nMore talks are planned."
    )
    assert spans(split_paragraphs(text, min_words=4)) == [
        (0, 60, "Background\n\nThe talks began in May and made little progress."),
        (62, 85, "More talks are planned."),
    ]


def test_runs_of_short_lines_accumulate_until_long_enough():
    text = "a b\n\nc d\n\ne f g\n\nA full paragraph with more than six words here."
    assert spans(split_paragraphs(text)) == [
        (0, 15, "a b\n\nc d\n\ne f g"),
        (17, 64, "A full paragraph with more than six words here."),
    ]
    text = "A full paragraph with more than six words here.\n\nTiny.\n\nBits."
    assert spans(split_paragraphs(text)) == [(0, len(text), text)]
    assert spans(split_paragraphs("Only three words")) == [(0, 16, "Only three words")]


def test_min_words_zero_keeps_every_fragment():
    assert [c.text for c in split_paragraphs("a\n\nb", min_words=0)] == ["a", "b"]


def test_merging_never_exceeds_max_chars():
    long = "word " * 19 + "end."
    text = f"{long}\n\nTiny.\n\n{long}"
    chunks = split_paragraphs(text, max_chars=len(long) + 3)
    # "Tiny." would join the next paragraph, but together they are too long.
    assert [c.text for c in chunks] == [long, "Tiny.", long]
    assert_consistent(text, chunks, len(long) + 3)


def test_long_paragraph_is_packed_by_sentences():
    sentences = [f"Sentence number {n} says something useful." for n in range(10)]
    text = " ".join(sentences)
    chunks = split_paragraphs(text, max_chars=100)
    assert [c.text for c in chunks] == [" ".join(sentences[i : i + 2]) for i in range(0, 10, 2)]
    assert_consistent(text, chunks, 100)


def test_sentence_longer_than_max_chars_is_cut_at_whitespace():
    text = " ".join(["lorem"] * 30)  # 179 characters, no sentence end
    chunks = split_paragraphs(text, max_chars=50)
    assert [len(c.text) for c in chunks] == [47, 47, 47, 35]
    assert_consistent(text, chunks, 50)


def test_spaceless_text_is_hard_cut():
    text = "这是一个很长的中文句子没有任何标点符号" * 10  # 190 characters
    chunks = split_paragraphs(text, max_chars=80)
    assert [(c.start, c.end) for c in chunks] == [(0, 80), (80, 160), (160, 190)]


def test_chinese_splits_at_full_stops():
    sentence = "俄罗斯一再要求乌克兰放弃东部四个地区。"  # 19 characters
    text = sentence * 10
    chunks = split_paragraphs(text, max_chars=40)
    assert [c.text for c in chunks] == [sentence * 2] * 5
    assert_consistent(text, chunks, 40)


@pytest.mark.parametrize(
    ("sentence", "end"),
    [
        ("هل ستنجح المفاوضات في إسطنبول هذه المرة؟", "؟"),
        ("यह एक लंबा वाक्य है जो यहाँ समाप्त होता है।", "।"),
    ],
)
def test_arabic_and_hindi_sentence_ends(sentence, end):
    text = " ".join([sentence] * 6)
    chunks = split_paragraphs(text, max_chars=len(sentence) * 2 + 1)
    assert [c.text for c in chunks] == [f"{sentence} {sentence}"] * 3
    assert all(c.text.endswith(end) for c in chunks)


def test_words_are_counted_per_script():
    assert count_words("Peace talks resume, officials say.") == 5
    assert count_words("和平谈判") == 2
    assert count_words("和平谈判恢复") == 3
    assert count_words("สวัสดีครับ") == 5
    assert count_words("محادثات سلام جديدة") == 3
    assert count_words("— , . !") == 0


def test_short_chinese_paragraph_is_merged_by_character_count():
    text = "谈判开始。\n\n乌克兰和俄罗斯将于周三在伊斯坦布尔再次举行和平谈判。"
    assert spans(split_paragraphs(text)) == [(0, len(text), text)]
    assert [c.text for c in split_paragraphs(text, min_words=2)] == text.split("\n\n")


def test_fifty_thousand_word_paragraph_is_split_quickly():
    words = [f"word{n}" + ("." if n % 25 == 24 else "") for n in range(50_000)]
    text = " ".join(words)
    assert len(text) > 300_000
    started = time.perf_counter()
    chunks = split_paragraphs(text)
    assert time.perf_counter() - started < 1.0
    assert_consistent(text, chunks, 1500)
    assert all(c.text.endswith(".") for c in chunks[:-1])


def test_fifty_thousand_words_without_sentence_ends_are_split_quickly():
    text = " ".join(f"w{n}" for n in range(50_000)) + "\n\n" + "字" * 200_000
    started = time.perf_counter()
    chunks = split_paragraphs(text)
    assert time.perf_counter() - started < 1.0
    assert_consistent(text, chunks, 1500)


def test_empty_text_and_bad_limits():
    assert split_paragraphs("") == [] and split_paragraphs(" \n\n\t\n") == []
    with pytest.raises(ValueError):
        split_paragraphs("text", max_chars=0)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("ab 字.。!\n\t"), max_size=400),
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=0, max_value=8),
)
def test_chunks_always_cover_the_text_within_bounds(text, max_chars, min_words):
    assert_consistent(text, split_paragraphs(text, max_chars, min_words), max_chars)


def test_prisoner_exchange_paragraph_is_its_own_chunk_in_every_seed():
    files, _ = scan_seeds(SHIPPED_SEEDS)
    articles = [a for f in files for a in read_articles(SHIPPED_SEEDS, f)]
    assert len(articles) == 7
    for article in articles:
        paragraphs = article.text.split("\n\n")
        chunks = split_paragraphs(article.text)
        assert paragraphs[4] in [c.text for c in chunks], article.id
