"""`keras-inpaint train --distribute mirrored`: MirroredStrategy end to end through the CLI.

The test machine has no GPU, so a fresh Python splits its CPU into two
logical devices before TensorFlow starts and runs the command line's `main`:
`--distribute mirrored` then trains on two replicas, the same way it would on
two GPUs.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_inpaint.training.recipes import load_recipe
from keras_inpaint.training.trainer import distribution_strategy

TWO_CPUS_CLI = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_inpaint.cli import main
sys.exit(main(sys.argv[1:]))
"""


def tiny_recipe(path):
    recipe = load_recipe("context_encoder/builtin_64")
    recipe["name"] = "tests/distribute_32"
    recipe["image_size"] = 32
    recipe["generator"]["config"].update(
        image_size=32, encoder_filters=[4, 4, 4], bottleneck=8, decoder_filters=[4, 4, 4]
    )
    recipe["discriminator"]["config"].update(image_size=32, filters=4)
    recipe["training"] = {"batch_size": 4, "epochs": 1, "steps_per_epoch": 2}
    recipe["training"]["validation_batches"] = 1
    path.write_text(json.dumps(recipe))
    return path


def cli_on_two_cpus(*arguments):
    command = [sys.executable, "-c", textwrap.dedent(TWO_CPUS_CLI), "train", *arguments]
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=root)


@pytest.mark.large
def test_train_distributes_over_two_replicas_through_the_cli(tmp_path):
    recipe = tiny_recipe(tmp_path / "recipe.json")
    run = tmp_path / "run"
    completed = cli_on_two_cpus(
        "--recipe", str(recipe), "--out", str(run), "--no-export", "--distribute", "mirrored"
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "2 replicas (/job:localhost/replica:0/task:0/device:CPU:0" in completed.stderr
    assert "hole PSNR: model" in completed.stdout
    model = keras.saving.load_model(run / "checkpoints" / "last.keras", safe_mode=True)
    assert int(model.step_counter.numpy()) == 2
    assert all(np.all(np.isfinite(weight)) for weight in model.get_weights())
    with open(run / "metrics.csv") as handle:
        assert len(handle.read().strip().splitlines()) == 2


@pytest.mark.large
def test_a_batch_that_does_not_split_among_replicas_is_an_input_error(tmp_path):
    recipe = tiny_recipe(tmp_path / "recipe.json")
    completed = cli_on_two_cpus(
        "--recipe", str(recipe), "--out", str(tmp_path / "run"), "--batch-size", "3",
        "--distribute", "mirrored", "--no-export",
    )  # fmt: skip
    assert completed.returncode == 2
    assert "multiple of 2" in completed.stderr


def test_an_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match="'mirrored'"):
        distribution_strategy("multi_worker")
    assert distribution_strategy(None).num_replicas_in_sync == 1
