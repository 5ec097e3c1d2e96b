"""Export a trained Inpainter as an ONNX model, run with onnxruntime.

The ONNX model is the uint8 function behind the SavedModel's `serving_default`
(`keras_inpaint.export.signatures.inpaint_uint8`), converted by tf2onnx
(https://github.com/onnx/tensorflow-onnx), so every format computes the same thing:

    inputs  `image` uint8 `[B, H, W, 3]`, `mask` uint8 `[B, H, W, 1]` (nonzero = hole)
    output  `inpainted` uint8 `[B, H, W, 3]`: known pixels exactly the input's

The batch is dynamic. Height and width are dynamic for fully convolutional
generators (`SizeRule` mode `"dynamic"`: padded to the generator's multiple and
cropped back inside the model). Generators of a fixed input size take that size
only, also those the SavedModel tiles over larger images (`"tiled"`): tf2onnx 1.17
does not convert the tiling's conditionals.

tf2onnx drops TensorFlow's assertions, so the ONNX model has no `max_side` limit
and does not check that the mask matches the image: onnxruntime refuses inputs of
another rank, channel count or fixed size, but a mask of batch or side 1 is
broadcast. Callers check that the mask has the image's batch, height and width.

Layout: `<base_dir>/<name>/<version>/model.onnx`, written like the SavedModel
export (a hidden temporary folder, flushed and renamed into place; an existing
version is never overwritten). Use a `--base` folder of its own: TF Serving
cannot load these versions. Before publishing, the export runs the ONNX model
with onnxruntime on an example request and refuses to write a model whose
output differs from the TensorFlow function by more than one uint8 level.

Needs the `onnx` extra: `pip install "keras-inpaint[onnx]"` (tf2onnx, onnxruntime).

Example:
    >>> import numpy as np, onnxruntime
    >>> from keras_inpaint.export.onnx_export import export_onnx
    >>> path = export_onnx("runs/quickstart", "exports_onnx")  # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession(str(path))      # doctest: +SKIP
    >>> image = np.zeros((1, 64, 64, 3), np.uint8)
    >>> mask = np.zeros((1, 64, 64, 1), np.uint8)
    >>> mask[:, 16:48, 16:48] = 255
    >>> session.run(None, {"image": image, "mask": mask})[0].shape  # doctest: +SKIP
    (1, 64, 64, 3)
"""

import numpy as np
import tensorflow as tf

from keras_inpaint import contract
from keras_inpaint.contract import DEFAULT_MAX_SIDE
from keras_inpaint.export.saved_model import (
    export_name,
    load_inpainter,
    new_version,
    publish_version,
)
from keras_inpaint.export.signatures import inpaint_uint8
from keras_inpaint.export.size_rule import DYNAMIC, FIXED, SizeRule
from keras_inpaint.model_names import check_model_name

ONNX_FILE = "model.onnx"
DEFAULT_OPSET = 17
INSTALL_HINT = 'pip install "keras-inpaint[onnx]" (or: pip install tf2onnx onnxruntime)'


def require_onnx_tools():
    """`(tf2onnx, onnxruntime)`, or an ImportError naming the pip install."""
    try:
        import onnxruntime
        import tf2onnx
    except ImportError as error:
        raise ImportError(
            f"the ONNX export needs tf2onnx and onnxruntime ({error.name} is missing); "
            f"install them with: {INSTALL_HINT}"
        ) from error
    return tf2onnx, onnxruntime


def export_rule(generator):
    """The `SizeRule` of a single-file export: the generator's, with tiling replaced by
    its own size (`"fixed"`); the model runs on every image of that size."""
    rule = SizeRule.for_generator(generator)
    return rule if rule.mode == DYNAMIC else SizeRule(FIXED, rule.height, rule.width)


def export_input_signature(rule):
    """The input specs for an `export_rule`: any size when dynamic, else the model's."""
    height, width = rule.signature_size()
    return [
        tf.TensorSpec([None, height, width, 3], contract.UINT8, name=contract.IMAGE),
        tf.TensorSpec([None, height, width, 1], contract.UINT8, name=contract.MASK),
    ]


def export_function(model):
    """`tf.function` uint8 image and mask -> `{"inpainted": uint8}`, the serving computation.

    Its size assertions (`max_side`, mask size) do not survive a conversion to ONNX.
    """
    rule = export_rule(model.generator)

    def inpaint(image, mask):
        return {contract.INPAINTED: inpaint_uint8(model, rule, image, mask, DEFAULT_MAX_SIDE)}

    return tf.function(inpaint, input_signature=export_input_signature(rule))


