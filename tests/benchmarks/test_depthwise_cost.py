"""`benchmarks/depthwise_cost.py --tiny`: the documented keys; float32 layouts equal to today's.

No timing is asserted (the figures are in benchmarks/README.md).
"""

import pytest
from script_runs import run_script

TOP_KEYS = {
    "benchmark",
    "setting",
    "machine",
    "blocks",
    "results",
    "best_layout",
    "best_ratio",
    "target",
    "bandwidth_gb_s",
    "roofline",
}
RESULT_KEYS = {"layout", "block", "seconds", "gflops", "matmul_gflops", "ratio_to_matmul"}
ROOFLINE_KEYS = {
    "bandwidth_gb_s",
    "depthwise_flop_per_byte",
    "pointwise_flop_per_byte",
    "cap_gflops_separate",
    "cap_ratio_separate",
    "cap_gflops_fused",
    "cap_ratio_fused",
}
SAME_OUTPUT_LAYOUTS = {
    "keras",
    "keras_xla",
    "depthwise_matmul",
    "separable_conv2d",
    "grouped_conv2d",
    "batch_folded",
    "nchw",
    "full_conv",
}


@pytest.fixture(scope="module")
def tiny_result():
    return run_script("depthwise_cost", "--tiny", timeout=300)


def test_tiny_run_has_the_documented_keys(tiny_result):
    assert TOP_KEYS <= set(tiny_result)
    assert tiny_result["benchmark"] == "depthwise_cost" and tiny_result["setting"] == "tiny"
    assert tiny_result["target"] == 0.6
    assert ROOFLINE_KEYS <= set(tiny_result["roofline"])
    assert all(RESULT_KEYS <= set(row) for row in tiny_result["results"])


def test_every_layout_times_every_block_and_the_sum(tiny_result):
    names = [block["block"] for block in tiny_result["blocks"]]
    assert names == ["encoder_conv1", "encoder_conv2"]
    rows = {(row["layout"], row["block"]): row for row in tiny_result["results"]}
    layouts = {layout for layout, _ in rows}
    assert SAME_OUTPUT_LAYOUTS | {"mixed_bfloat16"} <= layouts
    assert set(rows) == {(layout, block) for layout in layouts for block in [*names, "all"]}
    for layout in layouts:
        block_seconds = sum(rows[(layout, name)]["seconds"] for name in names)
        assert rows[(layout, "all")]["seconds"] == pytest.approx(block_seconds, abs=1e-4)


def test_float32_layouts_give_todays_outputs(tiny_result):
    for row in tiny_result["results"]:
        if row["layout"] in SAME_OUTPUT_LAYOUTS:
            assert row["same_outputs"], row
    bfloat16 = [row for row in tiny_result["results"] if row["layout"] == "mixed_bfloat16"]
    assert all(row["max_abs_diff"] > 0 for row in bfloat16)
    best = tiny_result["best_layout"]
    assert best in SAME_OUTPUT_LAYOUTS
    best_all = [row for row in tiny_result["results"] if row["layout"] == best]
    assert tiny_result["best_ratio"] == best_all[-1]["ratio_to_matmul"]


def test_ratios_and_roofline_are_consistent(tiny_result):
    for row in tiny_result["results"]:
        expected = row["gflops"] / row["matmul_gflops"]
        assert row["ratio_to_matmul"] == pytest.approx(expected, rel=0.05, abs=2e-3)
    roofline = tiny_result["roofline"]
    assert roofline["cap_gflops_separate"] <= roofline["cap_gflops_fused"]
    assert roofline["cap_ratio_fused"] <= 1.0 + 1e-3
    low, high = roofline["depthwise_flop_per_byte"]
    assert 0 < low <= high
