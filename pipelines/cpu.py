"""What this CPU can do, as far as the choice of a model's numeric precision goes.

An int8 model is faster than its full-precision original only where the CPU multiplies and adds
int8 values in one instruction (x86 VNNI and AMX, Arm's dot product). Elsewhere int8 costs speed
and, for Whisper, accuracy: on an AVX2-only AMD EPYC (Zen 3) OpenVINO's int8 embedder ran at
19.5 chunks/s against 22.7-24.5 in full precision, and CTranslate2's int8 ``base`` model forced
to German transcribed nothing after 31 s of a 60 s recording that float32 transcribed whole.
The embedder (``embed_backend="auto"``) and the transcriber (``whisper_compute_type="auto"``)
both ask :func:`has_int8_dot_product`.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

INT8_DOT_PRODUCT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})
"""CPU flags of an instruction that multiplies and adds int8 values in one step (x86 VNNI and
AMX, Arm's dot product): with one, an int8 model runs faster than full precision."""


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The instruction-set flags of this CPU as Linux lists them (``/proc/cpuinfo``: ``flags``
    on x86, ``Features`` on Arm); empty where there is no such file."""
    try:
        return frozenset(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return frozenset()


def has_int8_dot_product(flags: frozenset[str] | None = None, machine: str | None = None) -> bool:
    """Whether this CPU (or one with ``flags`` on ``machine``) has an int8 dot-product
    instruction (:data:`INT8_DOT_PRODUCT_FLAGS`); a Mac lists no flags, and every 64-bit Arm
    Mac has one.

    >>> has_int8_dot_product(frozenset({"avx2", "avx512_vnni"})), has_int8_dot_product(frozenset({"avx2"}))
    (True, False)
    """
    machine = (machine or platform.machine()).lower()
    if flags is None:
        flags = cpu_flags()
    if machine == "arm64" and not flags:
        return True
    return bool(flags & INT8_DOT_PRODUCT_FLAGS)


def quantization_target() -> str:
    """The dynamic int8 quantisation that fits this CPU: ``avx512_vnni`` where the CPU has VNNI
    instructions, ``avx512``, ``avx2``, or ``arm64``."""
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    flags = cpu_flags()
    return "avx512_vnni" if "avx512_vnni" in flags else "avx512" if "avx512f" in flags else "avx2"
