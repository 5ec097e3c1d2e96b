"""The LiteRT export: parity with the Keras model for every family, batch resizing, sizes,
files, errors and the `keras-inpaint export --format litert` command."""

import errno

import numpy as np
import pytest
import tensorflow as tf
from export_families import FAMILIES, LARGE, assert_matches, keras_composite, request
from test_case import tiny_context_encoder, tiny_fully_convolutional

from keras_inpaint.cli import main
from keras_inpaint.export import saved_model, serving_function
from keras_inpaint.export.litert_export import (
    LITERT_FILE,
    check_litert_model,
    convert_function,
    convert_to_litert,
    export_litert,
    load_interpreter,
    run_litert,
)

# PEPSI's contextual attention takes about 5 s to convert on a CPU.
LITERT_LARGE = LARGE | {"pepsi"}


@pytest.fixture(scope="module")
def litert_export(tmp_path_factory):
    """`export(family) -> (keras model, model.tflite path)`, each family exported once."""
    base = tmp_path_factory.mktemp("litert")
    exports = {}

    def export(family):
        if family not in exports:
            model = FAMILIES[family][0]()
            exports[family] = (model, export_litert(model, base, name=family))
        return exports[family]

    return export


def family_params():
    return [
        pytest.param(family, marks=[pytest.mark.large] if family in LITERT_LARGE else [])
        for family in FAMILIES
    ]


def input_shapes(path):
    interpreter = load_interpreter(path)
    return {
        detail["name"]: list(detail["shape_signature"])
        for detail in interpreter.get_input_details()
    }


@pytest.mark.parametrize("family", family_params())
def test_litert_matches_the_keras_model(family, litert_export, tmp_path):
    model, path = litert_export(family)
    assert path == path.parents[2] / family / "1" / LITERT_FILE
    side = -1 if FAMILIES[family][1] else 32
    assert input_shapes(path) == {"image": [-1, side, side, 3], "mask": [-1, side, side, 1]}
    image, mask = request(3, 32, 32)
    assert_matches(run_litert(path, image, mask), keras_composite(model, image, mask), image, mask)


@pytest.mark.parametrize("family", ["context_encoder_center", "fully_convolutional"])
def test_batch_2_after_a_resize_gives_each_image_its_own_fill(family, litert_export):
    model, path = litert_export(family)
    image, mask = request(2, 32, 32)  # different holes: a mix-up of the two shows
    interpreter = load_interpreter(path)
    inputs = {detail["name"]: detail["index"] for detail in interpreter.get_input_details()}
    output = interpreter.get_output_details()[0]["index"]

    def invoke(image, mask):
        for name, array in (("image", image), ("mask", mask)):
            interpreter.resize_tensor_input(inputs[name], array.shape, strict=True)
        interpreter.allocate_tensors()
        interpreter.set_tensor(inputs["image"], image)
        interpreter.set_tensor(inputs["mask"], mask)
        interpreter.invoke()
        return interpreter.get_tensor(output)

    invoke(image[1:], mask[1:])  # batch 1 first, then a resize to batch 2
    batch = invoke(image, mask)
    assert batch.shape == (2, 32, 32, 3)
    for index in range(2):
        one = slice(index, index + 1)
        expected = keras_composite(model, image[one], mask[one])
        assert_matches(batch[one], expected, image[one], mask[one])


def test_any_size_model_pads_and_crops_like_the_saved_model_function(litert_export):
    model, path = litert_export("fully_convolutional")
    serve = serving_function(model)
    interpreter = load_interpreter(path)  # one interpreter, resized for every request
    for height, width in [(30, 22), (5, 7), (41, 64)]:
        image, mask = request(2, height, width, seed=height)
        expected = serve(tf.constant(image), tf.constant(mask))["inpainted"].numpy()
        assert_matches(run_litert(interpreter, image, mask), expected, image, mask)


