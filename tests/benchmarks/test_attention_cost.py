"""`benchmarks/cam_cost.py` on its tiny setting: one implementation, a batch, its keys."""

from script_runs import run_script

KEYS = {
    "forward_with_cam_s",
    "forward_without_cam_s",
    "cam_only_s",
    "cam_over_rest",
    "cam_only_over_rest",
}


def test_cam_cost_times_the_chosen_implementation_at_a_batch():
    result = run_script(
        "cam_cost", "--tiny", "--batch", "2", "--implementation", "fused", timeout=300
    )
    assert result["benchmark"] == "cam_cost" and result["setting"] == "tiny"
    assert result["batch"] == 2 and result["image_size"] == 64
    assert "patches" not in result and KEYS <= set(result["fused"])
    fused = result["fused"]
    assert fused["cam_only_s"] > 0 and fused["forward_without_cam_s"] > 0
    # The seconds are rounded to 4 decimals and the ratio to 3: it lies between the
    # ratios of the rounding interval's ends.
    cam, rest, half = fused["cam_only_s"], fused["forward_without_cam_s"], 5e-5
    lowest, highest = (cam - half) / (rest + half), (cam + half) / max(rest - half, 1e-9)
    assert lowest - 5e-4 <= fused["cam_only_over_rest"] <= highest + 5e-4
