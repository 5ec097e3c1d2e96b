"""benchmarks/serving_load.py --tiny: concurrent clients against `keras-inpaint serve` on
127.0.0.1 get only HTTP 200 answers of the right size, and the script prints its JSON line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.large

ROOT = Path(__file__).resolve().parents[2]


def test_the_tiny_load_test_has_no_errors():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serving_load.py"), "--tiny"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert (result["benchmark"], result["setting"]) == ("serving_load", "tiny")
    assert result["clients"] == 2 and result["seconds"] == 3.0
    assert result["errors"] == 0, result["error_kinds"]
    assert result["requests"] > 0
    assert result["p50_ms"] <= result["p99_ms"]
    kinds = result["by_kind"]
    assert sum(kind["requests"] for kind in kinds.values()) == result["requests"]
    assert all(kind["p50_ms"] <= kind["p99_ms"] for kind in kinds.values())
