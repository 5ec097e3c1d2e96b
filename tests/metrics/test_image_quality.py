import keras
import numpy as np
import pytest
import tensorflow as tf
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from keras_inpaint.metrics import (
    PSNR,
    SSIM,
    MeanL1,
    MeanL2,
    image_quality_metrics,
    l1,
    l2,
    psnr,
    ssim,
)

SKIMAGE_SSIM_ARGS = dict(
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1
)


def random_pair(seed, batch=3, size=32, noise=0.3):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(-1, 1, (batch, size, size, 3)).astype("float32")
    y_pred = np.clip(y_true + rng.normal(0, noise, y_true.shape), -1, 1).astype("float32")
    return y_true, y_pred


def smooth_pair(seed, batch=3, size=32):
    rng = np.random.default_rng(seed)
    rows, cols = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    images = []
    for _ in range(2 * batch):
        fx, fy, phase = rng.uniform(0.5, 3, 3)
        channels = [np.sin(2 * np.pi * (fx * rows + fy * cols) + phase + c) for c in range(3)]
        images.append(0.8 * np.stack(channels, axis=-1))
    images = np.asarray(images, "float32")
    y_true, y_pred = images[:batch], 0.7 * images[:batch] + 0.3 * images[batch:]
    return y_true, y_pred.astype("float32")


