"""The code base stays lint-clean (ruff, configured in pyproject.toml)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the [test] extra")
def test_ruff_finds_nothing():
    completed = subprocess.run(["ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout
