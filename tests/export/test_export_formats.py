"""The ONNX export: parity with the Keras model for every family, sizes, files, errors."""

import errno
import sys

import numpy as np
import pytest
import tensorflow as tf
from test_case import tiny_context_encoder, tiny_fully_convolutional

from keras_inpaint import images
from keras_inpaint.export import saved_model, serving_function
from keras_inpaint.export.onnx_export import (
    ONNX_FILE,
    check_onnx_model,
    convert_to_onnx,
    export_onnx,
    require_onnx_tools,
)
from keras_inpaint.models.glcic import GLCICGenerator, GLCICInpainter
from keras_inpaint.models.pconv_unet import PConvInpainter, PConvUNet
from keras_inpaint.models.pepsi import PEPSIGenerator, PEPSIInpainter

onnxruntime = pytest.importorskip("onnxruntime", reason="the ONNX export needs the [onnx] extra")
pytest.importorskip("tf2onnx", reason="the ONNX export needs the [onnx] extra")


def tiny_glcic(image_size=32):
    generator = GLCICGenerator(
        image_size=image_size, base_filters=8, dilation_rates=[1, 2, 4, 8], skip_connections=True
    )
    return GLCICInpainter(generator, name=f"glcic_{image_size or 'any'}")


def tiny_pepsi():
    # PEPSI's generator holds its contextual attention module.
    generator = PEPSIGenerator(image_size=32, filters=4, dilation_rates=[1, 2, 2, 4])
    return PEPSIInpainter(generator, name="pepsi")


def tiny_pconv():
    generator = PConvUNet(
        preset="cifar_net2",
        encoder_filters=[4, 4, 8, 8, 8, 8, 8, 8],
        decoder_filters=[8, 8, 8, 8, 8, 4, 4],
        output_activation="linear",
    )
    return PConvInpainter(generator, objective="l2", vgg_weights=None, name="pconv")


# family -> (builder, whether height and width are dynamic in the ONNX model)
FAMILIES = {
    "fully_convolutional": (tiny_fully_convolutional, True),
    "context_encoder_center": (lambda: tiny_context_encoder("center"), False),
    "context_encoder_full": (lambda: tiny_context_encoder("full"), False),
    "glcic_fixed": (tiny_glcic, False),
    "glcic_any_size": (lambda: tiny_glcic(None), True),
    "pepsi": (tiny_pepsi, False),
    "pconv_unet": (tiny_pconv, False),
}
# Their conversions take about 5 s or more on a CPU.
LARGE = {"glcic_any_size", "pconv_unet"}


def request(batch_size, height, width, seed=0):
    """uint8 noise images and box masks (0/255 and 0/1: nonzero = hole), one per image."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (batch_size, height, width, 3), dtype=np.uint8)
    mask = np.zeros((batch_size, height, width, 1), np.uint8)
    for index in range(batch_size):
        top, left = 2 + 3 * index, 1 + 2 * index
        mask[index, top : top + height // 2, left : left + width // 3] = 255 if index % 2 else 1
    return image, mask


def keras_composite(model, image, mask):
    """The Keras model's uint8 composite: the hole from the model, known pixels from `image`."""
    hole = (mask > 0).astype("float32")
    masked_image = images.uint8_to_model(image) * (1.0 - hole)
    filled = images.model_to_uint8(model((masked_image, hole), training=False)).numpy()
    return np.where(hole > 0, filled, image)


def run_onnx(path, image, mask):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["inpainted"], {"image": image, "mask": mask})[0]


def assert_matches(actual, expected, image, mask):
    assert actual.dtype == np.uint8 and actual.shape == image.shape
    assert np.abs(actual.astype(int) - expected.astype(int)).max() <= 1
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(actual[known], image[known])


def family_params():
    return [
        pytest.param(family, marks=[pytest.mark.large] if family in LARGE else [])
        for family in FAMILIES
    ]


@pytest.mark.parametrize("family", family_params())
def test_onnx_matches_the_keras_model(family, tmp_path):
    build, dynamic_size = FAMILIES[family]
    model = build()
    path = export_onnx(model, tmp_path, name="model")
    assert path == tmp_path / "model" / "1" / ONNX_FILE
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    image_shape = session.get_inputs()[0].shape
    assert isinstance(image_shape[0], str)  # dynamic batch
    assert all(isinstance(side, str) for side in image_shape[1:3]) == dynamic_size
    if not dynamic_size:
        assert image_shape[1:] == [32, 32, 3]
    image, mask = request(3, 32, 32)
    assert_matches(run_onnx(path, image, mask), keras_composite(model, image, mask), image, mask)


def test_dynamic_size_pads_and_crops_like_the_saved_model_function(tmp_path):
    model = tiny_fully_convolutional()
    path = export_onnx(model, tmp_path, name="fcn")
    serve = serving_function(model)
    # Neither side a multiple of 4: the size rule's ceiling division runs in ONNX.
    for height, width in [(30, 22), (5, 7), (41, 64)]:
        image, mask = request(2, height, width, seed=height)
        expected = serve(tf.constant(image), tf.constant(mask))["inpainted"].numpy()
        assert_matches(run_onnx(path, image, mask), expected, image, mask)


def test_fixed_size_model_refuses_other_sizes_and_channels(tmp_path):
    path = export_onnx(tiny_context_encoder("center"), tmp_path, name="center")
    image, mask = request(1, 40, 40)
    with pytest.raises(onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument):
        run_onnx(path, image, mask)
    image, mask = request(1, 32, 32)
    with pytest.raises(onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument):
        run_onnx(path, image, np.repeat(mask, 3, axis=-1))


def test_versions_are_never_overwritten_and_nothing_is_left_behind(tmp_path):
    model = tiny_fully_convolutional()
    first = export_onnx(model, tmp_path, name="fcn")
    second = export_onnx(model, tmp_path, name="fcn")
    assert (first.parent.name, second.parent.name) == ("1", "2")
    with pytest.raises(FileExistsError, match="never overwritten"):
        export_onnx(model, tmp_path, name="fcn", version=1)
    assert sorted(child.name for child in (tmp_path / "fcn").iterdir()) == ["1", "2"]
    assert sorted(child.name for child in first.parent.rglob("*") if child.is_file()) == [ONNX_FILE]


def test_a_conversion_that_does_not_reproduce_the_model_is_refused():
    proto = convert_to_onnx(tiny_fully_convolutional(name="first"))
    other = tiny_fully_convolutional(name="second")  # other random weights
    with pytest.raises(ValueError, match="does not reproduce"):
        check_onnx_model(proto, other)


def test_missing_tools_name_the_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(ImportError, match=r"pip install \"keras-inpaint\[onnx\]\""):
        require_onnx_tools()


def test_a_failed_write_names_the_cause_and_leaves_nothing(tmp_path, monkeypatch):
    def disk_full(staging, target):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(saved_model, "_publish", disk_full)  # shared by every format
    with pytest.raises(OSError, match="disk is full"):
        export_onnx(tiny_fully_convolutional(), tmp_path / "base", name="fcn")
    assert not (tmp_path / "base").exists()
