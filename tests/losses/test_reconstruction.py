import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.losses import hole_l1, masked_l2, total_variation, valid_l1


def random_batch(seed, batch=3, size=16, channels=3):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(-1, 1, (batch, size, size, channels)).astype("float32")
    y_pred = rng.uniform(-1, 1, (batch, size, size, channels)).astype("float32")
    mask = (rng.uniform(size=(batch, size, size, 1)) < 0.2).astype("float32")
    return y_true, y_pred, mask


def dilate_reference(mask, radius):
    """Square max filter on (B, H, W, 1) masks, in numpy."""
    height, width = mask.shape[1:3]
    padded = np.pad(mask, ((0, 0), (radius, radius), (radius, radius), (0, 0)))
    shifts = [
        padded[:, dy : dy + height, dx : dx + width]
        for dy in range(2 * radius + 1)
        for dx in range(2 * radius + 1)
    ]
    return np.max(shifts, axis=0)


def masked_l2_reference(y_true, y_pred, mask, overlap_width, overlap_weight):
    band = dilate_reference(mask, overlap_width) * (1 - mask)
    weights = mask + overlap_weight * band
    per_image = []
    for b in range(len(y_true)):
        error = np.sum(weights[b] * (y_true[b].astype("float64") - y_pred[b]) ** 2)
        pixels = max(np.count_nonzero(weights[b]), 1)
        per_image.append(error / (y_true.shape[-1] * pixels))
    return np.mean(per_image)


def test_masked_l2_counts_the_band_of_a_single_hole_pixel():
    y_true = np.zeros((1, 7, 7, 1), "float32")
    y_pred = np.full((1, 7, 7, 1), 2.0, "float32")
    y_pred[0, 3, 3] = 1.0
    mask = np.zeros((1, 7, 7, 1), "float32")
    mask[0, 3, 3] = 1.0
    # Hole: 1 pixel with error 1. Band: its 8 neighbours, error 4, weight 10.
    expected = (1.0 + 10.0 * 8 * 4.0) / 9
    loss = masked_l2(y_true, y_pred, mask, overlap_width=1, overlap_weight=10.0)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-6)


def test_masked_l2_band_stops_at_the_image_border():
    y_true = np.zeros((1, 5, 5, 2), "float32")
    y_pred = np.ones((1, 5, 5, 2), "float32")
    mask = np.zeros((1, 5, 5, 1), "float32")
    mask[0, 0, 0] = 1.0
    # Hole (0, 0) and a 2-px band inside the image: 8 band pixels, 9 weighted pixels.
    expected = (1.0 + 2.0 * 8) * 2 / (2 * 9)
    loss = masked_l2(y_true, y_pred, mask, overlap_width=2, overlap_weight=2.0)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-6)


@pytest.mark.parametrize("overlap_width", [0, 1, 4])
def test_masked_l2_matches_numpy_reference(overlap_width):
    y_true, y_pred, mask = random_batch(seed=overlap_width)
    loss = masked_l2(y_true, y_pred, mask, overlap_width=overlap_width, overlap_weight=10.0)
    expected = masked_l2_reference(y_true, y_pred, mask, overlap_width, 10.0)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


def test_masked_l2_without_overlap_is_hole_mse():
    y_true, y_pred, mask = random_batch(seed=7)
    hole_pixels = mask.sum(axis=(1, 2, 3)) * 3
    hole_mse = np.sum(mask * (y_true - y_pred) ** 2, axis=(1, 2, 3)) / hole_pixels
    loss = masked_l2(y_true, y_pred, mask, overlap_width=0)
    np.testing.assert_allclose(float(loss), hole_mse.mean(), rtol=1e-5)


def test_masked_l2_on_a_center_region_weights_the_known_ring():
    # Context Encoders' center variant: the 64x64 predicted region, whose inner
    # 56x56 is the hole and whose 4-px ring is the known overlap.
    region_true = np.zeros((2, 64, 64, 3), "float32")
    region_pred = np.ones((2, 64, 64, 3), "float32")
    region_mask = np.zeros((2, 64, 64, 1), "float32")
    region_mask[:, 4:60, 4:60] = 1.0
    ring = 64 * 64 - 56 * 56
    expected = (56 * 56 + 10.0 * ring) / (64 * 64)
    loss = masked_l2(region_true, region_pred, region_mask, overlap_width=4)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-6)


def test_masked_l2_is_zero_for_an_image_without_hole():
    y_true, y_pred, _ = random_batch(seed=3)
    loss = masked_l2(y_true, y_pred, np.zeros((3, 16, 16, 1), "float32"))
    assert float(loss) == 0.0


def test_hole_l1_normalizations():
    y_true = np.zeros((2, 4, 4, 3), "float32")
    y_pred = np.full((2, 4, 4, 3), 0.5, "float32")
    mask = np.zeros((2, 4, 4, 1), "float32")
    mask[0, :2] = 1.0  # 8 of 16 pixels
    mask[1, 0, 0] = 1.0  # 1 of 16 pixels
    image = hole_l1(y_true, y_pred, mask, normalize="image")
    region = hole_l1(y_true, y_pred, mask, normalize="region")
    np.testing.assert_allclose(float(image), np.mean([0.5 * 8 / 16, 0.5 * 1 / 16]), rtol=1e-6)
    np.testing.assert_allclose(float(region), 0.5, rtol=1e-6)


