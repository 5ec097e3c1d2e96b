"""The benchmark scripts run on their tiny setting and emit the documented JSON keys.

One `run_all.py --tiny` run (the scripts below once each, in subprocesses, two
at a time) feeds the key checks; serving_overhead.py, precision_cost.py and
depthwise_cost.py run on their tiny setting in their own test files, so
run_all's tables and targets for them are checked here on JSON objects of
their documented shape. No timing is asserted: timings belong in
benchmarks/RESULTS.md.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from script_runs import import_script, run_script

ROOT = Path(__file__).resolve().parents[2]
TARGET_COUNT = 14
OWN_SCRIPTS = (
    "models",
    "input_pipeline",
    "export_latency",
    "cam_cost",
    "preset_latency",
    "cli_startup",
    "determinism_cost",
)
# Run and checked on their tiny setting elsewhere: serving_load.py by
# tests/reliability/test_server_load.py, serving_overhead.py, precision_cost.py and
# depthwise_cost.py by their own files in tests/benchmarks/.
TINY_RUN_SCRIPTS = ("masks", "generator_once", *OWN_SCRIPTS)
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
    assert set(entry["phase_seconds"]) == {"build", "flops", "forward", "train_step"}


@pytest.mark.large
def test_generator_once_json_keys(tiny_run):
    result = _result(tiny_run[0], "generator_once")
    (entry,) = result["results"]
    assert entry["recipe"] == "context_encoder/builtin_64" and entry["image_size"] == 64
    for key in ("two_pass_s", "one_pass_s", "speedup"):
        assert entry[key] > 0, key


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
    assert len(summary["targets"]) == TARGET_COUNT
    # The scripts of this suite never fail; others' failures are recorded, not raised.
    assert not set(summary["errors"]) & set(OWN_SCRIPTS)
    assert markdown.startswith("# Benchmark results")


@pytest.fixture
def run_all(monkeypatch):
    return import_script(monkeypatch, "run_all")


def test_run_all_records_a_missing_script(run_all):
    result, seconds = run_all.run_script("no_such_benchmark", "tiny", timeout=5)
    assert "missing" in result["error"] and seconds == 0.0
    markdown, rows = run_all.render(
        {"models": result}, {"models": 0.0}, "tiny", {"cpu": "x"}, "cmd", "now"
    )
    assert "**Error**: missing" in markdown
    assert [verdict for _, _, verdict in rows] == [None] * TARGET_COUNT


def test_run_all_time_limits_grow_with_the_load(run_all):
    assert run_all.load_factor(load=0.5, cores=2) == 1.0
    assert run_all.load_factor(load=8.0, cores=2) == 4.0
    for name in run_all.SCRIPTS:
        assert name in run_all.IDLE_SECONDS and name in run_all.TABLES
        for setting in ("tiny", "quick", "full"):
            budget = run_all.TIMEOUT_MARGIN * run_all.idle_seconds(name, setting)
            assert run_all.timeout_s(name, setting) >= max(run_all.TIMEOUT_FLOOR_S, budget)
            assert run_all.timeout_s(name, setting, 4.0) >= 4 * budget
    # Above the floor the limit is proportional: margin x idle seconds x load factor.
    idle_models = run_all.IDLE_SECONDS["models"][1]
    assert run_all.timeout_s("models", "quick", 2.5) == run_all.TIMEOUT_MARGIN * idle_models * 2.5
    assert run_all.script_command("serving_overhead", "quick")[-1] == "--quick"
    assert run_all.script_command("models", "quick")[-1] == "--quick"
    assert run_all.script_command("models", "full")[-1].endswith("models.py")


def test_run_all_timeout_ends_the_scripts_children(run_all, tmp_path):
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],\n"
        "                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    with pytest.raises(subprocess.TimeoutExpired):
        run_all._run_in_session([sys.executable, "-c", script], timeout=5)
    pid = int(pid_file.read_text())
    for _ in range(50):  # the kill is asynchronous: wait for the state to change
        stat = Path(f"/proc/{pid}/stat")
        if not stat.exists() or stat.read_text().split(") ")[1][0] in "ZX":
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        pytest.fail("the timed-out script's child process was left running")


STANDALONE_RESULTS = {
    "serving_overhead": {
        "benchmark": "serving_overhead",
        "setting": "full",
        "runs": 3,
        "server": "keras-inpaint serve --workers 1",
        "results": [
            # A tiny size's ratio does not count for the targets (256 and 512 px).
            {"kind": "json", "size": 64, "ratio": 9.0, "target": 3.0},
            {"kind": "json", "size": 256, "ratio": 2.33, "target": 3.0},
            {"kind": "json", "size": 512, "ratio": 2.6, "target": 3.0},
            {"kind": "png", "size": 256, "ratio": 0.99, "target": 1.3},
            {"kind": "png", "size": 512, "ratio": 1.43, "target": 1.3},
        ],
    },
    "depthwise_cost": {
        "benchmark": "depthwise_cost",
        "setting": "quick",
        "results": [
            {"layout": "keras", "block": "all", "gflops": 9.0, "ratio_to_matmul": 0.1},
            {"layout": "keras", "block": "dw1", "gflops": 5.0, "ratio_to_matmul": 0.05},
            {"layout": "nchw", "block": "all", "gflops": 36.0, "ratio_to_matmul": 0.45},
        ],
        "best_layout": "nchw",
        "best_ratio": 0.45,
        "target": 0.6,
    },
    "precision_cost": {
        "benchmark": "precision_cost",
        "setting": "quick",
        "results": [{"model": "pepsi", "bfloat16_speedup": 1.59, "xla_speedup": 1.1}],
    },
    "generator_once": {
        "benchmark": "generator_once",
        "setting": "quick",
        "results": [{"model": "pepsi", "recipe": "pepsi/celeba_hq_256", "speedup": 1.31}],
    },
}


def test_run_all_tabulates_the_standalone_scripts_and_their_targets(run_all):
    runs = {
        name: {"seconds": 1.0, "timeout_s": 60, "load_average": 3.0} for name in run_all.SCRIPTS
    }
    markdown, rows = run_all.render(
        STANDALONE_RESULTS, runs, "quick", {"logical_cores": 2}, "cmd", "now"
    )
    rest = [(measured, met) for target, measured, met in rows if target.startswith("REST")]
    assert rest == [("2.33 at 256, 2.60 at 512", True), ("0.99 at 256, 1.43 at 512", False)]
    depthwise = [(measured, met) for target, measured, met in rows if "depthwise" in target]
    assert depthwise == [("0.45 (nchw; target 0.6)", False)]
    for name in STANDALONE_RESULTS:
        assert f"## {run_all.TABLES[name][0]}\n\nRan in 1 s (limit 60 s" in markdown
    assert "| pepsi | - | - | - | - | - | 1.59 | 1.1 |" in markdown
    assert "| pepsi | `pepsi/celeba_hq_256` | - | - | - | - | 1.31 |" in markdown
    assert "| nchw | - | 36 | - | 0.45 | - |" in markdown and "| keras | - | 5 |" not in markdown
    assert "| png | 512 | - | - | - | 1.43 | 1.3 | **not met** |" in markdown
    assert "Load average before the scripts: 3 to 3 on 2 logical cores" in markdown


def test_run_all_from_json_reads_old_and_new_run_records(run_all, tmp_path):
    for name, result in STANDALONE_RESULTS.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(result))
    records = {
        "generator_once": 12.0,
        "serving_overhead": {"seconds": 30.0, "cpu_seconds": 21.0, "timeout_s": 75},
    }
    (tmp_path / run_all.SECONDS_FILE).write_text(json.dumps(records))
    outcomes = run_all._from_json(tmp_path, run_all.SCRIPTS)
    assert [name for name, _, _ in outcomes] == [
        name for name in run_all.SCRIPTS if name in STANDALONE_RESULTS
    ]
    runs = {name: record for name, _, record in outcomes}
    markdown, _ = run_all.render(STANDALONE_RESULTS, runs, "full", {}, "cmd", "now")
    assert (
        "Ran in 12 s." in markdown
        and "Ran in 30 s, 21 CPU s (limit 75 s, load average - before)." in markdown
    )


@pytest.mark.large
def test_layer_profile_json_keys():
    result = run_script("layer_profile", "--tiny", "--top", "3", timeout=300)
    assert result["benchmark"] == "layer_profile" and result["setting"] == "tiny"
    assert len(result["layers"]) == 3
    for entry in result["layers"]:
        assert {"layer", "type", "ms", "share", "gflops", "gflops_per_s"} <= set(entry)
    shares = [entry["share"] for entry in result["layers"]]
    assert shares == sorted(shares, reverse=True) and sum(shares) <= 1.0 + 1e-6


def test_flop_count_counts_convolutions_and_attention(monkeypatch):
    count_flops = import_script(monkeypatch, "flop_count").count_flops
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


def test_run_all_json_dir_keeps_the_other_scripts_when_one_is_run_again(run_all, tmp_path):
    first = {"seconds": 10.0, "timeout_s": 60, "load_average": 0.1, "started": "day 1"}
    again = {"seconds": 20.0, "timeout_s": 60, "load_average": 0.2, "started": "day 2"}
    run_all._save_json(
        tmp_path, {"masks": {"a": 1}, "models": {"b": 2}}, {"masks": first, "models": first}
    )
    run_all._save_json(tmp_path, {"masks": {"a": 3}}, {"masks": again})
    outcomes = {
        name: (result, record)
        for name, result, record in run_all._from_json(tmp_path, run_all.SCRIPTS)
    }
    assert outcomes == {"masks": ({"a": 3}, again), "models": ({"b": 2}, first)}
    assert run_all._ran(again) == "Ran in 20 s from day 2 (limit 60 s, load average 0.2 before)."


def test_run_all_mask_reference_target_counts_every_kind_at_256_and_512(run_all):
    def row(kind, size, ratio):
        return {"kind": kind, "size": size, "ratio": ratio}

    masks = {"benchmark": "masks", "results": [row("random_boxes", 128, 0.1)]}
    assert run_all._mask_reference_target(masks) is None  # no row at 256 or 512
    masks["results"] += [row("random_boxes", 256, 1.2), row("free_form", 512, 1.0)]
    assert run_all._mask_reference_target(masks) == ("2 of 2 met; worst 1.00 (free_form 512)", True)
    masks["results"].append(row("irregular_strokes", 512, 0.31))
    assert run_all._mask_reference_target(masks) == (
        "2 of 3 met; worst 0.31 (irregular_strokes 512)",
        False,
    )
