import keras
import numpy as np
import pytest

from keras_inpaint.losses import perceptual
from keras_inpaint.losses.perceptual import (
    VGG16_NOTOP_FILE,
    VGG16_NOTOP_URL,
    VGG16Features,
    gram_matrix,
    perceptual_loss,
    resolve_vgg16_weights,
    style_loss,
    vgg16_preprocess,
)


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def vgg():
    return VGG16Features(weights=None)


def test_preprocess_is_caffe_bgr_minus_mean():
    pixel = np.array([[[[1.0, -1.0, 0.0]]]], "float32")  # RGB 255, 0, 127.5
    expected = [127.5 - 103.939, 0.0 - 116.779, 255.0 - 123.68]  # BGR minus the mean
    np.testing.assert_allclose(to_numpy(vgg16_preprocess(pixel))[0, 0, 0], expected, atol=1e-4)


def test_features_are_pool1_to_pool3(vgg):
    images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 48, 3)).astype("float32")
    features = vgg(images)
    assert [tuple(f.shape) for f in features] == [(2, 16, 24, 64), (2, 8, 12, 128), (2, 4, 6, 256)]
    assert vgg.model.trainable_weights == []
    # The model sees preprocessed input: the features equal VGG16's own pool layers'.
    direct = keras.Model(vgg.model.input, vgg.model.get_layer("block1_pool").output)
    np.testing.assert_allclose(
        to_numpy(features[0]), to_numpy(direct(vgg16_preprocess(images))), rtol=1e-5
    )


def test_gram_matrix_matches_numpy():
    features = np.random.default_rng(1).normal(size=(2, 5, 7, 4)).astype("float32")
    flat = features.reshape(2, 35, 4).astype(np.float64)
    expected = np.einsum("bnc,bnd->bcd", flat, flat) / (5 * 7 * 4)
    np.testing.assert_allclose(to_numpy(gram_matrix(features)), expected, rtol=1e-5)


def test_losses_against_numpy():
    rng = np.random.default_rng(2)
    true = [rng.normal(size=s).astype("float32") for s in ((2, 8, 8, 3), (2, 4, 4, 5))]
    pred = [rng.normal(size=s).astype("float32") for s in ((2, 8, 8, 3), (2, 4, 4, 5))]
    expected_perceptual = sum(np.abs(p - t).mean() for t, p in zip(true, pred, strict=True))
    np.testing.assert_allclose(float(perceptual_loss(true, pred)), expected_perceptual, rtol=1e-5)

    def gram(f):
        b, h, w, c = f.shape
        flat = f.reshape(b, h * w, c).astype(np.float64)
        return np.einsum("bnc,bnd->bcd", flat, flat) / (h * w * c)

    # Liu et al.: sum_p 1 / (C_p C_p) * || K_p (G_out - G_gt) ||_1, batch mean.
    expected_style = sum(
        np.abs(gram(p) - gram(t)).sum(axis=(1, 2)).mean() / t.shape[-1] ** 2
        for t, p in zip(true, pred, strict=True)
    )
    np.testing.assert_allclose(float(style_loss(true, pred)), expected_style, rtol=1e-5)
    assert float(perceptual_loss(true, true)) == 0.0 and float(style_loss(true, true)) == 0.0


def test_missing_imagenet_weights_fail_fast_with_the_fix(tmp_path, monkeypatch):
    # Only an empty cache folder is searched; no download is attempted.
    monkeypatch.setattr(perceptual, "keras_cache_candidates", lambda: [tmp_path / "models"])
    with pytest.raises(FileNotFoundError) as error:
        VGG16Features(weights="imagenet")
    message = str(error.value)
    assert VGG16_NOTOP_URL in message and str(tmp_path / "models") in message
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_vgg16_weights(str(tmp_path / "nowhere.h5"))


def test_imagenet_reads_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert perceptual.keras_cache_candidates()[0] == tmp_path / "models"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / VGG16_NOTOP_FILE).write_bytes(b"")
    assert resolve_vgg16_weights("imagenet") == str(tmp_path / "models" / VGG16_NOTOP_FILE)
    assert resolve_vgg16_weights(None) is None


def test_weights_file_is_loaded(vgg, tmp_path):
    path = tmp_path / "vgg16_notop.weights.h5"
    source = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    source.save_weights(path)
    loaded = VGG16Features(weights=str(path))
    images = np.random.default_rng(3).uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    pool3 = keras.Model(source.input, source.get_layer("block3_pool").output)
    expected = to_numpy(pool3(vgg16_preprocess(images)))
    np.testing.assert_allclose(to_numpy(loaded(images)[2]), expected, rtol=1e-5, atol=1e-4)
    # Another random VGG16 differs, so the comparison above could fail.
    assert not np.allclose(to_numpy(vgg(images)[2]), expected, atol=1e-4)
