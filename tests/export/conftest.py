"""One export per size rule, shared by the export tests of this folder."""

import pytest
import tensorflow as tf
from test_case import tiny_context_encoder, tiny_fully_convolutional

from keras_inpaint.export import export_saved_model

MAX_SIDE = 300


@pytest.fixture(scope="session")
def tiny_exports(tmp_path_factory):
    """`{rule: (keras model, export dir, loaded SavedModel)}`, exported with max_side=300."""
    base = tmp_path_factory.mktemp("tiny_exports")
    models = {
        "tiled": tiny_context_encoder("full"),
        "fixed": tiny_context_encoder("center"),
        "dynamic": tiny_fully_convolutional(),
    }
    exports = {}
    for rule, model in models.items():
        export_dir = export_saved_model(model, base, max_side=MAX_SIDE)
        exports[rule] = (model, export_dir, tf.saved_model.load(str(export_dir)))
    return exports
