"""benchmarks/masks_xla.py --tiny runs and prints the documented JSON (no timings asserted;
masks.py's JSON is checked from run_all's run, in test_benchmark_scripts.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"random_boxes", "random_region", "irregular_strokes", "free_form"}


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
