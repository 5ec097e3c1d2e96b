"""`--precision auto` finds bfloat16 arithmetic from the GPU's compute capability or CPU flags."""

import doctest

import pytest

from keras_inpaint import hardware
from keras_inpaint.hardware import bfloat16_hardware, cpu_feature_flags


def test_docstring_examples_run():
    assert doctest.testmod(hardware).failed == 0


@pytest.mark.parametrize(
    "gpus, flags, native",
    [
        ([("NVIDIA A100-SXM4-40GB", (8, 0))], set(), True),
        ([("NVIDIA H100", (9, 0))], set(), True),
        # A GPU decides over the CPU: training runs on it.
        ([("Tesla T4", (7, 5))], {"avx512_bf16"}, False),
        ([("GPU without details", None)], {"avx512_bf16"}, False),
        ([], {"fpu", "avx512f", "avx512_bf16"}, True),
        ([], {"amx_bf16", "amx_tile"}, True),
        ([], {"fpu", "avx2", "avx512f"}, False),
        ([], set(), False),
    ],
)
def test_bfloat16_hardware(gpus, flags, native):
    found, reason = bfloat16_hardware(gpus=gpus, cpu_flags=flags)
    assert found is native
    assert ("has bfloat16" in reason) is native


def test_cpu_flags_come_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx512f avx512_bf16\n\n"
        "processor\t: 1\nflags\t\t: fpu avx512f avx512_bf16\n"
    )
    assert cpu_feature_flags(cpuinfo) == {"fpu", "avx512f", "avx512_bf16"}
    # An ARM CPU says "Features"; a machine without /proc/cpuinfo has none.
    cpuinfo.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert cpu_feature_flags(cpuinfo) == {"fp", "asimd", "bf16"}
    assert cpu_feature_flags(tmp_path / "missing") == set()
