"""Which arithmetic the default encoder's large matrix multiplies run in.

`auto` keeps fp32 for batches and gives the one-query path int8 weights wherever the CPU has
VNNI. Measured on a 2-core Xeon with VNNI, AVX512-BF16 and AMX (docs/benchmarks.md): with two
threads neither reduced precision beat fp32 on batches in a whole `search index` (bf16 was
40 % slower beside the pipeline's other threads, its conversions do not scale; int8 was as
fast, but its activations are quantized per batch, so a text's vector depends on the texts
batched with it, and vectors embedded elsewhere, on Ray, stop matching those made here). One
query's cost is reading the weights, which int8 quarters. bf16 (any CPU; emulated and slow
without native support) and int8 (VNNI only) are there to choose; every precision stays
within cosine 0.999 of fp32 (tests/encoders/test_precision.py), so vectors of different
precisions are compatible.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from pathlib import Path

from search.errors import ModelUnavailable

AUTO = "auto"
_VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni"})
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


class Precision(enum.Enum):
    FP32 = "fp32"
    BF16 = "bf16"
    INT8 = "int8"


PRECISION_CHOICES: tuple[str, ...] = (AUTO, *(p.value for p in Precision))


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The feature flags of the first CPU listed in /proc/cpuinfo (empty if unreadable)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def resolve_precision(requested: str, flags: Iterable[str]) -> Precision:
    """The precision to run for a setting ("auto", "fp32", "bf16", "int8") on this CPU.

    Raises:
        ModelUnavailable: an unknown value, or int8 on a CPU without VNNI (its quantized
            multiplies use full-range activations, which only VNNI adds up without saturating);
            bf16 runs everywhere, emulated and slowly without native support.
    """
    present = frozenset(flags)
    if requested == AUTO:
        return Precision.FP32
    try:
        precision = Precision(requested)
    except ValueError:
        raise ModelUnavailable(
            f"precision {requested!r} is not one of {', '.join(PRECISION_CHOICES)}"
        ) from None
    if precision is Precision.INT8 and not present & _VNNI_FLAGS:
        raise ModelUnavailable(
            "precision 'int8' needs a CPU with VNNI (avx512_vnni or avx_vnni), which this one "
            "lacks; use --precision auto, fp32 or bf16"
        )
    return precision


def query_precision(requested: str, flags: Iterable[str]) -> Precision:
    """The precision of the one-query path for a setting on this CPU: int8 where VNNI runs
    it, unless fp32 is asked for."""
    if requested == Precision.FP32.value or not frozenset(flags) & _VNNI_FLAGS:
        return Precision.FP32
    return Precision.INT8


def e5_precisions(requested: str, flags: Iterable[str]) -> tuple[Precision, Precision]:
    """(batches, one query) for e5-small (search/encoders/e5_runner.py) on this CPU.

    `auto`, from bench/e5_speed.py (docs/benchmarks.md): batches in bf16 where the CPU
    multiplies bf16 natively (avx512_bf16, AMX), else fp32; never int8, whose vectors depend
    on their batch mates; one query in int8 where VNNI runs it (its cost is reading the
    weights), else as batches. A forced precision applies to both; it raises as
    resolve_precision does.
    """
    present = frozenset(flags)
    if requested != AUTO:
        chosen = resolve_precision(requested, present)
        return chosen, chosen
    batches = Precision.BF16 if present & _BF16_FLAGS else Precision.FP32
    return batches, Precision.INT8 if present & _VNNI_FLAGS else batches
