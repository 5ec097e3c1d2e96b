"""The benchmark scripts run on their tiny setting and emit the documented JSON keys.

One `run_all.py --tiny` run (every script once, in subprocesses) feeds all
the checks, so the scripts start once each. No timing is asserted: timings
belong in benchmarks/RESULTS.md.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OWN_SCRIPTS = (
    "models",
    "input_pipeline",
    "export_latency",
    "cam_cost",
    "preset_latency",
    "cli_startup",
    "determinism_cost",
)
# benchmarks/serving_load.py --tiny is run and checked by tests/reliability/test_server_load.py.
TINY_RUN_SCRIPTS = ("masks", *OWN_SCRIPTS)
MASK_KINDS = {"random_boxes", "random_region", "irregular_strokes", "free_form"}
SHAPE_KINDS = {"random_boxes", "irregular_strokes", "free_form"}
HOLE_RATIO_KEYS = {"mean", "p10", "p50", "p90"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("benchmarks")
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run_all.py"),
            "--tiny",
            "--only",
            ",".join(TINY_RUN_SCRIPTS),
            "--jobs",
            "2",
            "--output",
            str(folder / "RESULTS.md"),
            "--json-dir",
            str(folder / "raw"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return folder, completed.stdout


def _result(folder, name):
    result = json.loads((folder / "raw" / f"{name}.json").read_text())
    assert "error" not in result, result["error"]
    assert result["benchmark"] == name and result["setting"] == "tiny"
    return result


@pytest.mark.large
def test_models_json_keys(tiny_run):
    result = _result(tiny_run[0], "models")
    assert {"matmul_size", "throughput_batch", "machine", "results"} <= set(result)
    (entry,) = result["results"]
    assert {
        "model",
        "recipe",
        "image_size",
        "params",
        "gflops_per_image",
        "gflops_profiler",
        "matmul_gflops_per_s",
        "forward_plain",
        "forward_xla",
        "best_efficiency",
        "train_step",
    } <= set(entry)
    assert entry["params"] > 0 and entry["gflops_per_image"] > 0 and not entry["uncounted_layers"]
    forward = entry["forward_plain"]
    assert {"batch1_latency_ms", "throughput_images_per_s", "efficiency"} <= set(forward)
    assert isinstance(entry["forward_xla"], dict | str)
    assert {"batch", "recipe_batch", "seconds_per_batch", "seconds_per_image"} <= set(
        entry["train_step"]
    )


@pytest.mark.large
def test_masks_json_keys(tiny_run):
    report = _result(tiny_run[0], "masks")
    assert report["benchmark"] == "masks"
    assert report["setting"] == "tiny"
    assert report["batch"] == 4
    results = report["results"]
    assert {result["kind"] for result in results} == MASK_KINDS
    for result in results:
        assert result["size"] == 32
        for key in ("ours_masks_per_s", "reference_masks_per_s", "ratio", "ours_seconds_per_mask"):
            assert result[key] > 0, key
        for key in ("ours_hole_ratio", "reference_hole_ratio"):
            summary = result[key]
            assert set(summary) == HOLE_RATIO_KEYS
            assert 0 <= summary["p10"] <= summary["p50"] <= summary["p90"] <= 1
        if result["kind"] in SHAPE_KINDS:
            exact = result["ours_exact_ratio"]
            assert exact["hole_ratio"] == [0.2, 0.3]
            assert exact["masks_per_s"] > 0
    # Our generators honour their own ratio option: random_region's default range.
    region = next(result for result in results if result["kind"] == "random_region")
    assert 0.2 <= region["ours_hole_ratio"]["p10"] <= region["ours_hole_ratio"]["p90"] <= 0.3


@pytest.mark.large
def test_input_pipeline_json_keys(tiny_run):
    result = _result(tiny_run[0], "input_pipeline")
    assert {"pipelines", "train_steps", "fastest_model"} <= set(result)
    sources = {entry["source"] for entry in result["pipelines"]}
    assert sources == {"jpeg_folder", "tfrecord"}
    for entry in result["pipelines"]:
        assert entry["images_per_s"] > 0 and entry["ratio"] > 0
    assert {"model", "train_step_images_per_s", "ratio"} <= set(result["fastest_model"])


@pytest.mark.large
def test_export_latency_json_keys(tiny_run):
    result = _result(tiny_run[0], "export_latency")
    (entry,) = result["results"]
    assert {"exported_ms", "in_process_ms", "ratio", "in_process_xla_ms"} <= set(entry)
    # The export and the in-process call compute the same thing on the same inputs.
    assert entry["max_abs_difference"] <= 1
    assert result["worst_ratio"] == entry["ratio"]


@pytest.mark.large
def test_preset_latency_json_keys(tiny_run):
    result = _result(tiny_run[0], "preset_latency")
    (entry,) = result["results"]
    assert entry["size"] == 64 and entry["median_ms"] > 0 and entry["min_ms"] > 0
    assert result["target_ms"] == 2000.0 and "preset" in result


@pytest.mark.large
def test_cli_startup_json_keys(tiny_run):
    result = _result(tiny_run[0], "cli_startup")
    commands = [row["command"] for row in result["results"]]
    assert commands == ["keras-inpaint --help", "keras-inpaint zoo", "python -c pass"]
    assert result["help_s"] > 0 and result["zoo_s"] > 0
    assert [row["target_s"] for row in result["results"]] == [1.0, 2.0, None]


@pytest.mark.large
def test_cam_cost_json_keys(tiny_run):
    result = _result(tiny_run[0], "cam_cost")
    for implementation in ("patches", "fused"):
        assert {"forward_with_cam_s", "cam_over_rest", "cam_only_over_rest"} <= set(
            result[implementation]
        )


@pytest.mark.large
def test_determinism_cost_json_keys(tiny_run):
    result = _result(tiny_run[0], "determinism_cost")
    (entry,) = result["results"]
    assert entry["recipe"] == "context_encoder/builtin_64" and entry["source"] == "builtin"
    assert entry["step_s_without"] > 0 and entry["step_s_with"] > 0
    assert {"cost", "pipeline_s_without", "pipeline_s_with", "pipeline_cost"} <= set(entry)
    assert entry["distinct_weights_without"] >= 1 and entry["distinct_weights_with"] == 1
    # The default recipe on a CPU trains to the same weights either way.
    if not result["machine"].get("accelerators"):
        assert entry["same_weights"] is True


@pytest.mark.large
def test_run_all_writes_results_and_targets(tiny_run):
    folder, stdout = tiny_run
    markdown = (folder / "RESULTS.md").read_text()
    for heading in ("## Machine", "## Targets", "## Models", "## Input pipeline", "## Export"):
        assert heading in markdown
    assert "python benchmarks/run_all.py --tiny" in markdown
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["benchmark"] == "run_all" and summary["setting"] == "tiny"
    assert len(summary["targets"]) == 10
    # The scripts of this suite never fail; others' failures are recorded, not raised.
    assert not set(summary["errors"]) & set(OWN_SCRIPTS)
    assert markdown.startswith("# Benchmark results")


def test_run_all_records_a_missing_script():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run_all
    finally:
        sys.path.pop(0)
    result, seconds = run_all.run_script("no_such_benchmark", "tiny", timeout=5)
    assert "missing" in result["error"] and seconds == 0.0
    markdown, rows = run_all.render(
        {"models": result}, {"models": 0.0}, "tiny", {"cpu": "x"}, "cmd", "now"
    )
    assert "**Error**: missing" in markdown
    assert [verdict for _, _, verdict in rows] == [None] * 10


@pytest.mark.large
def test_layer_profile_json_keys():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "layer_profile.py"), "--tiny", "--top", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "layer_profile" and result["setting"] == "tiny"
    assert len(result["layers"]) == 3
    for entry in result["layers"]:
        assert {"layer", "type", "ms", "share", "gflops", "gflops_per_s"} <= set(entry)
    shares = [entry["share"] for entry in result["layers"]]
    assert shares == sorted(shares, reverse=True) and sum(shares) <= 1.0 + 1e-6


def test_flop_count_counts_convolutions_and_attention():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from flop_count import count_flops
    finally:
        sys.path.pop(0)
    import keras

    from keras_inpaint.models.pepsi import PEPSIGenerator

    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Conv2DTranspose(2, 4, strides=2, padding="same")(
        keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    )
    counted = count_flops(keras.Model(inputs, outputs))
    # Conv: 4x4 outputs x 3x3x3x4 weights; transposed: 4x4 inputs x 4x4x2x4 weights.
    assert counted["by_layer_type"] == {"Conv2D": 2 * 16 * 108, "Conv2DTranspose": 2 * 16 * 128}
    pepsi = count_flops(PEPSIGenerator(image_size=32, filters=4))
    # The 4x4x32 CAM: two (16 x 16) by (16 x 32) products.
    assert pepsi["by_layer_type"]["ContextualAttention"] == 2 * 2 * 16 * 16 * 32
    assert not pepsi["uncounted"]