def test_valid_l1_uses_the_known_pixels():
    y_true, y_pred, mask = random_batch(seed=11)
    error = np.abs(y_true - y_pred)
    known = 1 - mask
    by_image = np.sum(known * error, axis=(1, 2, 3)) / (16 * 16 * 3)
    by_region = np.sum(known * error, axis=(1, 2, 3)) / (3 * known.sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(float(valid_l1(y_true, y_pred, mask)), by_image.mean(), rtol=1e-5)
    np.testing.assert_allclose(
        float(valid_l1(y_true, y_pred, mask, normalize="region")), by_region.mean(), rtol=1e-5
    )


def test_hole_and_valid_l1_add_up_to_the_full_l1():
    y_true, y_pred, mask = random_batch(seed=12)
    total = hole_l1(y_true, y_pred, mask) + valid_l1(y_true, y_pred, mask)
    np.testing.assert_allclose(float(total), np.abs(y_true - y_pred).mean(), rtol=1e-5)


def test_region_l1_is_zero_not_nan_for_an_empty_region():
    y_true, y_pred, _ = random_batch(seed=13)
    no_hole = np.zeros((3, 16, 16, 1), "float32")
    assert float(hole_l1(y_true, y_pred, no_hole, normalize="region")) == 0.0
    assert float(valid_l1(y_true, y_pred, 1.0 - no_hole, normalize="region")) == 0.0


def test_l1_rejects_an_unknown_normalization():
    y_true, y_pred, mask = random_batch(seed=14)
    with pytest.raises(ValueError, match="normalize"):
        hole_l1(y_true, y_pred, mask, normalize="pixels")


def test_total_variation_without_mask_is_mean_neighbour_difference():
    y_pred, _, _ = random_batch(seed=15)
    expected = np.abs(np.diff(y_pred, axis=1)).mean() + np.abs(np.diff(y_pred, axis=2)).mean()
    np.testing.assert_allclose(float(total_variation(y_pred)), expected, rtol=1e-5)


def test_total_variation_counts_pairs_inside_the_dilated_hole():
    y_pred, _, mask = random_batch(seed=16)
    region = dilate_reference(mask, 1)
    vertical = np.abs(np.diff(y_pred, axis=1)) * region[:, 1:] * region[:, :-1]
    horizontal = np.abs(np.diff(y_pred, axis=2)) * region[:, :, 1:] * region[:, :, :-1]
    expected = vertical.mean() + horizontal.mean()
    np.testing.assert_allclose(float(total_variation(y_pred, mask)), expected, rtol=1e-5)


def test_total_variation_ignores_pairs_far_from_the_hole():
    y_pred = np.zeros((1, 8, 8, 1), "float32")
    y_pred[0, 0, 0] = 5.0  # an edge far from the hole
    mask = np.zeros((1, 8, 8, 1), "float32")
    mask[0, 5, 5] = 1.0
    assert float(total_variation(y_pred, mask)) == 0.0
    assert float(total_variation(y_pred)) > 0.0


LOSSES = {
    "masked_l2": lambda t, p, m: masked_l2(t, p, m),
    "hole_l1_image": lambda t, p, m: hole_l1(t, p, m),
    "hole_l1_region": lambda t, p, m: hole_l1(t, p, m, normalize="region"),
    "valid_l1_region": lambda t, p, m: valid_l1(t, p, m, normalize="region"),
    "total_variation": lambda t, p, m: total_variation(p, m),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradients_are_finite_even_without_hole(name):
    y_true, y_pred, mask = random_batch(seed=17)
    mask[0] = 0.0  # one image without a hole
    mask[1] = 1.0  # one image without known pixels
    y_pred = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        loss = LOSSES[name](y_true, y_pred, mask)
    gradient = tape.gradient(loss, y_pred)
    assert np.isfinite(float(loss))
    assert np.all(np.isfinite(gradient.numpy()))
    assert np.any(gradient.numpy() != 0.0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_run_inside_tf_function(name):
    y_true, y_pred, mask = random_batch(seed=18)
    loss_fn = LOSSES[name]
    graph_loss = tf.function(loss_fn)(y_true, y_pred, mask)
    np.testing.assert_allclose(float(graph_loss), float(loss_fn(y_true, y_pred, mask)), rtol=1e-6)


def test_hole_log_l2_is_the_mean_of_per_image_log_hole_mse():
    from keras_inpaint.losses import hole_log_l2

    rng = np.random.default_rng(0)
    y_true = rng.uniform(-1, 1, (3, 16, 16, 3)).astype("float32")
    y_pred = rng.uniform(-1, 1, (3, 16, 16, 3)).astype("float32")
    mask = np.zeros((3, 16, 16, 1), "float32")
    mask[0, 2:6, 2:6] = 1.0
    mask[1, :, :8] = 1.0  # image 2 has no hole: its MSE is 0, the floor keeps it finite
    per_image = [
        np.square(y_true[i] - y_pred[i])[mask[i, ..., 0] > 0].mean() if mask[i].any() else 0.0
        for i in range(3)
    ]
    expected = np.mean(np.log10(np.array(per_image) + 1e-4))
    assert float(hole_log_l2(y_true, y_pred, mask)) == pytest.approx(expected, rel=1e-5)
    # Not the log of the batch MSE: one badly filled image does not dominate.
    assert float(hole_log_l2(y_true, y_pred, mask)) != pytest.approx(
        np.log10(np.mean(per_image) + 1e-4), rel=1e-2
    )
