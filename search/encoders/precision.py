"""Which arithmetic the default encoder's large matrix multiplies run in, chosen from the CPU.

int8 (dynamically quantized activations, per-channel weights) where the CPU has VNNI, bf16
where it multiplies bf16 natively (AVX512-BF16 or AMX) without VNNI, fp32 elsewhere. Measured
on a 2-core Xeon with both (docs/benchmarks.md, bench/encoder.py): with two threads int8
encoded as fast as fp32 or faster and bf16 slower (its conversions around each multiply do
not scale), with one thread bf16 was fastest; `search index` runs the encoder on every core,
so int8 wins where both are there. One query takes int8 whenever the CPU has VNNI and fp32 is
not forced: its cost is reading the weights, not multiplying them. Every choice stays within
cosine 0.999 of fp32 (tests/encoders/test_precision.py), so vectors of different precisions
are compatible.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from pathlib import Path

from search.errors import ModelUnavailable

AUTO = "auto"
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
_VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni"})


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


def auto_precision(flags: Iterable[str]) -> Precision:
    """The fastest precision for a CPU with these flags (see the module docstring)."""
    present = frozenset(flags)
    if present & _VNNI_FLAGS:
        return Precision.INT8
    if present & _BF16_FLAGS:
        return Precision.BF16
    return Precision.FP32


def resolve_precision(requested: str, flags: Iterable[str]) -> Precision:
    """The precision to run for a setting ("auto", "fp32", "bf16", "int8") on this CPU.

    Raises:
        ModelUnavailable: an unknown value, or int8 on a CPU without VNNI (its quantized
            multiplies use full-range activations, which only VNNI adds up without saturating);
            bf16 runs everywhere, emulated and slowly without native support.
    """
    present = frozenset(flags)
    if requested == AUTO:
        return auto_precision(present)
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


def query_precision(chosen: Precision, flags: Iterable[str]) -> Precision:
    """The precision of the one-query path for a model running at `chosen` on this CPU."""
    if chosen is Precision.FP32 or not frozenset(flags) & _VNNI_FLAGS:
        return Precision.FP32
    return Precision.INT8
