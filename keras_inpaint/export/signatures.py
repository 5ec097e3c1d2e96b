"""The two serving signatures of every export, as functions of an `Inpainter`.

`serving_default`:
    inputs  `image` uint8 `[B, H, W, 3]`, `mask` uint8 `[B, H, W, 1]` (nonzero = hole)
    output  `inpainted` uint8 `[B, H, W, 3]`: known pixels bit-exact from the input,
            the hole from the model.
`inpaint_bytes`:
    inputs  `image_bytes`, `mask_bytes` string `[B]`: PNG or JPEG files, turned
            upright by their EXIF orientation; masks by the rule of every entry point,
            `keras_inpaint.images.decode_mask_file` (bright on black in any colour, 8 or
            16 bits, a 0/1 file, strokes painted on a transparent layer)
    output  `inpainted_bytes` string `[B]`: PNG files. TF Serving's REST API writes
            outputs whose name ends in `_bytes` as `{"b64": ...}`.

Which sizes are accepted is the generator's `SizeRule`; images larger than
`max_side` on a side are refused with an error that says so. The names, keys
and dtypes are those of `keras_inpaint.contract`.
"""

import tensorflow as tf

from keras_inpaint import contract, images
from keras_inpaint.contract import DEFAULT_MAX_SIDE
from keras_inpaint.export.size_rule import SizeRule


def image_input_signature(rule):
    """`serving_default`'s input specs for a `SizeRule`."""
    height, width = rule.signature_size()
    return [
        tf.TensorSpec([None, height, width, 3], contract.UINT8, name=contract.IMAGE),
        tf.TensorSpec([None, height, width, 1], contract.UINT8, name=contract.MASK),
    ]


def bytes_input_signature():
    """`inpaint_bytes`' input specs."""
    return [
        tf.TensorSpec([None], contract.STRING, name=contract.IMAGE_BYTES),
        tf.TensorSpec([None], contract.STRING, name=contract.MASK_BYTES),
    ]


def _checked(image, mask, rule, max_side):
    shape, mask_shape = tf.shape(image), tf.shape(mask)
    height, width = shape[1], shape[2]
    checks = [
        tf.debugging.assert_equal(
            shape[:3],
            mask_shape[:3],
            message="the mask must have the same batch size, height and width as the image",
        ),
        tf.debugging.assert_positive(tf.minimum(height, width), message="the image is empty"),
        tf.debugging.assert_less_equal(
            tf.maximum(height, width),
            max_side,
            message=(
                f"this export takes images of at most {max_side} px on a side (export "
                "option max_side); crop or downscale the image and its mask"
            ),
        ),
        *rule.check_size(height, width),
    ]
    # The checks run before the model, so a bad request fails with their message.
    with tf.control_dependencies(checks):
        return tf.identity(image), tf.identity(mask)


# What each array input must look like, and the fix when it does not.
_LAYOUT = {
    contract.IMAGE: (
        3,
        "uint8 RGB images [batch, height, width, 3]; convert grey or RGBA images to RGB",
    ),
    contract.MASK: (1, "one channel [batch, height, width, 1], nonzero = hole; not an RGB mask"),
}


def _layout_checks(name, tensor):
    """Assertions that `tensor` has rank 4 and the channels `_LAYOUT` gives for `name`.

    TF Serving does not hold a request to the signature's shapes, so without them a
    wrong rank or channel count fails deep in the model (a Reshape or Conv2D error).
    """
    channels, fix = _LAYOUT[name]
    expected = f"input '{name}' must have shape [-1, -1, -1, {channels}]"
    # A static shape would let graph optimisation fold the rank check away (the
    # signature says rank 4): checks run on a copy whose shape is unknown.
    unknown = tf.raw_ops.PlaceholderWithDefault(input=tensor, shape=tf.TensorShape(None))
    shape = tf.shape(unknown)
    rank = tf.debugging.assert_equal(
        tf.size(shape), 4, message=f"{expected} (batch axis first): {fix}"
    )
    # The channel count is read only once the rank is known to be right.
    with tf.control_dependencies([rank]):
        return tf.debugging.assert_equal(
            shape[-1], channels, message=f"{expected}: {channels} channel(s), {fix}"
        )


def _checked_layout(image, mask):
    """`(image, mask)` that first pass the rank and channel checks of `serving_default`."""
    checks = [_layout_checks(contract.IMAGE, image), _layout_checks(contract.MASK, mask)]
    with tf.control_dependencies(checks):
        return tf.identity(image), tf.identity(mask)


def _validate_max_side(max_side):
    if int(max_side) < 1:
        raise ValueError(f"max_side must be a positive number of pixels; got {max_side}.")
    return int(max_side)


def inpaint_uint8(model, rule, image, mask, max_side):
    """uint8 images and masks (nonzero = hole) of any accepted size -> uint8 composite."""
    image, mask = _checked(image, mask, rule, max_side)
    # The comparison and the select run on int32: LiteRT's builtin NotEqual and
    # SelectV2 take no uint8, and the values (0..255) are the same.
    hole = images.binarize_mask(tf.cast(mask, tf.int32))
    masked_image = images.uint8_to_model(image) * (1.0 - hole)
    composite = rule.apply(model, masked_image, hole)
    filled = tf.cast(images.model_to_uint8(composite), tf.int32)
    # Known pixels come from the request itself, so they round-trip exactly.
    return tf.cast(tf.where(hole > 0, filled, tf.cast(image, tf.int32)), tf.uint8)


def serving_function(model, max_side=DEFAULT_MAX_SIDE):
    """The uint8-in / uint8-out function behind `serving_default`."""
    rule = SizeRule.for_generator(model.generator)
    max_side = _validate_max_side(max_side)

    def serve(image, mask):
        image, mask = _checked_layout(image, mask)
        return {contract.INPAINTED: inpaint_uint8(model, rule, image, mask, max_side)}

    return serve


def bytes_serving_function(model, max_side=DEFAULT_MAX_SIDE):
    """The encoded-files-in / PNG-out function behind `inpaint_bytes`."""
    rule = SizeRule.for_generator(model.generator)
    max_side = _validate_max_side(max_side)

    def inpaint_file(pair):
        # The decoders of every other entry point, in the graph: EXIF orientation
        # applied, the mask-file rule of keras_inpaint.images.decode_mask_file.
        image = images.decode_image_file(pair[0], channels=3)
        hole = images.decode_mask_file(pair[1])
        inpainted = inpaint_uint8(model, rule, image[None], hole[None], max_side)
        return tf.io.encode_png(inpainted[0])

    def serve(image_bytes, mask_bytes):
        check = tf.debugging.assert_equal(
            tf.size(image_bytes), tf.size(mask_bytes), message="give one mask per image"
        )
        with tf.control_dependencies([check]):
            # One file at a time: the images of one request may differ in size.
            encoded = tf.map_fn(
                inpaint_file, (image_bytes, mask_bytes), fn_output_signature=tf.string
            )
        return {contract.INPAINTED_BYTES: encoded}

    return serve
