"""benchmarks/precision_psnr.py: both precisions share the preset's weights, --tiny prints its JSON.

The photos are generated (no corpus is read); no timing or PSNR level is asserted.
"""

import numpy as np
import pytest
from script_runs import import_script, run_script

KEYS = {
    "preset",
    "generator",
    "psnr_float32",
    "psnr_bfloat16",
    "delta_db",
    "hole_psnr_float32",
    "hole_psnr_bfloat16",
    "hole_delta_db",
    "max_abs_hole_delta_db",
    "serve_float32_s",
    "serve_bfloat16_s",
    "forward_speedup",
}


@pytest.fixture
def precision_psnr(monkeypatch):
    return import_script(monkeypatch, "precision_psnr")


def test_both_precisions_run_the_same_weights(precision_psnr):
    _, float32 = precision_psnr.serving_method("context_encoder_photos", "float32")
    _, bfloat16 = precision_psnr.serving_method("context_encoder_photos", "mixed_bfloat16")
    assert float32.dtype_policy.name == "float32"
    assert bfloat16.dtype_policy.name == "mixed_bfloat16"
    assert len(float32.weights) == len(bfloat16.weights) > 0
    for ours, theirs in zip(float32.weights, bfloat16.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_hole_deltas_are_bfloat16_minus_float32_on_photos_with_a_hole(precision_psnr):
    rows = [
        {"image": "a", "method": "float32", "hole_ratio": 0.2, "hole_psnr": 20.0},
        {"image": "a", "method": "mixed_bfloat16", "hole_ratio": 0.2, "hole_psnr": 19.5},
        {"image": "b", "method": "float32", "hole_ratio": 0.0, "hole_psnr": float("nan")},
        {"image": "b", "method": "mixed_bfloat16", "hole_ratio": 0.0, "hole_psnr": float("nan")},
    ]
    assert precision_psnr._hole_deltas(rows) == [-0.5]


@pytest.mark.large
def test_precision_psnr_tiny_prints_documented_json():
    report = run_script("precision_psnr", "--tiny", timeout=900)
    assert (report["benchmark"], report["setting"], report["photos"]) == (
        "precision_psnr",
        "tiny",
        2,
    )
    from keras_inpaint import presets

    assert [result["preset"] for result in report["results"]] == presets.list()
    for result in report["results"]:
        assert set(result) == KEYS
        assert result["delta_db"] == pytest.approx(
            result["psnr_bfloat16"] - result["psnr_float32"], abs=2e-4
        )
        assert result["serve_float32_s"] > 0 and result["serve_bfloat16_s"] > 0
