"""multilingual-e5-small's tokenizer: XLM-R's SentencePiece Unigram pieces on the `tokenizers`
library, behind the model file's own normalization.

The model file maps code points one by one (an NFKC-like table that also drops control and
format characters); a stock NFKC normalizer differs from it on 174 code points, so the table
is applied as it is, with `str.translate`, before the tokenizer sees the text. Then, as the
package's engine does: runs of spaces become one, a space is prepended unless the text starts
with one, spaces become the metaspace "▁", and the Viterbi path over the pieces' scores gives
the ids. An unknown character is one `<unk>` each (the `tokenizers` Unigram model fuses a run
of them into one token, which is expanded back here).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

from search.encoders.e5_file import Vocabulary

METASPACE = "\u2581"
TOKENIZER_FILE = "tokenizer.json"
NORMALIZATION_FILE = "normalization.json"


class E5Tokenizer:
    """Texts to content token ids (without `<s>` and `</s>`, which windows add)."""

    def __init__(self, tokenizer: Tokenizer, normalization: dict[int, str],
                 bos: int, eos: int, unk: int) -> None:
        self.tokenizer = tokenizer
        self.table = normalization
        self.bos, self.eos, self.unk = bos, eos, unk

    @classmethod
    def build(cls, vocabulary: Vocabulary, normalization: dict[int, str]) -> E5Tokenizer:
        """A tokenizer from the model file's pieces, scores and normalization table."""
        model = models.Unigram(list(zip(vocabulary.pieces, vocabulary.scores, strict=True)),
                               unk_id=vocabulary.unk, byte_fallback=False)
        tokenizer = Tokenizer(model)
        tokenizer.normalizer = normalizers.Replace(Regex(" {2,}"), " ")
        # No piece holds "▁" past its first character, so splitting at it changes nothing
        # and lets the library cache words.
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement=METASPACE, prepend_scheme="always", split=True)
        bos, eos = vocabulary.pieces[vocabulary.bos], vocabulary.pieces[vocabulary.eos]
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
            special_tokens=[(bos, vocabulary.bos), (eos, vocabulary.eos)])
        return cls(tokenizer, normalization, vocabulary.bos, vocabulary.eos, vocabulary.unk)

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, whole (no truncation, no `<s>`/`</s>`)."""
        encodings = self.tokenizer.encode_batch(
            [text.translate(self.table) for text in texts], add_special_tokens=False)
        return [self._unfused(e.ids, e.tokens) for e in encodings]

    def _unfused(self, ids: list[int], tokens: list[str]) -> list[int]:
        if self.unk not in ids:
            return ids
        out: list[int] = []
        for token_id, token in zip(ids, tokens, strict=True):
            out.extend([token_id] * (len(token) if token_id == self.unk else 1))
        return out

    def save(self, folder: Path) -> None:
        self.tokenizer.save(str(folder / TOKENIZER_FILE))
        table = {str(code): text for code, text in sorted(self.table.items())}
        special = {"bos": self.bos, "eos": self.eos, "unk": self.unk}
        (folder / NORMALIZATION_FILE).write_text(
            json.dumps({"special": special, "table": table}, ensure_ascii=True), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> E5Tokenizer:
        """Load what `save` wrote (raises OSError, ValueError or KeyError if damaged)."""
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        saved = json.loads((folder / NORMALIZATION_FILE).read_text("utf-8"))
        table = {int(code): str(text) for code, text in saved["table"].items()}
        special = saved["special"]
        return cls(tokenizer, table, int(special["bos"]), int(special["eos"]),
                   int(special["unk"]))
