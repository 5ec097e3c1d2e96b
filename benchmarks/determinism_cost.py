"""Cost of deterministic training (`keras-inpaint train --deterministic`) on training steps.

For each case (a recipe on its own data spec, the built-in photographs, or
on a folder of JPEGs), times training steps as `keras-inpaint train` runs
them: `build_dataset`'s training batches (decode, crop, augment, masks)
into the recipe's compiled `train_step` (generator + discriminator), one
batch at a time, after two warm-up steps; and the same input pipeline
alone. "With" is what `train --deterministic` adds,
`keras_inpaint.training.trainer.enable_determinism()`: op determinism and
one inter-op thread, which a process cannot undo, so each measurement runs
in a fresh process, with or without; the two alternate, in mirrored order
from round to round (without, with, with, without, ...), so that a change
of load on a shared machine hits both alike. `cost` = median step with /
median step without - 1, over all rounds. Each process also hashes the
weights after its steps: `distinct_weights_with` / `_without` count the
different results of each setting's processes, `same_weights` says whether
every process trained to identical weights.

    python benchmarks/determinism_cost.py [--tiny | --quick] [--rounds N] [--steps N]

Settings: `--tiny` the default recipe at batch 4, 2 steps, 1 round (for
the tests); `--quick` the default recipe at its batch size, 3 steps,
1 round; the full run: the default recipe, PEPSI's built-in recipe at its
batch size and the Context Encoder's and PEPSI's 128x128 photo recipes on a
folder of 600x600 JPEGs (the data of `--data-dir` runs), 20 steps, 2 rounds
(each setting in two processes per case: 16 processes in all).

Prints one JSON object: `{"benchmark": "determinism_cost", "setting",
"machine", "steps", "rounds", "results": [...]}` (keys in benchmarks/README.md).
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import emit, finish, log, machine_description, parse_setting  # noqa: E402

DEFAULT_CASE = ("context_encoder_builtin_64", "context_encoder/builtin_64", "builtin")
PEPSI_CASE = ("pepsi_builtin_64", "pepsi/builtin_64_free_form", "builtin")
FOLDER_CASES = (
    ("context_encoder_photos_128", "context_encoder/photos_128", "jpeg_folder"),
    ("pepsi_photos_128", "pepsi/photos_128", "jpeg_folder"),
)

SETTINGS = {
    "tiny": {"cases": (DEFAULT_CASE,), "batch_cap": 4, "steps": 2, "rounds": 1},
    "quick": {"cases": (DEFAULT_CASE,), "batch_cap": None, "steps": 3, "rounds": 1},
    "full": {
        "cases": (DEFAULT_CASE, PEPSI_CASE, *FOLDER_CASES),
        "batch_cap": None,
        "steps": 20,
        "rounds": 2,
    },
}
# The folder case's JPEGs (input_pipeline.py's sources): count, side.
FOLDER_IMAGES = (64, 600)
WARMUP_STEPS = 2


def _add_arguments(parser):
    parser.add_argument("--rounds", type=int, help="rounds of both settings (default: setting's)")
    parser.add_argument("--steps", type=int, help="timed steps a process (default: setting's)")
    # What the parent process passes to its children.
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--deterministic", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)


def measure(recipe_name, source, batch_cap, steps, deterministic, folder):
    """One process's figures: median seconds a step and a pipeline batch, weight digest."""
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_inpaint.data.pipeline import build_dataset, load_data_spec
    from keras_inpaint.training.recipes import build_inpainter, load_recipe
    from keras_inpaint.training.trainer import enable_determinism

    if deterministic:
        enable_determinism()

    keras.utils.set_random_seed(0)
    recipe = load_recipe(recipe_name)
    batch = recipe["training"]["batch_size"]
    if batch_cap:
        batch = min(batch, batch_cap)
    spec = load_data_spec(recipe["data"])
    if source == "jpeg_folder":
        spec = dict(spec, source={"type": "folder", "path": folder})
    model = build_inpainter(recipe)
    step = tf.function(model.train_step)

    def batches():
        return iter(build_dataset(spec, recipe["image_size"], batch, "train", seed=0))

    def timed(function, iterator, count):
        seconds = []
        for _ in range(count):
            start = time.perf_counter()
            finish(function(next(iterator)))
            seconds.append(time.perf_counter() - start)
        return statistics.median(seconds)

    iterator = batches()
    timed(step, iterator, WARMUP_STEPS)
    step_s = timed(step, iterator, steps)
    digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights()))
    pipeline = batches()
    timed(lambda data: data[1], pipeline, WARMUP_STEPS)
    pipeline_s = timed(lambda data: data[1], pipeline, steps)
    return {
        "batch": batch,
        "step_s": step_s,
        "pipeline_s": pipeline_s,
        "weights_sha256": digest.hexdigest()[:16],
    }


