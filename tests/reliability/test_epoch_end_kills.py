"""SIGKILL at points of an epoch end, then the same command: nothing is lost or doubled.

A 2-epoch run is killed with SIGKILL before its first epoch's backup, run
again, and killed again at its last epoch end, before the sample grid.
Along the way that second run copies its run directory at two earlier
points of the same epoch end (before the checkpoint; mid `metrics.csv`
write, with the row's temporary file half written): each copy is what a
kill there leaves on disk. The same command then finishes the killed run
and each copy. Every finished run must hold each epoch's metrics row once,
each epoch's sample grid and TensorBoard scalars, no torn file, and a
loadable last checkpoint with the final training state: the same weights
in all three, those of the killed run's last backup. The killed run, killed
before its export, is exported when finished.

To keep the test short, a driver process (this file run as a script)
imports TensorFlow once and forks one child per run, before TensorFlow's
runtime starts; a child installs its kill or copy points and runs
`keras-inpaint train`.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

EPOCHS, STEPS = 2, 2
# Where the second run copies its run directory, at its last epoch end.
COPIES = ("before_checkpoint", "mid_metrics_write")
# (point, epoch counted from 1) of the runs killed.
FIRST_KILL, SECOND_KILL = ("before_backup", 1), ("before_sample_grid", EPOCHS)


def write_recipe_and_spec(folder):
    """Context Encoder at 32x32 with 4 filters, 2 steps of 2 images per epoch; center boxes."""
    from keras_inpaint.training import load_recipe

    recipe = load_recipe("context_encoder/builtin_64")
    recipe["name"] = "tests/epoch_end_32"
    recipe["image_size"] = 32
    recipe["generator"]["config"].update(
        image_size=32, encoder_filters=[4, 4, 4], bottleneck=8, decoder_filters=[4, 4, 4]
    )
    recipe["discriminator"]["config"].update(image_size=32, filters=4)
    recipe["training"] = {
        "batch_size": 2,
        "epochs": EPOCHS,
        "steps_per_epoch": STEPS,
        "validation_batches": 1,
    }
    (folder / "recipe.json").write_text(json.dumps(recipe))
    spec = {"source": {"type": "builtin"}, "masks": {"kind": "center_box"}}
    (folder / "spec.json").write_text(json.dumps(spec))
    return ["train", "--recipe", str(folder / "recipe.json"), "--data", str(folder / "spec.json")]


# === The driver (this file run as a script) ===


def kill_now():
    os.kill(os.getpid(), signal.SIGKILL)


def before_epoch_end(cls, at_epoch, action):
    """Run `action()` before `cls.on_epoch_end` of epoch `at_epoch` (counted from 1)."""
    original = cls.on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == at_epoch:
            action()
        return original(self, epoch, logs)

    cls.on_epoch_end = on_epoch_end


def mid_metrics_write(at_epoch, action):
    """Run `action(temporary_file)` once epoch `at_epoch`'s row is written, before the rename."""
    from keras_inpaint import output_files
    from keras_inpaint.callbacks import metrics_csv

    original_write_row = metrics_csv.MetricsCSV.write_row

    class ReplaceAfterAction:
        """`os` for output_files (which renames the row's file), whose `replace` first runs
        the action."""

        def __getattr__(self, name):
            return getattr(os, name)

        def replace(self, source, target):
            action(Path(source))
            output_files.os = os
            os.replace(source, target)

    def write_row(self, epoch, logs):
        if epoch == at_epoch:
            output_files.os = ReplaceAfterAction()
        return original_write_row(self, epoch, logs)

    metrics_csv.MetricsCSV.write_row = write_row


def install(point, at_epoch, action):
    """Run `action` (given the row's temporary file at `mid_metrics_write`) at a named point."""
    from keras_inpaint.callbacks import AtomicCheckpoint, SampleGrid, TrainingBackup

    if point == "mid_metrics_write":
        mid_metrics_write(at_epoch, action)
        return
    targets = {
        "before_backup": TrainingBackup,
        "before_checkpoint": AtomicCheckpoint,
        "before_sample_grid": SampleGrid,
    }
    before_epoch_end(targets[point], at_epoch, lambda: action(None))


