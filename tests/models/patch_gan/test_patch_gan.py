import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.models.patch_gan import PatchGANDiscriminator


def conv(k, cin, cout):
    return k * k * cin * cout + cout


def patch_gan_counts(filters=64, num_layers=3, in_ch=3):
    widths = [filters * min(2**i, 8) for i in range(num_layers + 1)]
    convs = [conv(4, cin, cout) for cin, cout in zip([in_ch] + widths[:-1], widths, strict=True)]
    convs.append(conv(4, widths[-1], 1))
    norms = widths[1:]  # no norm on the first conv
    trainable = sum(convs) + sum(2 * c for c in norms)
    return trainable, trainable + sum(2 * c for c in norms)


def test_output_shape_128():
    model = PatchGANDiscriminator()
    assert model.output_shape == (None, 14, 14, 1)
    out = keras.ops.convert_to_numpy(model(np.zeros((2, 128, 128, 3), "float32")))
    assert out.shape == (2, 14, 14, 1) and ((out > 0) & (out < 1)).all()


def test_param_counts():
    model = PatchGANDiscriminator()
    trainable, total = patch_gan_counts()
    assert model.count_params() == total == 2_768_321
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == trainable == 2_766_529
    # The count does not depend on the input size.
    assert PatchGANDiscriminator(image_size=256).count_params() == total
    assert PatchGANDiscriminator(image_size=None).count_params() == total


@pytest.mark.parametrize("size, cells", [(64, 6), (128, 14), (100, 11), (17, 1)])
def test_any_size(size, cells):
    model = PatchGANDiscriminator(image_size=None, filters=4)
    assert model(np.zeros((1, size, size, 3), "float32")).shape == (1, cells, cells, 1)
    assert PatchGANDiscriminator(image_size=size, filters=4).output_shape == (
        None,
        cells,
        cells,
        1,
    )


def test_too_small_image_size():
    with pytest.raises(ValueError, match="image_size >= 17"):
        PatchGANDiscriminator(image_size=16)


def _positive_network(num_layers, size):
    """All-positive kernels, zero biases, BN at its initial (identity) statistics.

    Every path from an input pixel to an output cell then has a positive weight,
    so no gradient cancels and the nonzero gradients mark the receptive field.
    """
    model = PatchGANDiscriminator(image_size=size, filters=4, num_layers=num_layers)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            fan_in = np.prod(kernel.shape[:3])
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, kernel.shape).astype("float32") / fan_in,
                    np.zeros_like(bias),
                ]
            )
    return model


def _field(model, image, row, col):
    image = tf.convert_to_tensor(image)
    with tf.GradientTape() as tape:
        tape.watch(image)
        out = model(image, training=False)[0, row, col, 0]
    grad = np.abs(tape.gradient(out, image).numpy()[0]).sum(axis=-1)
    rows, cols = np.nonzero(grad > 0)
    return (rows.min(), rows.max()), (cols.min(), cols.max()), len(rows)


def test_receptive_field_is_70x70_measured_from_gradients():
    size = 256
    model = _positive_network(3, size)
    assert model.receptive_field == 70
    image = np.random.default_rng(1).uniform(0.5, 1.0, (1, size, size, 3)).astype("float32")
    cells = model.output_shape[1]
    assert cells == 30
    centre = cells // 2
    rows, cols, n = _field(model, image, centre, centre)
    # Output cell i sees input rows 8i - 23 .. 8i + 46: a full 70x70 window.
    assert rows == (8 * centre - 23, 8 * centre + 46)
    assert cols == rows
    assert n == 70 * 70
    # Corner cells: the window is clipped by the image border (zero padding).
    rows, cols, n = _field(model, image, 0, 0)
    assert rows == (0, 46) and cols == (0, 46) and n == 47 * 47
    rows, cols, n = _field(model, image, cells - 1, cells - 1)
    assert rows == (8 * (cells - 1) - 23, size - 1) and n == 47 * 47


def test_receptive_field_property_matches_measurement_for_two_layers():
    model = _positive_network(2, 128)
    image = np.random.default_rng(2).uniform(0.5, 1.0, (1, 128, 128, 3)).astype("float32")
    centre = model.output_shape[1] // 2
    rows, cols, n = _field(model, image, centre, centre)
    assert model.receptive_field == 34
    assert rows[1] - rows[0] + 1 == 34 and n == 34 * 34


def test_config_and_keras_file(tmp_path):
    model = PatchGANDiscriminator(image_size=None, filters=4, output_activation=None)
    clone = PatchGANDiscriminator.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.count_params() == model.count_params()
    image = np.random.default_rng(3).uniform(-1, 1, (2, 40, 40, 3)).astype("float32")
    path = str(tmp_path / "patch_gan.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is PatchGANDiscriminator
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(image, training=False)),
        keras.ops.convert_to_numpy(model(image, training=False)),
    )
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)
