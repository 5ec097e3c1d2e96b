"""benchmarks/serving_overhead.py runs on its tiny setting and emits its documented keys.

No timing is asserted: the ratios belong in benchmarks/RESULTS.md.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULT_KEYS = {
    "kind",
    "size",
    "request_bytes",
    "answer_bytes",
    "request_ms",
    "in_process_ms",
    "ratio",
    "target",
}


@pytest.mark.large
def test_serving_overhead_tiny_prints_documented_json():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serving_overhead.py"), "--tiny"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.splitlines()[-1])
    assert (result["benchmark"], result["setting"]) == ("serving_overhead", "tiny")
    rows = result["results"]
    assert {(row["kind"], row["size"]) for row in rows} == {
        (kind, size) for kind in ("json", "png") for size in (32, 64)
    }
    for row in rows:
        assert set(row) >= RESULT_KEYS
        assert row["request_ms"] > 0 and row["in_process_ms"] > 0
        assert row["target"] == {"json": 3.0, "png": 1.3}[row["kind"]]
