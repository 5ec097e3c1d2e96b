"""The full-window Conv2D / Conv2DTranspose give Keras' outputs, through the matmul path or not."""

import keras
import numpy as np
import pytest

from keras_inpaint.layers import full_window_conv


def _twin(layer_class, ours_class, inputs, **config):
    ours = ours_class(**config)
    reference = layer_class(**config)
    expected_shape = reference(inputs).shape
    ours(inputs)
    reference.set_weights(ours.get_weights())
    return ours, reference, expected_shape


@pytest.mark.parametrize(
    "shape, config",
    [
        ((3, 4, 4, 5), {"filters": 6, "kernel_size": 4, "padding": "valid"}),  # matmul path
        ((3, 4, 4, 5), {"filters": 6, "kernel_size": 4, "strides": 2, "padding": "valid"}),
        ((3, 8, 8, 5), {"filters": 6, "kernel_size": 4, "padding": "valid"}),  # convolution
        ((3, 4, 4, 5), {"filters": 6, "kernel_size": 4, "padding": "same"}),
    ],
)
def test_conv2d_matches_keras(shape, config):
    inputs = np.random.default_rng(0).normal(size=shape).astype("float32")
    ours, reference, expected_shape = _twin(
        keras.layers.Conv2D, full_window_conv.Conv2D, inputs, activation="relu", **config
    )
    outputs = keras.ops.convert_to_numpy(ours(inputs))
    assert outputs.shape == tuple(expected_shape)
    np.testing.assert_allclose(outputs, reference(inputs), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "shape, config",
    [
        ((3, 1, 1, 7), {"filters": 5, "kernel_size": 4, "padding": "valid"}),  # matmul path
        ((3, 1, 1, 7), {"filters": 5, "kernel_size": (2, 3), "padding": "valid"}),
        ((3, 2, 2, 7), {"filters": 5, "kernel_size": 4, "strides": 2, "padding": "same"}),
    ],
)
def test_conv2d_transpose_matches_keras(shape, config):
    inputs = np.random.default_rng(1).normal(size=shape).astype("float32")
    ours, reference, expected_shape = _twin(
        keras.layers.Conv2DTranspose, full_window_conv.Conv2DTranspose, inputs, **config
    )
    outputs = keras.ops.convert_to_numpy(ours(inputs))
    assert outputs.shape == tuple(expected_shape)
    np.testing.assert_allclose(outputs, reference(inputs), rtol=1e-5, atol=1e-5)


def test_weights_keep_keras_paths_in_keras_files(tmp_path):
    # A model saved with Keras' own layers loads into the full-window ones.
    inputs = keras.Input((4, 4, 3))
    saved = keras.Model(inputs, keras.layers.Conv2D(8, 4, padding="valid", name="code")(inputs))
    saved.save(tmp_path / "plain.keras")
    inputs = keras.Input((4, 4, 3))
    ours = keras.Model(inputs, full_window_conv.Conv2D(8, 4, padding="valid", name="code")(inputs))
    ours.load_weights(tmp_path / "plain.keras")
    batch = np.random.default_rng(2).normal(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(ours(batch), saved(batch), rtol=1e-5, atol=1e-5)