def random_mask(seed, batch=3, size=32):
    rng = np.random.default_rng(seed)
    mask = np.zeros((batch, size, size, 1), "float32")
    for b in range(batch):
        top, left = rng.integers(0, size // 2, 2)
        mask[b, top : top + size // 2, left : left + size // 3] = 1.0
    return mask


def to_unit(image):
    return (image.astype("float64") + 1.0) / 2.0


PAIRS = {"random": random_pair, "smooth": smooth_pair}


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_psnr_matches_skimage(kind):
    y_true, y_pred = PAIRS[kind](seed=0)
    expected = [
        peak_signal_noise_ratio(to_unit(t), to_unit(p), data_range=1)
        for t, p in zip(y_true, y_pred, strict=True)
    ]
    np.testing.assert_allclose(psnr(y_true, y_pred).numpy(), expected, rtol=1e-4)


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_ssim_matches_skimage(kind):
    y_true, y_pred = PAIRS[kind](seed=1)
    expected = [
        structural_similarity(to_unit(t), to_unit(p), **SKIMAGE_SSIM_ARGS)
        for t, p in zip(y_true, y_pred, strict=True)
    ]
    np.testing.assert_allclose(ssim(y_true, y_pred).numpy(), expected, rtol=1e-4)


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_ssim_equals_tf_image_ssim(kind):
    y_true, y_pred = PAIRS[kind](seed=2)
    expected = tf.image.ssim((y_true + 1) / 2, (y_pred + 1) / 2, max_val=1.0)
    np.testing.assert_allclose(ssim(y_true, y_pred).numpy(), expected.numpy(), atol=1e-6)


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_hole_ssim_averages_the_skimage_map_over_hole_centres(kind):
    y_true, y_pred = PAIRS[kind](seed=3)
    mask = random_mask(seed=3)
    expected = []
    for t, p, m in zip(y_true, y_pred, mask, strict=True):
        _, full_map = structural_similarity(to_unit(t), to_unit(p), full=True, **SKIMAGE_SSIM_ARGS)
        # skimage pads the borders; its map matches the valid map 5 px inside.
        valid_map = full_map[5:-5, 5:-5]
        centres = m[5:-5, 5:-5, 0] > 0
        expected.append(valid_map[centres].mean())
    np.testing.assert_allclose(ssim(y_true, y_pred, mask).numpy(), expected, rtol=1e-4)


def test_hole_psnr_matches_numpy():
    y_true, y_pred = random_pair(seed=4)
    mask = random_mask(seed=4)
    squared_error = (to_unit(y_true) - to_unit(y_pred)) ** 2
    mse = np.sum(mask * squared_error, axis=(1, 2, 3)) / (3 * mask.sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(psnr(y_true, y_pred, mask).numpy(), -10 * np.log10(mse), rtol=1e-4)


def test_hole_psnr_ignores_errors_outside_the_hole():
    y_true, y_pred = random_pair(seed=5)
    mask = random_mask(seed=5)
    outside_changed = np.where(mask > 0, y_pred, 0.0)
    np.testing.assert_allclose(
        psnr(y_true, y_pred, mask).numpy(), psnr(y_true, outside_changed, mask).numpy()
    )


def test_l1_and_l2_match_numpy():
    y_true, y_pred = random_pair(seed=6)
    mask = random_mask(seed=6)
    error = to_unit(y_true) - to_unit(y_pred)
    hole_values = 3 * mask.sum(axis=(1, 2, 3))
    np.testing.assert_allclose(l1(y_true, y_pred).numpy(), np.abs(error).mean((1, 2, 3)), 1e-5)
    np.testing.assert_allclose(l2(y_true, y_pred).numpy(), (error**2).mean((1, 2, 3)), 1e-5)
    np.testing.assert_allclose(
        l1(y_true, y_pred, mask).numpy(),
        np.sum(mask * np.abs(error), (1, 2, 3)) / hole_values,
        1e-5,
    )
    np.testing.assert_allclose(
        l2(y_true, y_pred, mask).numpy(), np.sum(mask * error**2, (1, 2, 3)) / hole_values, 1e-5
    )


@pytest.mark.parametrize("measure", [psnr, ssim, l1, l2])
def test_value_range_maps_to_unit_range(measure):
    y_true, y_pred = random_pair(seed=7)
    mask = random_mask(seed=7)
    from_unit = measure((y_true + 1) / 2, (y_pred + 1) / 2, mask, value_range=(0.0, 1.0))
    np.testing.assert_allclose(measure(y_true, y_pred, mask).numpy(), from_unit.numpy(), 1e-5)


@pytest.mark.parametrize("measure", [psnr, ssim, l1, l2])
def test_empty_hole_gives_nan_for_that_image_only(measure):
    y_true, y_pred = random_pair(seed=8)
    mask = random_mask(seed=8)
    mask[1] = 0.0
    values = measure(y_true, y_pred, mask).numpy()
    assert np.isnan(values[1])
    assert np.all(np.isfinite(values[[0, 2]]))


def test_hole_ssim_is_nan_when_the_hole_is_only_at_the_border():
    y_true, y_pred = random_pair(seed=9, batch=1)
    mask = np.zeros((1, 32, 32, 1), "float32")
    mask[0, :5] = 1.0  # no window is centred in the top 5 rows
    assert np.isnan(ssim(y_true, y_pred, mask).numpy()[0])


def test_ssim_rejects_images_smaller_than_its_window():
    y_true, y_pred = random_pair(seed=10, size=10)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(y_true, y_pred)


def test_identical_images():
    y_true, _ = random_pair(seed=11)
    np.testing.assert_allclose(ssim(y_true, y_true).numpy(), 1.0, rtol=1e-6)
    assert np.all(np.isposinf(psnr(y_true, y_true).numpy()))
    assert np.all(l1(y_true, y_true).numpy() == 0.0)


METRIC_CLASSES = {
    "psnr": (PSNR, psnr),
    "ssim": (SSIM, ssim),
    "l1": (MeanL1, l1),
    "l2": (MeanL2, l2),
}


@pytest.mark.parametrize("name", sorted(METRIC_CLASSES))
@pytest.mark.parametrize("region", ["image", "hole"])
def test_metric_averages_per_image_values_over_batches(name, region):
    metric_class, measure = METRIC_CLASSES[name]
    metric = metric_class(region=region)
    per_image = []
    for seed, batch in enumerate([3, 1, 4]):
        y_true, y_pred = random_pair(seed=20 + seed, batch=batch)
        mask = random_mask(seed=20 + seed, batch=batch)
        region_mask = mask if region == "hole" else None
        metric.update_state(y_true, y_pred, mask=mask)
        per_image.extend(measure(y_true, y_pred, region_mask).numpy())
    np.testing.assert_allclose(float(metric.result()), np.mean(per_image), rtol=1e-5)


@pytest.mark.parametrize("name", sorted(METRIC_CLASSES))
def test_hole_metric_skips_images_without_hole(name):
    metric_class, measure = METRIC_CLASSES[name]
    y_true, y_pred = random_pair(seed=30, batch=4)
    mask = random_mask(seed=30, batch=4)
    mask[[1, 3]] = 0.0
    metric = metric_class(region="hole")
    metric.update_state(y_true, y_pred, mask=mask)
    expected = measure(y_true[[0, 2]], y_pred[[0, 2]], mask[[0, 2]]).numpy().mean()
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-5)


def test_metric_reset_state():
    metric = MeanL1()
    y_true, y_pred = random_pair(seed=31)
    metric.update_state(y_true, y_pred)
    assert float(metric.result()) > 0.0
    metric.reset_state()
    assert float(metric.result()) == 0.0
    metric.update_state(y_true, y_true)
    assert float(metric.result()) == 0.0


def test_metric_sample_weight_weighs_images():
    y_true, y_pred = random_pair(seed=32, batch=2)
    weights = np.array([3.0, 1.0], "float32")
    metric = MeanL2()
    metric.update_state(y_true, y_pred, sample_weight=weights)
    values = l2(y_true, y_pred).numpy()
    np.testing.assert_allclose(float(metric.result()), np.average(values, weights=weights), 1e-5)


def test_hole_metric_needs_a_mask():
    y_true, y_pred = random_pair(seed=33)
    with pytest.raises(ValueError, match="mask"):
        PSNR(region="hole").update_state(y_true, y_pred)


def test_metric_rejects_an_unknown_region():
    with pytest.raises(ValueError, match="region"):
        SSIM(region="border")


def test_metric_updates_inside_tf_function():
    y_true, y_pred = random_pair(seed=34)
    mask = random_mask(seed=34)
    metric = SSIM(region="hole")
    tf.function(lambda t, p, m: metric.update_state(t, p, mask=m))(y_true, y_pred, mask)
    np.testing.assert_allclose(
        float(metric.result()), ssim(y_true, y_pred, mask).numpy().mean(), rtol=1e-5
    )


def test_default_names_and_config_round_trip():
    metrics = image_quality_metrics()
    assert [m.name for m in metrics] == [
        "psnr",
        "ssim",
        "l1",
        "l2",
        "hole_psnr",
        "hole_ssim",
        "hole_l1",
        "hole_l2",
    ]
    for metric in metrics:
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(metric)
        )
        assert type(restored) is type(metric)
        assert restored.get_config() == metric.get_config()


def test_config_holds_region_and_value_range():
    metric = PSNR(region="hole", value_range=(0, 255), name="hole_psnr_uint8")
    config = metric.get_config()
    assert config["region"] == "hole"
    assert tuple(config["value_range"]) == (0.0, 255.0)
    assert config["name"] == "hole_psnr_uint8"
