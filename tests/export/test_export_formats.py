"""The ONNX export: parity with the Keras model for every family, sizes, files, errors."""

import errno
import sys

import numpy as np
import pytest
import tensorflow as tf
from export_families import FAMILIES, assert_matches, family_params, keras_composite, request
from test_case import tiny_context_encoder, tiny_fully_convolutional

from keras_inpaint.export import saved_model, serving_function
from keras_inpaint.export.onnx_export import (
    ONNX_FILE,
    check_onnx_model,
    convert_to_onnx,
    export_onnx,
    require_onnx_tools,
)

onnxruntime = pytest.importorskip("onnxruntime", reason="the ONNX export needs the [onnx] extra")
pytest.importorskip("tf2onnx", reason="the ONNX export needs the [onnx] extra")


def run_onnx(path, image, mask):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["inpainted"], {"image": image, "mask": mask})[0]


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