def _floor_div(ctx, node, name, args):
    """tf2onnx handler for TensorFlow's FloorDiv that floors negative integers too.

    tf2onnx 1.17 turns an integer FloorDiv into ONNX Div, which truncates: the
    size rule's `-(-height // multiple)` (a ceiling) came out one multiple short.
    Integers: `(a - mod(a, b)) / b` with ONNX Mod's Python sign rule; floats: floor(a / b).
    """
    from onnx import TensorProto

    dividend, divisor = node.input
    node.type = "Div"
    if ctx.get_dtype(dividend) in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE):
        floored = ctx.insert_new_node_on_output("Floor", node.output[0])
        ctx.copy_dtype(node.output[0], floored.output[0])
        ctx.copy_shape(node.output[0], floored.output[0])
        return
    remainder = ctx.make_node("Mod", [dividend, divisor], attr={"fmod": 0})
    exact = ctx.make_node("Sub", [dividend, remainder.output[0]])
    ctx.replace_inputs(node, [exact.output[0], divisor])


def convert_to_onnx(model, opset=DEFAULT_OPSET):
    """The ONNX `ModelProto` of `model`'s uint8 serving function (see the module doc)."""
    tf2onnx, _ = require_onnx_tools()
    function = export_function(model)
    proto, _ = tf2onnx.convert.from_function(
        function,
        input_signature=function.input_signature,
        opset=opset,
        custom_op_handlers={"FloorDiv": (_floor_div, [])},
    )
    return proto


def example_request(rule, batch_size=2, seed=0):
    """`(image, mask)` uint8 arrays every export of `rule` accepts: noise with a box hole.

    For a dynamic rule the size is no multiple of the rule's (padding runs); the
    images hold different holes, so a batch mix-up shows.
    """
    height, width = rule.example_size()
    if rule.mode == DYNAMIC:
        height, width = height - 3, width - 1
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (batch_size, height, width, 3), dtype=np.uint8)
    mask = np.zeros((batch_size, height, width, 1), np.uint8)
    for index in range(batch_size):
        top, left = index % 2 * (height // 4), index % 3 * (width // 4)
        mask[index, top : top + max(height // 2, 1), left : left + max(width // 2, 1)] = 255
    return image, mask


def check_reproduction(actual, model, image, mask, format_name):
    """A ValueError unless `actual`, an export's output for `(image, mask)`, matches the
    TensorFlow serving function within one uint8 level, known pixels exactly."""
    expected = export_function(model)(tf.constant(image), tf.constant(mask))
    expected = expected[contract.INPAINTED].numpy()
    if actual.shape != expected.shape:
        raise ValueError(
            f"the {format_name} conversion of {model.name} answers an example request of "
            f"shape {expected.shape} with shape {actual.shape}; nothing was written. Export "
            "it with --format saved_model."
        )
    known = mask[..., 0] == 0
    difference = int(np.abs(actual.astype(int) - expected.astype(int)).max())
    changed = int(np.count_nonzero(actual[known] != image[known]))
    if difference > 1 or changed:
        raise ValueError(
            f"the {format_name} conversion of {model.name} does not reproduce the model "
            f"(on an example request: largest difference {difference} uint8 levels, "
            f"{changed} known pixel values changed); nothing was written. Export it with "
            "--format saved_model."
        )


def check_onnx_model(proto, model):
    """Run `proto` with onnxruntime on `example_request`; a ValueError unless it matches
    the TensorFlow serving function within one uint8 level, known pixels exactly."""
    _, onnxruntime = require_onnx_tools()
    image, mask = example_request(export_rule(model.generator))
    session = onnxruntime.InferenceSession(
        proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    actual = session.run([contract.INPAINTED], {contract.IMAGE: image, contract.MASK: mask})[0]
    check_reproduction(actual, model, image, mask, "ONNX")


def export_onnx(source, base_dir, name=None, version=None, opset=DEFAULT_OPSET):
    """Write `source` as `<base_dir>/<name>/<version>/model.onnx`; returns that file's path.

    Args:
        source: an `Inpainter`, a `.keras` file or a training run directory.
        base_dir: the folder of ONNX exports (not a TF Serving model base).
        name: model name (folder); defaults to `export_name(source)`.
        version: integer version; defaults to the next free one. An existing
            version raises FileExistsError.
        opset: the ONNX opset to target.
    """
    require_onnx_tools()
    name = check_model_name(name) if name is not None else export_name(source)
    model = load_inpainter(source)
    proto = convert_to_onnx(model, opset)
    check_onnx_model(proto, model)
    target = new_version(base_dir, name, version)
    content = proto.SerializeToString()
    publish_version(target, lambda folder: (folder / ONNX_FILE).write_bytes(content))
    return target / ONNX_FILE
