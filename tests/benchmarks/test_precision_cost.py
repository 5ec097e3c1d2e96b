"""benchmarks/precision_cost.py: its variants are what they are named, and --tiny prints its JSON.

No timing is asserted (figures belong in benchmarks/RESULTS.md).
"""

import pytest
from script_runs import import_script, run_script

KEYS = {
    "model",
    "recipe",
    "image_size",
    "batch",
    "float32_s",
    "mixed_bfloat16_s",
    "xla_s",
    "bfloat16_speedup",
    "xla_speedup",
    "forward_float32_s",
    "forward_mixed_bfloat16_s",
    "forward_bfloat16_speedup",
    "masks_step_s",
    "masks_pipeline_s",
    "masks_step_over_pipeline",
}


@pytest.fixture
def precision_cost(monkeypatch):
    return import_script(monkeypatch, "precision_cost")


def test_each_variant_builds_the_model_it_names(precision_cost):
    recipe = precision_cost._recipe("context_encoder/builtin_64", {})
    bfloat16 = precision_cost._model(recipe, "mixed_bfloat16")
    assert bfloat16.generator.dtype_policy.name == "mixed_bfloat16"
    assert precision_cost._model(recipe).generator.dtype_policy.name == "float32"
    assert precision_cost._model(recipe, jit_compile=True).jit_compile is True
    in_step = precision_cost._model(recipe, step_masks={"kind": "center_box"})
    assert in_step.step_masks == {"kind": "center_box"}


def test_full_run_covers_every_generator_family(precision_cost):
    classes = {
        precision_cost._recipe(recipe, overrides)["generator"]["class"]
        for _, recipe, overrides in precision_cost.ZOO
    }
    assert classes == {"ContextEncoderGenerator", "GLCICGenerator", "PEPSIGenerator", "PConvUNet"}
    assert precision_cost.selected_zoo("full", None) == precision_cost.ZOO
    assert precision_cost.selected_zoo("full", "glcic, pepsi_diet") == (
        precision_cost.ZOO[2],
        precision_cost.ZOO[4],
    )
    with pytest.raises(ValueError, match="glcic"):
        precision_cost.selected_zoo("full", "no_such_model")
    with pytest.raises(ValueError, match="--tiny"):
        precision_cost.selected_zoo("tiny", "glcic")


def test_bfloat16_only_times_the_two_precisions_alone(precision_cost):
    recipe = precision_cost._recipe("context_encoder/builtin_64", {})
    batch = precision_cost.example_batch(recipe, 1, 64)
    steps = precision_cost._steps(recipe, batch, bfloat16_only=True)
    assert set(steps) == {"float32", "mixed_bfloat16", "forward_float32", "forward_mixed_bfloat16"}
    assert steps["forward_mixed_bfloat16"]().dtype.name == "bfloat16"
    assert steps["forward_float32"]().dtype.name == "float32"


@pytest.mark.large
def test_precision_cost_tiny_prints_documented_json():
    report = run_script("precision_cost", "--tiny", timeout=900)
    assert (report["benchmark"], report["setting"]) == ("precision_cost", "tiny")
    (result,) = report["results"]
    assert set(result) == KEYS
    assert (result["recipe"], result["image_size"], result["batch"]) == (
        "context_encoder/builtin_64",
        64,
        2,
    )
    for key in KEYS - {"model", "recipe", "image_size", "batch"}:
        assert result[key] > 0, key
    assert result["masks_pipeline_s"] >= result["float32_s"]