def copy_run(run_dir, copy_dir):
    """An action copying `run_dir` as a kill at this point leaves it (a temporary file torn)."""

    def action(temporary):
        shutil.copytree(run_dir, copy_dir)
        if temporary is not None:
            torn = copy_dir / temporary.relative_to(run_dir)
            torn.write_bytes(temporary.read_bytes()[: temporary.stat().st_size // 2])

    return action


def run_child(argv, setup=None):
    """Fork a child that calls `setup()` and runs the CLI with `argv`; its wait status."""
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            if setup is not None:
                setup()
            from keras_inpaint import cli

            status = cli.main(argv)
        finally:
            os._exit(status)
    return os.waitpid(pid, 0)[1]


def outcome(status, run_dir):
    """How a run ended, and the epochs of the metrics rows and grids it left; torn files."""
    return {
        "killed": os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL,
        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "rows": [int(row["epoch"]) for row in csv_rows(run_dir)],
        "samples": sorted(path.name for path in (run_dir / "samples").glob("*.png")),
        "partial": sorted(path.name for path in run_dir.rglob(".partial-*")),
    }


def drive(folder):
    """The runs of the test; prints what each left, as JSON."""
    import keras_inpaint.cli  # noqa: F401  (imported once, before any fork)

    command = write_recipe_and_spec(folder)
    run_dir = folder / "run"
    copies = {point: folder / point for point in COPIES}

    def first_run():
        install(*FIRST_KILL, lambda temporary: kill_now())

    def second_run():
        for point, copy_dir in copies.items():
            install(point, EPOCHS, copy_run(run_dir, copy_dir))
        install(*SECOND_KILL, lambda temporary: kill_now())

    report = {}
    for name, setup in (("first", first_run), ("second", second_run)):
        report[name] = outcome(run_child([*command, "--out", str(run_dir)], setup), run_dir)
    for name, copy_dir in copies.items():
        report[name] = outcome(0, copy_dir)  # what a kill there leaves
    # The killed run is exported by the same command (it was killed before its export).
    report["finished"] = outcome(run_child([*command, "--out", str(run_dir)]), run_dir)
    for name, copy_dir in copies.items():
        finished = run_child([*command, "--out", str(copy_dir), "--no-export"])
        report[f"{name} finished"] = outcome(finished, copy_dir)
    print(json.dumps(report))


# === The test ===


def csv_rows(run_dir):
    if not (run_dir / "metrics.csv").is_file():
        return []
    with open(run_dir / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def scalar_steps(log_dir, tag):
    """The steps of a scalar in the TensorBoard event files under `log_dir`."""
    import tensorflow as tf

    steps = set()
    for path in Path(log_dir).glob("events.out.tfevents*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            steps.update(event.step for value in event.summary.value if value.tag == tag)
    return sorted(steps)


def check_finished(run_dir, backup_weights):
    """Each epoch's row once, grid and scalars; the final state in a loadable checkpoint."""
    import keras
    import numpy as np

    rows = csv_rows(run_dir)
    assert [int(row["epoch"]) for row in rows] == list(range(1, EPOCHS + 1)), run_dir
    assert all(row["g_loss"] not in ("", "NA") for row in rows)
    grids = sorted(path.name for path in (run_dir / "samples").glob("*.png"))
    assert grids == [f"epoch_{epoch:03d}.png" for epoch in range(1, EPOCHS + 1)], run_dir
    assert not list(run_dir.rglob(".partial-*"))
    assert scalar_steps(run_dir / "logs" / "train", "epoch_g_loss") == list(range(EPOCHS))
    assert scalar_steps(run_dir / "logs" / "validation", "epoch_hole_psnr") == list(range(EPOCHS))
    model = keras.saving.load_model(run_dir / "checkpoints" / "last.keras", safe_mode=True)
    assert int(model.step_counter.numpy()) == EPOCHS * STEPS
    assert int(model.g_optimizer.iterations.numpy()) == EPOCHS * STEPS
    for variable, expected in zip(model.weights, backup_weights, strict=True):
        np.testing.assert_array_equal(variable.numpy(), expected, err_msg=variable.path)
    snapshot = sorted((run_dir / "backup").glob("step-*"))[-1]
    assert (snapshot / "epoch_end_done").is_file()
    # The last row, written after the kill, holds the logs the killed run backed up.
    state = json.loads((snapshot / "state.json").read_text())
    assert float(rows[-1]["g_loss"]) == state["epoch_logs"]["g_loss"]


@pytest.mark.large
def test_kills_at_points_of_an_epoch_end_lose_and_double_nothing(tmp_path):
    import keras

    import keras_inpaint.models  # noqa: F401  (registers the classes checkpoints hold)

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2")
    driver = [sys.executable, __file__, str(tmp_path)]
    completed = subprocess.run(driver, capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])

    # The kills came where named: what each left before the next run.
    assert report["first"]["killed"] and report["first"]["rows"] == [], report
    assert report["second"]["killed"], report
    assert report["second"]["rows"] == [1, 2]
    assert report["second"]["samples"] == ["epoch_001.png"]
    assert report["before_checkpoint"]["rows"] == [1]
    assert report["mid_metrics_write"]["rows"] == [1]
    (partial,) = report["mid_metrics_write"]["partial"]
    assert partial.startswith(".partial-") and partial.endswith("-metrics.csv"), partial

    finished = [report[name] for name in ("finished", *(f"{name} finished" for name in COPIES))]
    assert [run["exit"] for run in finished] == [0, 0, 0], completed.stderr[-3000:]
    # The weights the killed run backed up at its last epoch end.
    snapshot = sorted((tmp_path / "run" / "backup").glob("step-*"))[-1]
    model = keras.saving.load_model(tmp_path / "run" / "checkpoints" / "last.keras")
    model.load_weights(snapshot / "training.weights.h5")
    backup_weights = [variable.numpy() for variable in model.weights]
    for run_dir in (tmp_path / "run", *(tmp_path / name for name in COPIES)):
        check_finished(run_dir, backup_weights)
    assert (tmp_path / "run" / "export" / "run" / "1" / "saved_model.pb").is_file()


def test_an_epoch_row_written_again_replaces_it(tmp_path):
    from keras_inpaint.callbacks import MetricsCSV

    path = tmp_path / "metrics.csv"
    # A row torn by an older release that appended rows: no whole epoch number.
    path.write_text('epoch,g_loss\n1,0.5\n2,0.4\n"[0.\n')
    callback = MetricsCSV(path, first_epoch=2)
    callback.on_epoch_end(1, {"g_loss": 0.25, "skipped_images": 3})  # epoch 2, rebuilt
    callback.on_epoch_end(1, {"g_loss": 0.25, "skipped_images": 3})  # and once more
    callback.on_epoch_end(2, {"g_loss": 0.125})
    rows = csv_rows(tmp_path)
    assert [(row["epoch"], row["g_loss"], row["skipped_images"]) for row in rows] == [
        ("1", "0.5", "NA"),
        ("2", "0.25", "3"),
        ("3", "0.125", "NA"),
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["metrics.csv"]


if __name__ == "__main__":
    drive(Path(sys.argv[1]))
