"""Running and importing the scripts of `benchmarks/` from the tests.

`run_script` runs one script in a fresh process, as a user would, and
returns the JSON object it prints last; `import_script` imports one as a
module (the scripts import each other by bare name, as scripts on the path).
"""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"


def run_script(name, *arguments, timeout):
    """The last stdout line of `python benchmarks/<name>.py <arguments>`, parsed as JSON.

    Fails the calling test with the end of the script's stderr when it exits non-zero.
    """
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), *arguments],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=path),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def import_script(monkeypatch, name):
    """`benchmarks/<name>.py` as a module, with `benchmarks/` on the path for this test only."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module(name)
