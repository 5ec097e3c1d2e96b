"""`keras-inpaint export --precision mixed_bfloat16`: a bfloat16 generator, uint8 in and out."""

import numpy as np
import pytest
import tensorflow as tf
from export_families import request
from test_case import TINY_WRAPPERS, tiny_fully_convolutional

from keras_inpaint.cli import main
from keras_inpaint.export import SIGNATURE
from keras_inpaint.export.precision import with_precision


@pytest.mark.parametrize("wrapper", sorted(TINY_WRAPPERS))
def test_every_zoo_generator_is_rebuilt_in_bfloat16_with_its_weights(wrapper):
    builder, size = TINY_WRAPPERS[wrapper]
    model = builder()
    rebuilt = with_precision(model, "mixed_bfloat16")
    assert rebuilt.generator.dtype_policy.name == "mixed_bfloat16"
    assert rebuilt.generator is not model.generator
    for ours, theirs in zip(rebuilt.generator.weights, model.generator.weights, strict=True):
        assert ours.dtype == theirs.dtype == "float32"  # variables stay float32
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.path)
    image, mask = request(2, size, size)
    hole = tf.cast(mask > 0, "float32")
    masked = (tf.cast(image, "float32") / 127.5 - 1.0) * (1.0 - hole)
    float32 = model.generator([masked, hole], training=False)
    bfloat16 = rebuilt.generator([masked, hole], training=False)
    assert bfloat16.dtype == "bfloat16"
    # bfloat16 keeps 8 bits of mantissa: outputs in [-1, 1] agree to about 1/128 on average
    # (a partial convolution's renormalisation can stretch a rare pixel's difference further).
    difference = np.abs(tf.cast(bfloat16, "float32").numpy() - float32.numpy())
    assert difference.mean() < 0.02 and difference.max() < 0.3, difference.max()
    assert with_precision(rebuilt, "mixed_bfloat16") is rebuilt
    assert with_precision(model, "float32") is model


def test_a_functional_generator_that_fixes_its_dtypes_is_refused():
    with pytest.raises(ValueError, match="keeps its layers' dtypes.*--precision float32"):
        with_precision(tiny_fully_convolutional(), "mixed_bfloat16")


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match=r"one of \['float32', 'mixed_bfloat16'\]"):
        with_precision(tiny_fully_convolutional(), "mixed_float16")


@pytest.mark.large
def test_the_cli_exports_a_bfloat16_saved_model_that_answers_uint8(tmp_path, capsys):
    builder, size = TINY_WRAPPERS["glcic"]
    model = builder()
    model.save(tmp_path / "tiny.keras")
    source = str(tmp_path / "tiny.keras")
    assert main(["export", source, "--base", str(tmp_path / "exports")]) == 0
    flags = ["--base", str(tmp_path / "exports"), "--precision", "mixed_bfloat16"]
    assert main(["export", source, *flags]) == 0
    image, mask = request(2, size, size)
    answers = []
    for version in ("1", "2"):
        loaded = tf.saved_model.load(str(tmp_path / "exports" / "tiny" / version))
        serve = loaded.signatures[SIGNATURE]
        answers.append(serve(image=tf.constant(image), mask=tf.constant(mask))["inpainted"])
    float32, bfloat16 = (answer.numpy() for answer in answers)
    assert bfloat16.dtype == np.uint8 and bfloat16.shape == image.shape
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(bfloat16[known], image[known])
    assert np.abs(bfloat16.astype(int) - float32.astype(int)).max() <= 8
    assert not np.array_equal(bfloat16, float32), "the export computed in float32"

    assert main(["export", source, *flags, "--format", "onnx"]) == 2
    assert "applies to --format saved_model only" in capsys.readouterr().err
