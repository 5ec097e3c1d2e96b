"""`serving_default` refuses a wrong rank or channel count itself, with a message naming the
input and the shape it takes, as TF Serving calls it: without the Python-side check of the
input signature's shapes (TF Serving does not hold requests to them)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.op_errors import op_error_message

IMAGE_SHAPE = "input 'image' must have shape [-1, -1, -1, 3]"
MASK_SHAPE = "input 'mask' must have shape [-1, -1, -1, 1]"

CASES = [
    ("4-channel image", (1, 32, 32, 4), (1, 32, 32, 1), IMAGE_SHAPE + ": 3 channel(s)"),
    ("1-channel image", (1, 32, 32, 1), (1, 32, 32, 1), IMAGE_SHAPE + ": 3 channel(s)"),
    ("image without batch axis", (32, 32, 3), (1, 32, 32, 1), IMAGE_SHAPE + " (batch axis"),
    ("image of rank 5", (1, 1, 32, 32, 3), (1, 32, 32, 1), IMAGE_SHAPE + " (batch axis"),
    ("3-channel mask", (1, 32, 32, 3), (1, 32, 32, 3), MASK_SHAPE + ": 1 channel(s)"),
    ("mask without channel axis", (1, 32, 32, 3), (1, 32, 32), MASK_SHAPE + " (batch axis"),
]


def call_unchecked(signature, image, mask):
    """Run a loaded signature on `image` and `mask` as TF Serving does.

    Calling the signature normally checks the inputs against its TensorSpecs in
    Python first; `_call_flat` feeds the tensors to the graph as they are.
    """
    names = [tensor.name.split(":")[0] for tensor in signature.inputs[:2]]
    assert names == ["image", "mask"], names
    tensors = [tf.constant(np.zeros(image, np.uint8)), tf.constant(np.ones(mask, np.uint8))]
    return signature._call_flat(tensors, signature.captured_inputs)


@pytest.mark.parametrize("rule", ["tiled", "dynamic", "fixed"])
@pytest.mark.parametrize(("case", "image", "mask", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_wrong_layout_fails_with_the_input_and_its_shape(
    tiny_exports, rule, case, image, mask, message
):
    signature = tiny_exports[rule][2].signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        call_unchecked(signature, image, mask)
    # What `keras-inpaint serve` answers with HTTP 400 (TF Serving shows the whole text).
    reason = op_error_message(raised.value)
    assert reason.startswith(message), reason
    assert "Reshape" not in reason and "depth" not in reason


@pytest.mark.parametrize("rule", ["tiled", "dynamic", "fixed"])
def test_the_right_layout_still_runs_unchecked(tiny_exports, rule):
    signature = tiny_exports[rule][2].signatures["serving_default"]
    outputs = call_unchecked(signature, (2, 32, 32, 3), (2, 32, 32, 1))
    assert outputs["inpainted"].shape == (2, 32, 32, 3)
