"""Seeded runs are reproducible: one seed gives the same metrics and weights, another differs."""

import csv
import subprocess
import sys

import keras
import numpy as np
import pytest
from test_trainer import tiny_recipe

from keras_inpaint.cli import build_parser
from keras_inpaint.training import train


def _outcome(run_dir):
    """`(metrics.csv rows without the wall time, final weights)` of a finished run."""
    with open(run_dir / "metrics.csv") as handle:
        rows = [
            {key: value for key, value in row.items() if key != "epoch_seconds"}
            for row in csv.DictReader(handle)
        ]
    model = keras.saving.load_model(run_dir / "checkpoints" / "last.keras", safe_mode=True)
    return rows, model.get_weights()


def _same_weights(first, second):
    return all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def _cli_train(recipe, run_dir, seed):
    """`keras-inpaint train --deterministic` in a fresh process, as a user runs it."""
    command = [sys.executable, "-m", "keras_inpaint.cli", "train", "--recipe", str(recipe)]
    command += ["--out", str(run_dir), "--seed", str(seed), "--no-export", "--deterministic"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]


@pytest.mark.large
def test_the_same_seed_gives_the_same_run_and_another_seed_another(tmp_path):
    recipe = tiny_recipe(tmp_path, epochs=2, steps=2)
    _cli_train(recipe, tmp_path / "first", seed=3)
    _cli_train(recipe, tmp_path / "again", seed=3)
    train(recipe, out_dir=tmp_path / "other", seed=4, export=False, verbose=0)

    first_rows, first_weights = _outcome(tmp_path / "first")
    again_rows, again_weights = _outcome(tmp_path / "again")
    other_rows, other_weights = _outcome(tmp_path / "other")
    # Every figure as written, to the last digit.
    assert [row["epoch"] for row in first_rows] == ["1", "2"]
    assert again_rows == first_rows
    assert _same_weights(again_weights, first_weights)
    evaluations = [(tmp_path / run / "evaluation.json").read_text() for run in ("first", "again")]
    assert evaluations[0] == evaluations[1]
    assert other_rows[0]["g_loss"] != first_rows[0]["g_loss"]
    assert not _same_weights(other_weights, first_weights)


def test_determinism_is_asked_for_with_a_flag():
    parser = build_parser()
    assert parser.parse_args(["train"]).deterministic is False
    assert parser.parse_args(["train", "--deterministic"]).deterministic is True


@pytest.mark.large
def test_enable_determinism_in_a_fresh_process_gives_one_inter_op_thread():
    code = (
        "import tensorflow as tf\n"
        "from tensorflow.python.framework import config\n"
        "from keras_inpaint.training.trainer import enable_determinism\n"
        "enable_determinism()\n"
        "tf.constant(0)\n"
        "print(tf.config.threading.get_inter_op_parallelism_threads(),"
        " config.is_op_determinism_enabled())\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert completed.stdout.split() == ["1", "True"]
