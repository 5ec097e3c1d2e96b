"""benchmarks/masks_xla.py --tiny runs and prints the documented JSON, and the OpenCV
references draw masks of the recipes (no timings asserted; masks.py's JSON is checked from
run_all's run, in test_benchmark_scripts.py)."""

import sys

import numpy as np
import pytest
from script_runs import BENCHMARKS, run_script

KINDS = {"random_boxes", "random_region", "irregular_strokes", "free_form"}
sys.path.insert(0, str(BENCHMARKS))

reference_masks = pytest.importorskip("reference_masks", reason="needs OpenCV")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_references_draw_seeded_binary_masks(kind):
    first = reference_masks.make_reference(kind, 3)
    again = reference_masks.make_reference(kind, 3)
    masks = [first(64, 80) for _ in range(4)]
    assert all(mask.shape == (64, 80) and mask.dtype == np.uint8 for mask in masks)
    assert all(set(np.unique(mask)) <= {0, 1} and 0 < mask.mean() < 1 for mask in masks)
    assert all(np.array_equal(mask, again(64, 80)) for mask in masks)
    assert not np.array_equal(masks[0], masks[1])


def test_unknown_reference_kind_names_the_known_ones():
    with pytest.raises(ValueError, match="references: random_boxes, random_region"):
        reference_masks.make_reference("center_box", 0)


@pytest.mark.large
def test_masks_xla_benchmark_tiny_prints_documented_json():
    report = run_script("masks_xla", "--tiny", timeout=900)
    assert (report["benchmark"], report["setting"], report["batch"]) == ("masks_xla", "tiny", 4)
    assert {result["kind"] for result in report["results"]} >= KINDS | {"center_box"}
    for result in report["results"]:
        assert result["size"] == 32
        for key in ("graph_masks_per_s", "xla_masks_per_s", "xla_speedup"):
            assert result[key] > 0, key
        assert isinstance(result["same_masks"], bool)
        for key in ("graph_hole_ratio", "xla_hole_ratio"):
            assert 0 <= result[key]["mean"] <= 1
