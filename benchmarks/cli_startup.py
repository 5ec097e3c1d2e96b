"""How long `keras-inpaint --help` and `keras-inpaint zoo` take, each in a fresh process.

Starts each command as a user does, in a new Python process with the
environment the benchmark was started with (less `TF_CPP_MIN_LOG_LEVEL`,
which benchlib sets for the other scripts), and times it to its exit: the
median of `runs` runs after one warm-up run (files cached), the commands
alternating so that a change of load hits them alike. For scale, two
references run the same way: a bare interpreter (`python -c pass`) and
`python -c "import tensorflow"`, what every command that runs a model pays
first. Targets: `--help` under 1 s, `zoo` (parameter counts read from
models/param_counts.json, no TensorFlow) under 2 s.

    python benchmarks/cli_startup.py [--tiny | --quick]

Prints one JSON object: `{"benchmark": "cli_startup", "setting", "runs",
"entry_point", "results": [{"command", "median_s", "min_s", "max_s",
"target_s"}], "help_s", "zoo_s"}`.
"""

import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from benchlib import emit, interleaved_times, log, parse_setting

SETTINGS = {
    "tiny": {"runs": 1, "import_tensorflow": False},
    "quick": {"runs": 2, "import_tensorflow": True},
    "full": {"runs": 11, "import_tensorflow": True},
}
TARGETS_S = {"keras-inpaint --help": 1.0, "keras-inpaint zoo": 2.0}


def entry_point():
    """The `keras-inpaint` script beside this Python, else on PATH, else the module."""
    script = Path(sys.executable).parent / "keras-inpaint"
    if script.is_file():
        return [str(script)]
    found = shutil.which("keras-inpaint")
    return [found] if found else [sys.executable, "-m", "keras_inpaint.cli"]


def runner(command, environment):
    """A function that runs `command` to its end and fails on a non-zero exit status."""

    def run():
        completed = subprocess.run(command, env=environment, capture_output=True, text=True)
        if completed.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {completed.stderr[-500:]}")

    return run


def main():
    setting, _ = parse_setting(__doc__.split("\n\n")[0])
    config = SETTINGS[setting]
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    cli = entry_point()
    commands = {
        "keras-inpaint --help": cli + ["--help"],
        "keras-inpaint zoo": cli + ["zoo"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    if config["import_tensorflow"]:
        commands['python -c "import tensorflow"'] = [sys.executable, "-c", "import tensorflow"]
    times = interleaved_times(
        {name: runner(command, environment) for name, command in commands.items()},
        config["runs"],
    )
    results = []
    for name, seconds in times.items():
        row = {
            "command": name,
            "median_s": round(statistics.median(seconds), 3),
            "min_s": round(min(seconds), 3),
            "max_s": round(max(seconds), 3),
            "target_s": TARGETS_S.get(name),
        }
        log(f"cli_startup {name}: {row['median_s']} s")
        results.append(row)
    by_name = {row["command"]: row["median_s"] for row in results}
    emit(
        {
            "benchmark": "cli_startup",
            "setting": setting,
            "runs": config["runs"],
            "entry_point": " ".join(cli),
            "results": results,
            "help_s": by_name["keras-inpaint --help"],
            "zoo_s": by_name["keras-inpaint zoo"],
        }
    )


if __name__ == "__main__":
    main()
