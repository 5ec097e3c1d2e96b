"""A diverging run stops at the first NaN/Inf loss, says so, and keeps the last good state."""

import csv
import json
import math

import keras
import numpy as np
import pytest

from keras_inpaint import cli
from keras_inpaint.callbacks import DivergenceGuard, non_finite_losses
from keras_inpaint.training import load_recipe, train
from keras_inpaint.training.trainer import TrainingDivergedError


def tiny_recipe(learning_rate=0.002, epochs=1):
    recipe = load_recipe("context_encoder/builtin_64")
    recipe["name"] = "tests/nan_guard_32"
    recipe["image_size"] = 32
    recipe["generator"]["config"].update(
        image_size=32, encoder_filters=[4, 4, 4], bottleneck=8, decoder_filters=[4, 4, 4]
    )
    recipe["discriminator"]["config"].update(image_size=32, filters=4)
    recipe["optimizers"]["generator"]["config"]["learning_rate"] = learning_rate
    recipe["training"] = {
        "batch_size": 4,
        "epochs": epochs,
        "steps_per_epoch": 4,
        "validation_batches": 1,
    }
    return recipe


def all_finite(model):
    return all(np.all(np.isfinite(np.array(weight))) for weight in model.weights)


def test_non_finite_losses_only_look_at_losses():
    logs = {"g_loss": math.inf, "d_loss": 0.5, "hole_psnr": math.inf, "val_g_loss": math.nan}
    assert set(non_finite_losses(logs)) == {"g_loss", "val_g_loss"}
    assert non_finite_losses({"g_loss": 1.0}) == {}


def test_guard_stops_and_describes_the_failing_step():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    guard = DivergenceGuard()
    guard.set_model(model)
    guard.on_epoch_begin(2)
    guard.on_train_batch_end(0, {"g_loss": 1.0})
    assert guard.failure is None and not model.stop_training
    guard.on_train_batch_end(6, {"g_loss": math.nan, "d_loss": 1.0})
    assert model.stop_training
    assert guard.describe() == "g_loss=nan at step 0 (epoch 3, batch 7)"


@pytest.mark.large
def test_a_diverging_run_keeps_the_last_good_checkpoint_and_backup(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(tiny_recipe(), out_dir=run_dir, export=False, verbose=0)
    checkpoint = run_dir / "checkpoints" / "last.keras"
    good_bytes = checkpoint.read_bytes()

    # Same run, one more epoch with an absurd learning rate: it diverges in epoch 2.
    with pytest.raises(TrainingDivergedError) as error:
        train(tiny_recipe(1e30, epochs=2), out_dir=run_dir, export=False, verbose=0)
    message = str(error.value)
    assert "training diverged" in message and "loss=" in message and "(epoch 2, batch" in message
    assert str(checkpoint) in message and "lower the learning rate" in message
    assert checkpoint.read_bytes() == good_bytes, "a non-finite epoch overwrote the checkpoint"
    kept = keras.saving.load_model(checkpoint, safe_mode=True)
    assert all_finite(kept) and int(kept.step_counter.numpy()) == 4

    snapshots = sorted((run_dir / "backup").glob("step-*"))
    assert snapshots and not list((run_dir / "backup").glob(".partial-*"))
    for snapshot in snapshots:
        state = json.loads((snapshot / "state.json").read_text())
        model = tiny_model_from(snapshot)
        assert all_finite(model), f"{snapshot} holds non-finite weights"
        assert int(model.step_counter.numpy()) == state["step"]
    # Each step of the absurd epoch diverged: the newest backup is the first epoch's end.
    assert snapshots[-1].name == "step-000000000004"
    assert f"holds step {int(snapshots[-1].name.split('-')[1])}" in message

    # The command line prints the same message and fails.
    recipe_path = tmp_path / "diverging.json"
    recipe_path.write_text(json.dumps(tiny_recipe(1e30, epochs=2)))
    code = cli.main(["train", "--recipe", str(recipe_path), "--out", str(run_dir), "--no-export"])
    assert code != 0
    assert "training diverged" in capsys.readouterr().err

    # With a sane learning rate the same run resumes and finishes; metrics.csv has
    # one row per epoch (the NaN row of the diverged attempt is replaced).
    train(tiny_recipe(epochs=2), out_dir=run_dir, export=False, verbose=0)
    with open(run_dir / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(math.isfinite(float(row["g_loss"])) for row in rows)
    final = keras.saving.load_model(checkpoint, safe_mode=True)
    assert all_finite(final) and int(final.step_counter.numpy()) == 8


def tiny_model_from(snapshot):
    from keras_inpaint.training.recipes import build_inpainter

    model = build_inpainter(tiny_recipe())
    model.load_weights(snapshot / "training.weights.h5")
    return model