def test_wrong_sizes_channels_and_dtypes_are_refused_with_the_fix(litert_export):
    _, path = litert_export("context_encoder_center")
    image, mask = request(1, 40, 40)
    with pytest.raises(ValueError, match=r"'image' must be uint8 of shape \[-1, 32, 32, 3\].*crop"):
        run_litert(path, image, mask)
    image, mask = request(1, 32, 32)
    with pytest.raises(ValueError, match=r"'mask' must be uint8 of shape \[-1, 32, 32, 1\]"):
        run_litert(path, image, np.repeat(mask, 3, axis=-1))
    with pytest.raises(ValueError, match=r"got float32: convert it with \.astype\(np\.uint8\)"):
        run_litert(path, image.astype(np.float32), mask)
    with pytest.raises(ValueError, match="same batch size, height and width"):
        run_litert(path, np.concatenate([image, image]), mask)
    # The interpreter itself refuses to resize the fixed height and width.
    interpreter = load_interpreter(path)
    with pytest.raises(RuntimeError, match="only allows mutating unknown dimensions"):
        interpreter.resize_tensor_input(0, [1, 40, 40, 3], strict=True)


def test_versions_are_never_overwritten_and_nothing_is_left_behind(tmp_path):
    model = tiny_fully_convolutional()
    first = export_litert(model, tmp_path, name="fcn")
    second = export_litert(model, tmp_path, name="fcn")
    assert (first.parent.name, second.parent.name) == ("1", "2")
    with pytest.raises(FileExistsError, match="never overwritten"):
        export_litert(model, tmp_path, name="fcn", version=1)
    assert sorted(child.name for child in (tmp_path / "fcn").iterdir()) == ["1", "2"]
    assert [child.name for child in first.parent.iterdir()] == [LITERT_FILE]


def test_a_failed_write_names_the_cause_and_leaves_nothing(tmp_path, monkeypatch):
    def disk_full(staging, target):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(saved_model, "_publish", disk_full)
    with pytest.raises(OSError, match="disk is full"):
        export_litert(tiny_fully_convolutional(), tmp_path / "base", name="fcn")
    assert not (tmp_path / "base").exists()


def test_a_conversion_that_does_not_reproduce_the_model_is_refused(tmp_path, monkeypatch):
    first = tiny_fully_convolutional(name="first")
    other = tiny_fully_convolutional(name="second")  # other random weights
    content = convert_to_litert(first)
    with pytest.raises(ValueError, match="does not reproduce.*--format saved_model"):
        check_litert_model(content, other)
    # The export runs that check before it writes anything.
    monkeypatch.setattr(
        "keras_inpaint.export.litert_export.convert_to_litert", lambda model: content
    )
    with pytest.raises(ValueError, match="LiteRT conversion of second does not reproduce"):
        export_litert(other, tmp_path / "base", name="second")
    assert not (tmp_path / "base").exists()


def test_a_model_that_fails_in_the_interpreter_is_refused(tmp_path):
    # Sizes must be multiples of 4, but the generator says any size: the interpreter
    # cannot reshape its transposed convolutions for the odd example request.
    model = tiny_fully_convolutional(size_multiple=1)
    with pytest.raises(ValueError, match=r"fails on an example request.*--format saved_model"):
        export_litert(model, tmp_path / "base", name="fcn")
    assert not (tmp_path / "base").exists()


def test_a_model_that_needs_tensorflow_operators_is_refused_naming_them():
    # uint8 NotEqual and SelectV2 are no LiteRT builtins.
    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.uint8, name="pixels")])
    def keep_nonzero(pixels):
        return tf.where(tf.not_equal(pixels, 0), pixels, tf.ones_like(pixels))

    with pytest.raises(ValueError, match=r"operators NotEqual, SelectV2 .*--format saved_model"):
        convert_function(keep_nonzero.get_concrete_function())


def test_the_export_command_writes_a_model_tflite(tmp_path, capsys):
    model = tiny_context_encoder("center", name="center")
    model.save(tmp_path / "center.keras")
    command = ["export", str(tmp_path / "center.keras"), "--base", str(tmp_path / "litert")]
    assert main([*command, "--format", "litert"]) == 0
    path = tmp_path / "litert" / "center" / "1" / LITERT_FILE
    assert capsys.readouterr().out.strip() == str(path)
    image, mask = request(2, 32, 32)
    assert_matches(run_litert(path, image, mask), keras_composite(model, image, mask), image, mask)
    assert main([*command, "--format", "litert", "--max-side", "64"]) == 2
    assert "--max-side applies to --format saved_model only" in capsys.readouterr().err
