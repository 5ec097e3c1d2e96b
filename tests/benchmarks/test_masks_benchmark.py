"""benchmarks/masks.py and masks_xla.py --tiny run and print the documented JSON (no timings
asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"random_boxes", "random_region", "irregular_strokes", "free_form"}
SHAPE_KINDS = {"random_boxes", "irregular_strokes", "free_form"}
HOLE_RATIO_KEYS = {"mean", "p10", "p50", "p90"}


@pytest.mark.large
def test_masks_benchmark_tiny_prints_documented_json():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "masks.py"), "--tiny"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["benchmark"] == "masks"
    assert report["setting"] == "tiny"
    assert report["batch"] == 4
    results = report["results"]
    assert {result["kind"] for result in results} == KINDS
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
def test_masks_xla_benchmark_tiny_prints_documented_json():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "masks_xla.py"), "--tiny"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert (report["benchmark"], report["setting"], report["batch"]) == ("masks_xla", "tiny", 4)
    assert {result["kind"] for result in report["results"]} >= KINDS | {"center_box"}
    for result in report["results"]:
        assert result["size"] == 32
        for key in ("graph_masks_per_s", "xla_masks_per_s", "xla_speedup"):
            assert result[key] > 0, key
        assert isinstance(result["same_masks"], bool)
        for key in ("graph_hole_ratio", "xla_hole_ratio"):
            assert 0 <= result[key]["mean"] <= 1