def _child(script_args, key, deterministic, folder):
    """The JSON of one child process (`measure` for one case), or `{"error": ...}`."""
    command = [sys.executable, os.path.abspath(__file__), "--child", key, *script_args]
    if deterministic:
        command.append("--deterministic")
    if folder is not None:
        command += ["--folder", folder]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        return json.loads(completed.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = " | ".join(completed.stderr.strip().splitlines()[-2:])
        return {"error": f"exit status {completed.returncode}: {tail}"[:500]}


def run_case(case, script_args, rounds, folder):
    """Alternate fresh processes with and without op determinism; the case's result."""
    key, recipe_name, source = case
    runs = {False: [], True: []}
    for round_index in range(rounds):
        order = (False, True) if round_index % 2 == 0 else (True, False)
        for deterministic in order:
            figures = _child(script_args, key, deterministic, folder)
            if "error" in figures:
                return {"case": key, "recipe": recipe_name, "source": source, **figures}
            runs[deterministic].append(figures)
            log(f"determinism_cost: {key} deterministic={deterministic}: {json.dumps(figures)}")
    result = {"case": key, "recipe": recipe_name, "source": source}
    result["batch"] = runs[False][0]["batch"]
    for figure in ("step_s", "pipeline_s"):
        for name, deterministic in (("without", False), ("with", True)):
            seconds = statistics.median(figures[figure] for figures in runs[deterministic])
            result[f"{figure}_{name}"] = round(seconds, 4)
    result["cost"] = round(result["step_s_with"] / result["step_s_without"] - 1.0, 3)
    result["pipeline_cost"] = round(result["pipeline_s_with"] / result["pipeline_s_without"] - 1, 3)
    for name, deterministic in (("without", False), ("with", True)):
        digests = {figures["weights_sha256"] for figures in runs[deterministic]}
        result[f"distinct_weights_{name}"] = len(digests)
    digests = {figures["weights_sha256"] for figures in runs[False] + runs[True]}
    result["same_weights"] = len(digests) == 1
    return result


def main():
    setting, args = parse_setting(__doc__.split("\n\n")[0], _add_arguments)
    config = SETTINGS[setting]
    steps = args.steps or config["steps"]
    cases = {case[0]: case for case in config["cases"]}
    if args.child:
        _, recipe_name, source = cases[args.child]
        emit(
            measure(
                recipe_name, source, config["batch_cap"], steps, args.deterministic, args.folder
            )
        )
        return
    rounds = args.rounds or config["rounds"]
    script_args = ([] if setting == "full" else [f"--{setting}"]) + ["--steps", str(steps)]
    workdir = tempfile.mkdtemp(prefix="keras_inpaint_determinism_")
    try:
        results = []
        for case in cases.values():
            folder = None
            if case[2] == "jpeg_folder":
                from input_pipeline import write_sources

                folder, _ = write_sources(os.path.join(workdir, case[0]), *FOLDER_IMAGES)
            start = time.perf_counter()
            results.append(run_case(case, script_args, rounds, folder))
            log(f"determinism_cost: {case[0]} done in {time.perf_counter() - start:.0f} s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    emit(
        {
            "benchmark": "determinism_cost",
            "setting": setting,
            "machine": machine_description(),
            "steps": steps,
            "rounds": rounds,
            "results": results,
        }
    )


if __name__ == "__main__":
    main()
