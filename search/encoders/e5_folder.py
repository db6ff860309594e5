"""The converted multilingual-e5-small as a folder: a sentence-transformers model folder
(modules.json, prompts) whose one module, search.encoders.e5_module.E5Transformer, keeps its
weights in `weights.pt` and its tokenizer in `tokenizer.json` + `normalization.json`.

Loading maps `weights.pt` into memory (torch's mmap) and never writes it, so processes forked
after loading, or loading the same folder, share its pages.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from search.encoders.e5_bert import E5Bert
from search.encoders.e5_file import BertShape, E5File
from search.encoders.e5_model import PASSAGE_PROMPT, QUERY_PROMPT, E5Model, LongTexts
from search.encoders.e5_tokenizer import E5Tokenizer

WEIGHTS_FILE = "weights.pt"
CONFIG_FILE = "e5_config.json"
MODULE_TYPE = "search.encoders.e5_module.E5Transformer"


def convert(file: E5File, long_texts: LongTexts = LongTexts.WINDOWS) -> E5Model:
    """The model of a parsed model file, in memory."""
    bert = _empty_bert(file.shape)
    bert.load_state_dict(E5Bert.state_from_file(file), assign=True)
    tokenizer = E5Tokenizer.build(file.vocabulary, file.normalization)
    return E5Model(bert, tokenizer, long_texts)


def save_model(model: E5Model, folder: Path) -> None:
    """Write the model's own files (weights, tokenizer, config) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.bert.state_dict(), folder / WEIGHTS_FILE)
    model.tokenizer.save(folder)
    config = {"shape": asdict(model.bert.shape), "long_texts": model.long_texts.value}
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1), "utf-8")


def save_sentence_transformer(model: E5Model, folder: Path) -> None:
    """Write a whole sentence-transformers folder: the module's files in its root, the
    module list and the query/passage prompts."""
    save_model(model, folder)
    modules = [{"idx": 0, "name": "0", "path": "", "type": MODULE_TYPE}]
    (folder / "modules.json").write_text(json.dumps(modules, indent=1), "utf-8")
    prompts = {"prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
               "default_prompt_name": None, "similarity_fn_name": "cosine"}
    (folder / "config_sentence_transformers.json").write_text(json.dumps(prompts, indent=1),
                                                              "utf-8")


def load_model(folder: Path, long_texts: LongTexts | None = None) -> E5Model:
    """Load what `save_model` wrote; `long_texts` None keeps the saved choice.

    Raises OSError, ValueError, KeyError, TypeError or RuntimeError on a damaged folder.
    """
    config = json.loads((folder / CONFIG_FILE).read_text("utf-8"))
    shape = BertShape(**config["shape"])
    state = torch.load(folder / WEIGHTS_FILE, mmap=True, weights_only=True)
    bert = _empty_bert(shape)
    bert.load_state_dict(state, assign=True)
    tokenizer = E5Tokenizer.load(folder)
    return E5Model(bert, tokenizer, long_texts or LongTexts(config["long_texts"]))


def _empty_bert(shape: BertShape) -> E5Bert:
    with torch.device("meta"):
        bert = E5Bert(shape)
    return bert
