"""Export a trained Inpainter as a LiteRT (TensorFlow Lite) flatbuffer.

The LiteRT model is the uint8 function behind the SavedModel's `serving_default`
(`keras_inpaint.export.signatures.inpaint_uint8`), the one the ONNX export converts
(https://ai.google.dev/edge/litert/models/convert_tf):

    inputs  `image` uint8 `[B, H, W, 3]`, `mask` uint8 `[B, H, W, 1]` (nonzero = hole)
    output  `inpainted` uint8 `[B, H, W, 3]`: known pixels exactly the input's

Sizes follow the ONNX export (`onnx_export.export_rule`): the model's own height and
width, or any for fully convolutional generators; the batch is free. A LiteRT
interpreter allocates the model for batch 1: call `resize_tensor_input` on both
inputs with the request's shape, then `allocate_tensors`, before `invoke`
(`run_litert` does). The converter drops TensorFlow's assertions, so the model
has no `max_side` limit and does not check that the mask matches the image:
`run_litert` checks shapes and dtypes before it runs.

The model holds LiteRT's builtin operators only, so it runs in any LiteRT runtime.
A model that would need TensorFlow operators (Select TF ops, the "Flex" delegate)
is refused, naming them: TensorFlow's own interpreter has no Flex delegate, so such
a file could not be checked before it is written.

Layout: `<base_dir>/<name>/<version>/model.tflite`, written like the other exports
(a hidden temporary folder, renamed into place; an existing version is never
overwritten). Before publishing, the export runs the model in the LiteRT
interpreter on an example request of batch 2 and refuses to write one whose output
differs from the TensorFlow function by more than one uint8 level or changes a
known pixel.

Example:
    >>> import numpy as np
    >>> from keras_inpaint.export.litert_export import export_litert, run_litert
    >>> path = export_litert("runs/quickstart", "exports_litert")  # doctest: +SKIP
    >>> image = np.zeros((2, 64, 64, 3), np.uint8)
    >>> mask = np.zeros((2, 64, 64, 1), np.uint8)
    >>> mask[:, 16:48, 16:48] = 255
    >>> run_litert(path, image, mask).shape  # doctest: +SKIP
    (2, 64, 64, 3)
"""

import logging
import re
import warnings

import numpy as np
import tensorflow as tf
from tensorflow.lite.python.convert_phase import ConverterError

from keras_inpaint import contract
from keras_inpaint.export.onnx_export import (
    check_reproduction,
    example_request,
    export_function,
    export_rule,
)
from keras_inpaint.export.saved_model import (
    export_name,
    load_inpainter,
    new_version,
    publish_version,
)
from keras_inpaint.model_names import check_model_name

LITERT_FILE = "model.tflite"
# The converter names the TensorFlow operators a model needs on this line of its error.
_SELECT_OPS_LINE = re.compile(r"TF Select ops: (?P<ops>[^\n]+)")


def convert_function(function):
    """The LiteRT flatbuffer (bytes) of a concrete function, with builtin operators only.

    A function that needs TensorFlow operators (Select TF ops) or fails to convert
    otherwise is a ValueError naming the operators and `--format saved_model`.
    """
    # Without trackable_obj: TensorFlow 2.21's converter gives NaN outputs on the
    # path that keeps Keras's variables; this one freezes them into constants. Its
    # warning that the path is deprecated is kept off the console.
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
    finally:
        absl_logger.setLevel(level)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        return converter.convert()
    except ConverterError as error:
        needed = _SELECT_OPS_LINE.search(str(error))
        if needed is None:
            raise ValueError(
                f"LiteRT cannot convert this model ({error}); nothing was written. Export "
                "it with --format saved_model."
            ) from error
        raise ValueError(
            f"LiteRT's builtin operators cannot run this model: it needs the TensorFlow "
            f"operators {needed['ops'].strip()} (the Flex delegate, which TensorFlow's "
            "interpreter lacks, so the file could not be checked); nothing was written. "
            "Export it with --format saved_model."
        ) from error


def convert_to_litert(model):
    """The LiteRT flatbuffer (bytes) of `model`'s uint8 serving function (module doc)."""
    return convert_function(export_function(model).get_concrete_function())


