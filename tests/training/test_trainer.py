"""End-to-end training runs: the run directory, resuming, a killed run, the CLI."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import pytest

from keras_inpaint.training import load_recipe, train


def tiny_recipe(tmp_path, epochs=1, steps=2):
    """The default recipe shrunk to a few thousand weights, saved as a file."""
    recipe = load_recipe("context_encoder/builtin_64")
    recipe["name"] = "tests/tiny_64"
    recipe["generator"]["config"].update(
        encoder_filters=[4, 4, 4, 4], bottleneck=8, decoder_filters=[4, 4, 4, 4]
    )
    recipe["discriminator"]["config"].update(filters=4)
    recipe["training"] = {
        "batch_size": 4,
        "epochs": epochs,
        "steps_per_epoch": steps,
        "validation_batches": 1,
    }
    path = tmp_path / "tiny_64.json"
    path.write_text(json.dumps(recipe))
    return path


def csv_rows(run_dir):
    with open(run_dir / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_a_run_writes_everything_and_resumes(tmp_path):
    run_dir = tmp_path / "run"
    summary = train(tiny_recipe(tmp_path), out_dir=run_dir)
    for relative in (
        "recipe.json",
        "checkpoints/last.keras",
        "metrics.csv",
        "samples/epoch_001.png",
        "evaluation.json",
        "export/tiny_64/1/saved_model.pb",
    ):
        assert (run_dir / relative).is_file(), relative
    assert list((run_dir / "logs").rglob("events.out.tfevents*"))
    assert set(summary["evaluation"]) == {"model", "mean_fill"}
    assert summary["evaluation"]["mean_fill"]["hole_psnr"] > 10

    # The same command with more epochs continues from the backup.
    train(tiny_recipe(tmp_path, epochs=3), out_dir=run_dir, export=False)
    assert [row["epoch"] for row in csv_rows(run_dir)] == ["0", "1", "2"]
    model = keras.saving.load_model(run_dir / "checkpoints" / "last.keras", safe_mode=True)
    assert int(model.step_counter.numpy()) == 6
    assert int(model.g_optimizer.iterations.numpy()) == 6

    # A finished run is not trained again; it is evaluated and exported again.
    again = train(tiny_recipe(tmp_path, epochs=3), out_dir=run_dir)
    assert again["history"] == {}
    assert again["export"].endswith("tiny_64/2")


def test_a_run_directory_of_another_recipe_is_refused(tmp_path):
    (tmp_path / "recipe.json").write_text(json.dumps({"recipe": {"name": "other/recipe"}}))
    with pytest.raises(ValueError, match="holds a run of recipe 'other/recipe'"):
        train(tiny_recipe(tmp_path), out_dir=tmp_path)


@pytest.mark.slow
def test_a_killed_run_resumes_where_it_stopped(tmp_path):
    """SIGKILL after the first epoch, then the same command finishes the remaining epochs."""
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "keras_inpaint.cli",
        "train",
        "--recipe",
        str(tiny_recipe(tmp_path, epochs=3, steps=40)),
        "--out",
        str(run_dir),
        "--no-export",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if (run_dir / "metrics.csv").is_file() and csv_rows(run_dir):
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished_epochs = len(csv_rows(run_dir))
    assert 1 <= finished_epochs < 3

    subprocess.run(command, check=True, capture_output=True)
    epochs = [int(row["epoch"]) for row in csv_rows(run_dir)]
    assert epochs == list(range(3)), "the restarted run repeated or skipped epochs"
    model = keras.saving.load_model(run_dir / "checkpoints" / "last.keras", safe_mode=True)
    assert int(model.step_counter.numpy()) == 3 * 40


@pytest.mark.slow
def test_cli_train_prints_the_comparison_with_mean_fill(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_inpaint.cli",
            "train",
            "--recipe",
            str(tiny_recipe(tmp_path)),
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "hole PSNR: model" in completed.stdout and "mean fill" in completed.stdout
    assert "SavedModel:" in completed.stdout
