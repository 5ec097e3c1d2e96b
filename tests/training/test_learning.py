"""Training learns: a tiny recipe on generated structured photographs lowers its hole L1."""

import json

import keras
import pytest
from test_case import write_photos

from keras_inpaint.data import build_dataset, with_folder
from keras_inpaint.data.pipeline import load_data_spec
from keras_inpaint.training import train
from keras_inpaint.training.recipes import build_inpainter
from keras_inpaint.training.trainer import evaluate_heldout


@pytest.mark.large
def test_a_tiny_recipe_learns_to_fill_structured_images(tmp_path):
    photos = write_photos(tmp_path / "photos", count=56, size=48, heldout=16)
    recipe = {
        "name": "tests/learning_32",
        "image_size": 32,
        "inpainter": {"class": "GLCICInpainter", "config": {"tc": 1000000, "td": 0}},
        "generator": {
            "class": "GLCICGenerator",
            "config": {
                "image_size": None,
                "base_filters": 8,
                "dilation_rates": [1, 2, 4, 4],
                # Fast-moving BatchNorm statistics: held-out scores use them after 60 steps.
                "batch_norm_momentum": 0.5,
            },
        },
        "optimizers": {"generator": {"class": "Adam", "config": {"learning_rate": 0.003}}},
        "data": "photos_128",
        "training": {"batch_size": 8, "epochs": 3, "steps_per_epoch": 20, "validation_batches": 2},
    }
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe))
    folder = {
        "data_dir": photos,
        "files": photos / "train.txt",
        "heldout_files": photos / "val.txt",
    }

    # The untrained network: the same seed gives train()'s starting weights.
    keras.utils.set_random_seed(0)
    untrained = build_inpainter(recipe)
    spec = with_folder(
        load_data_spec("photos_128"), photos, photos / "train.txt", photos / "val.txt"
    )
    heldout = build_dataset(spec, 32, 8, "heldout").take(2).cache()
    before = evaluate_heldout(untrained, heldout)["model"]["hole_l1"]

    summary = train(path, out_dir=tmp_path / "run", export=False, verbose=0, **folder)
    after = summary["evaluation"]["model"]["hole_l1"]
    # Measured: 0.293 -> 0.221. A network that did not learn stays at (or above) its start.
    assert after < 0.85 * before, (before, after)
