"""Every shipped preset loads with safe_mode, reproduces its recorded output, has its card."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint import presets
from keras_inpaint.inference import Predictor
from keras_inpaint.presets.preset import SHIPPED_DIR
from keras_inpaint.presets.publish import CHECK_OUTPUT_FILE, check_pair, presets_table

SHIPPED = presets.list()
WEIGHTS_BUDGET_BYTES = 150 * 1024 * 1024


@pytest.mark.large
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_reproduces_its_recorded_output(name):
    folder = presets.preset_dir(name)
    image, mask = check_pair()
    output = Predictor(name)(image[None], mask[None])[0]
    recorded = tf.io.decode_png(tf.io.read_file(str(folder / CHECK_OUTPUT_FILE))).numpy()
    # CPUs with and without AVX-512 differ in the last bits: 2 uint8 levels at most.
    assert np.abs(output.astype(int) - recorded.astype(int)).max() <= 2
    known = mask[..., 0] == 0
    assert np.array_equal(output[known], image[known])


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_has_its_card_and_validation(name):
    folder = presets.preset_dir(name)
    metadata = presets.metadata(name)
    assert metadata["name"] == name
    assert metadata["training_data"]["licences"]
    summary = metadata["validation"]["summary"]
    for method in (name, "mean", "push_pull", "telea", "ns", "biharmonic"):
        assert summary[method]["count"] == 126
    card = (folder / "README.md").read_text()
    assert metadata["validation"]["command"] in card
    for picture in ("samples.png", "curve.png"):
        assert (folder / picture).is_file() and f"({picture})" in card
    config = json.loads((folder / "config.json").read_text())
    assert config["registered_name"].startswith("keras_inpaint>")


def test_one_default_preset_and_weights_within_budget():
    if not SHIPPED:
        pytest.skip("no preset ships yet")
    assert presets.default_name() in SHIPPED
    total = sum(path.stat().st_size for path in SHIPPED_DIR.glob("*/model.weights.h5"))
    assert total <= WEIGHTS_BUDGET_BYTES


def test_readme_lists_the_shipped_presets_with_their_recorded_scores():
    if not SHIPPED:
        pytest.skip("no preset ships yet")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert presets_table(SHIPPED) in readme, "regenerate README's table with presets_table()"