def load_interpreter(model):
    """A LiteRT interpreter for a `.tflite` path or flatbuffer bytes (`ai_edge_litert`'s
    when installed, else TensorFlow's)."""
    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        # TensorFlow's interpreter warns that it moves to ai_edge_litert.
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        return Interpreter(**source)


def _input_indices(interpreter):
    """`{name: (tensor index, shape signature)}` of the `image` and `mask` inputs."""
    return {
        detail["name"]: (detail["index"], tuple(int(side) for side in detail["shape_signature"]))
        for detail in interpreter.get_input_details()
    }


def _checked_input(name, array, signature):
    """`array` as uint8 of the shape `signature` (-1 = any) allows, else a ValueError."""
    array = np.asarray(array)
    expected = f"input '{name}' must be uint8 of shape {list(signature)} (-1 = any)"
    if array.dtype != np.uint8:
        raise ValueError(f"{expected}; got {array.dtype}: convert it with .astype(np.uint8)")
    fits = array.ndim == len(signature) and all(
        want in (-1, got) for want, got in zip(signature, array.shape, strict=False)
    )
    if not fits:
        raise ValueError(
            f"{expected}; got {list(array.shape)}. Images are [batch, height, width, 3] RGB, "
            "masks [batch, height, width, 1] (nonzero = hole); where the shape fixes the "
            "height and width, crop a window of that size around the hole."
        )
    return array


def run_litert(model, image, mask):
    """Run a LiteRT export on uint8 `image` `[B, H, W, 3]` and `mask` `[B, H, W, 1]`.

    `model` is a `.tflite` path, its bytes or an interpreter of it. The inputs are
    resized to the request's batch (and size, where the model allows any), then
    allocated. Returns the uint8 `inpainted` array.
    """
    interpreter = model if hasattr(model, "invoke") else load_interpreter(model)
    inputs = _input_indices(interpreter)
    arrays = {
        name: _checked_input(name, array, inputs[name][1])
        for name, array in ((contract.IMAGE, image), (contract.MASK, mask))
    }
    if arrays[contract.IMAGE].shape[:3] != arrays[contract.MASK].shape[:3]:
        raise ValueError(
            "the mask must have the same batch size, height and width as the image; got "
            f"{list(arrays[contract.MASK].shape)} for an image of "
            f"{list(arrays[contract.IMAGE].shape)}"
        )
    for name, array in arrays.items():
        interpreter.resize_tensor_input(inputs[name][0], array.shape, strict=True)
    interpreter.allocate_tensors()
    for name, array in arrays.items():
        interpreter.set_tensor(inputs[name][0], array)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def check_litert_model(content, model):
    """Run `content` in the LiteRT interpreter on `example_request` (batch 2); a ValueError
    unless it matches the TensorFlow serving function within one uint8 level, known
    pixels exactly."""
    image, mask = example_request(export_rule(model.generator))
    try:
        actual = run_litert(content, image, mask)
    except RuntimeError as error:
        raise ValueError(
            f"the LiteRT model of {model.name} fails on an example request of shape "
            f"{list(image.shape)} ({error}); nothing was written. Export it with "
            "--format saved_model."
        ) from error
    check_reproduction(actual, model, image, mask, "LiteRT")


def export_litert(source, base_dir, name=None, version=None):
    """Write `source` as `<base_dir>/<name>/<version>/model.tflite`; returns that file's path.

    Args:
        source: an `Inpainter`, a `.keras` file or a training run directory.
        base_dir: the folder of LiteRT exports (not a TF Serving model base).
        name: model name (folder); defaults to `export_name(source)`.
        version: integer version; defaults to the next free one. An existing
            version raises FileExistsError.
    """
    name = check_model_name(name) if name is not None else export_name(source)
    model = load_inpainter(source)
    content = convert_to_litert(model)
    check_litert_model(content, model)
    target = new_version(base_dir, name, version)
    publish_version(target, lambda folder: (folder / LITERT_FILE).write_bytes(content))
    return target / LITERT_FILE
