"""A training run killed with SIGKILL mid-epoch resumes at its last backup step (GLCIC)."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import pytest

from keras_inpaint.training import load_recipe
from keras_inpaint.training.recipes import build_inpainter

TC, TD, STEPS, EPOCHS = 4, 10, 20, 2


def tiny_glcic_recipe(tmp_path):
    """GLCIC at 32x32 with phases of 4 and 10 steps: phase 2 covers steps 4-13 of epoch 1."""
    recipe = load_recipe("glcic/builtin_64")
    recipe["name"] = "tests/glcic_crash_32"
    recipe["image_size"] = 32
    recipe["inpainter"]["config"].update(tc=TC, td=TD)
    recipe["generator"]["config"].update(image_size=32, base_filters=4)
    recipe["discriminator"]["config"].update(
        image_size=32, local_size=16, global_filters=[4, 4], local_filters=[4], fc_units=8
    )
    recipe["training"] = {
        "batch_size": 4,
        "epochs": EPOCHS,
        "steps_per_epoch": STEPS,
        "validation_batches": 1,
        # A tenth of an epoch, by steps only (the default also waits a minute).
        "backup_every_steps": max(1, STEPS // 10),
    }
    path = tmp_path / "glcic_crash_32.json"
    path.write_text(json.dumps(recipe))
    return recipe, path


def generator_steps(step):
    """Steps that applied the generator's optimizer: phases 1 and 3."""
    return min(step, TC) + max(0, step - TC - TD)


def discriminator_steps(step):
    """Steps that applied the discriminator's optimizer: phases 2 and 3."""
    return max(0, min(step, TC + TD) - TC) + max(0, step - TC - TD)


def newest_backup_state(backup_dir):
    if not backup_dir.is_dir():
        return None
    snapshots = sorted(backup_dir.glob("step-*"))
    if not snapshots:
        return None
    try:
        return json.loads((snapshots[-1] / "state.json").read_text())
    except (OSError, ValueError):
        return None  # being replaced right now


@pytest.mark.large
def test_sigkill_mid_epoch_resumes_at_the_backup_step_in_phase_two(tmp_path):
    recipe, recipe_path = tiny_glcic_recipe(tmp_path)
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "keras_inpaint.cli", "train", "--recipe", str(recipe_path)]
    command += ["--out", str(run_dir), "--no-export"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    state = None
    while time.time() < deadline and process.poll() is None:
        state = newest_backup_state(run_dir / "backup")
        if state and state["step"] >= TC + 2:  # a mid-epoch backup inside phase 2
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    # The newest backup is the one the rerun must resume from.
    model = build_inpainter(recipe)
    snapshot = sorted((run_dir / "backup").glob("step-*"))[-1]
    state = json.loads((snapshot / "state.json").read_text())
    model.load_weights(snapshot / "training.weights.h5")
    step = state["step"]
    assert state["epoch"] == 0 and 0 < state["epoch_step"] < STEPS, state
    assert int(model.step_counter.numpy()) == step
    assert int(model.phase()) == 2
    assert int(model.g_optimizer.iterations.numpy()) == generator_steps(step)
    assert int(model.d_optimizer.iterations.numpy()) == discriminator_steps(step)
    assert not (run_dir / "metrics.csv").is_file() or len(csv_rows(run_dir)) == 0

    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"from step {step} (epoch 1, after {step} of its {STEPS} steps)" in rerun.stderr

    rows = csv_rows(run_dir)
    assert [int(row["epoch"]) for row in rows] == list(range(1, EPOCHS + 1))
    rec_losses = [float(row["rec_loss"]) for row in rows]
    assert all(0 < loss < 1 for loss in rec_losses), rec_losses
    assert rec_losses[1] < 1.5 * rec_losses[0], rec_losses
    final = keras.saving.load_model(run_dir / "checkpoints" / "last.keras", safe_mode=True)
    total = EPOCHS * STEPS
    assert int(final.step_counter.numpy()) == total
    assert int(final.phase()) == 3
    assert int(final.g_optimizer.iterations.numpy()) == generator_steps(total)
    assert int(final.d_optimizer.iterations.numpy()) == discriminator_steps(total)


def csv_rows(run_dir):
    with open(run_dir / "metrics.csv") as handle:
        return list(csv.DictReader(handle))
