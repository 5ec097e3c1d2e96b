import keras
import numpy as np
import pytest

from keras_inpaint.layers import HoleFill


def _batch(seed=0, size=16):
    rng = np.random.default_rng(seed)
    image = rng.uniform(-1, 1, (3, size, size, 3)).astype("float32")
    mask = np.zeros((3, size, size, 1), "float32")
    mask[0, 4:12, 4:12] = 1.0
    mask[1, :, : size // 2] = 1.0
    mask[2] = 1.0  # all hole: no known pixel
    return image, mask


def test_constant_fill_keeps_known_pixels_and_fills_hole():
    image, mask = _batch()
    out = keras.ops.convert_to_numpy(HoleFill(value=0.25)([image, mask]))
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(out[known], image[known])
    np.testing.assert_array_equal(out[~known], np.full_like(out[~known], 0.25))


def test_per_channel_constant():
    image, mask = _batch()
    value = [2 * 117 / 255 - 1, 2 * 104 / 255 - 1, 2 * 123 / 255 - 1]
    out = keras.ops.convert_to_numpy(HoleFill(value=value)([image, mask]))
    hole = mask[..., 0] == 1
    np.testing.assert_allclose(out[hole], np.broadcast_to(value, out[hole].shape), rtol=1e-6)
    np.testing.assert_array_equal(out[~hole], image[~hole])


def test_known_mean_fill_matches_numpy_and_all_hole_gives_zero():
    image, mask = _batch()
    out = keras.ops.convert_to_numpy(HoleFill(mode="known_mean")([image, mask]))
    assert np.isfinite(out).all()
    for b in range(2):
        hole = mask[b, ..., 0] == 1
        expected = image[b][~hole].mean(axis=0)  # per channel, known pixels only
        np.testing.assert_allclose(
            out[b][hole], np.broadcast_to(expected, out[b][hole].shape), atol=1e-5
        )
        np.testing.assert_array_equal(out[b][~hole], image[b][~hole])
    # Image 2 has no known pixel: the mean is undefined, the fill is 0 (no NaN).
    np.testing.assert_array_equal(out[2], np.zeros_like(out[2]))


def test_known_mean_is_per_image():
    image = np.stack([np.full((8, 8, 3), 0.5), np.full((8, 8, 3), -0.5)]).astype("float32")
    mask = np.zeros((2, 8, 8, 1), "float32")
    mask[:, 2:6, 2:6] = 1.0
    out = keras.ops.convert_to_numpy(HoleFill(mode="known_mean")([image, mask]))
    np.testing.assert_allclose(out[0], 0.5, atol=1e-6)
    np.testing.assert_allclose(out[1], -0.5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs", [{"mode": "mean"}, {"value": 1.5}, {"value": [0.0, 2.0, 0.0]}, {"value": []}]
)
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        HoleFill(**kwargs)


def test_value_list_must_match_channels():
    image, mask = _batch()
    with pytest.raises(ValueError, match="channels"):
        HoleFill(value=[0.0, 0.0])([image, mask])


def test_config_round_trip_and_keras_file(tmp_path):
    layer = HoleFill(mode="constant", value=[0.1, -0.2, 0.3], name="fill")
    clone = HoleFill.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

    image_in = keras.Input((16, 16, 3), name="masked_image")
    mask_in = keras.Input((16, 16, 1), name="mask")
    model = keras.Model([image_in, mask_in], layer([image_in, mask_in]))
    path = str(tmp_path / "hole_fill.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    image, mask = _batch()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded([image, mask])),
        keras.ops.convert_to_numpy(model([image, mask])),
    )
