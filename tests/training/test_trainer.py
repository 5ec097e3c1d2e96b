"""End-to-end training runs: the run directory, resuming, a killed run, the CLI."""

import csv
import json
import subprocess
import sys

import keras
import pytest
from test_case import tiny_recipe, write_photos

from keras_inpaint.training import train


def csv_rows(run_dir):
    with open(run_dir / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.large
def test_a_run_writes_everything_and_resumes(tmp_path):
    run_dir = tmp_path / "run"
    summary = train(tiny_recipe(tmp_path), out_dir=run_dir)
    for relative in (
        "recipe.json",
        "checkpoints/last.keras",
        "metrics.csv",
        "samples/epoch_001.png",
        "evaluation.json",
        "export/run/1/saved_model.pb",  # named after the run directory
    ):
        assert (run_dir / relative).is_file(), relative
    assert list((run_dir / "logs").rglob("events.out.tfevents*"))
    assert set(summary["evaluation"]) == {"model", "mean_fill"}
    assert summary["evaluation"]["mean_fill"]["hole_psnr"] > 10

    # The same command with more epochs continues from the backup.
    train(tiny_recipe(tmp_path, epochs=3), out_dir=run_dir, export=False)
    assert [row["epoch"] for row in csv_rows(run_dir)] == ["1", "2", "3"]
    assert sorted(path.name for path in (run_dir / "samples").iterdir()) == [
        "epoch_001.png",
        "epoch_002.png",
        "epoch_003.png",
    ]
    model = keras.saving.load_model(run_dir / "checkpoints" / "last.keras", safe_mode=True)
    assert int(model.step_counter.numpy()) == 6
    assert int(model.g_optimizer.iterations.numpy()) == 6

    # A finished run is not trained nor exported again, only evaluated.
    again = train(tiny_recipe(tmp_path, epochs=3), out_dir=run_dir)
    assert again["history"] == {} and again["export"] is None
    assert set(again["evaluation"]) == {"model", "mean_fill"}
    assert [path.name for path in (run_dir / "export").glob("*/*")] == ["1"]


def test_validation_on_photo_files_does_not_say_the_input_ran_out(tmp_path, recwarn):
    # A folder source's length is unknown until read (unreadable files are
    # skipped); Keras warned "Your input ran out of data; interrupting training"
    # at the end of the first validation pass of every run on photo files.
    photos = write_photos(tmp_path / "photos", count=10, size=64, heldout=6)
    files = {"files": photos / "train.txt", "heldout_files": photos / "val.txt"}
    summary = train(
        tiny_recipe(tmp_path), out_dir=tmp_path / "run", export=False, data_dir=photos, **files
    )
    assert summary["history"]["val_hole_psnr"]
    ran_out = [str(warning.message) for warning in recwarn if "ran out" in str(warning.message)]
    assert ran_out == []


def test_a_run_directory_of_another_recipe_is_refused(tmp_path):
    (tmp_path / "recipe.json").write_text(json.dumps({"recipe": {"name": "other/recipe"}}))
    with pytest.raises(ValueError, match="holds a run of recipe 'other/recipe'"):
        train(tiny_recipe(tmp_path), out_dir=tmp_path)


@pytest.mark.large
def test_cli_train_prints_the_comparison_with_mean_fill(tmp_path):
    """Results on stdout; on stderr (a pipe here) what starts, one short line per epoch and
    no progress bar; a second run of the finished run says so and neither trains nor exports."""
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "keras_inpaint.cli", "train"]
    command += ["--recipe", str(tiny_recipe(tmp_path, epochs=2)), "--out", str(run_dir)]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "hole PSNR: model" in completed.stdout and "mean fill" in completed.stdout
    assert "SavedModel:" in completed.stdout
    assert not [line for line in completed.stdout.splitlines() if "epoch" in line.lower()]
    lines = completed.stderr.splitlines()
    assert "\r" not in completed.stderr and "e+00" not in completed.stderr
    # Short lines, but for the (here long) run directory the user chose.
    assert all(len(line.replace(str(run_dir), "RUN")) <= 100 for line in lines), lines
    assert lines[:4] == [
        f"run {run_dir}: recipe tests/tiny_64",
        "  data: builtin_64_boxes (scikit-image's bundled photographs)",
        "  2 epochs x 2 steps, batch size 4, seed 0",
        "  precision float32",
    ]
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split("  ")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert all(" g_loss " in line and " val_hole_psnr " in line for line in epochs)
    assert "rec_loss" not in completed.stderr and "skipped" not in completed.stderr

    again = subprocess.run(command, capture_output=True, text=True, check=True)
    assert f"{run_dir} has finished its 2 epochs (4 steps): not training or exporting" in (
        again.stderr
    )
    assert "resuming" not in again.stderr and "epoch 1/2" not in again.stderr
    assert "hole PSNR: model" in again.stdout and "SavedModel:" not in again.stdout
    assert [path.name for path in (run_dir / "export").glob("*/*")] == ["1"]
