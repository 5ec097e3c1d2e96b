"""What every export promises its callers: signature names, input and output keys, dtypes.

The SavedModel export (`keras_inpaint.export.signatures`) builds its two
signatures from these names, and the REST client and server
(`keras_inpaint.serving`), `keras_inpaint.inference` and the command line read
them from here. This module imports nothing, so a client without TensorFlow
(and `keras-inpaint --help`) shares it.

`serving_default` (`SIGNATURE`):
    inputs  `image` uint8 `[B, H, W, 3]`, `mask` uint8 `[B, H, W, 1]` (nonzero = hole)
    output  `inpainted` uint8 `[B, H, W, 3]`
`inpaint_bytes` (`BYTES_SIGNATURE`):
    inputs  `image_bytes`, `mask_bytes` string `[B]`: PNG or JPEG files
    output  `inpainted_bytes` string `[B]`: PNG files

An export refuses images larger than its `max_side` on a side, `DEFAULT_MAX_SIDE`
unless the export says otherwise. Dtypes are named as TensorFlow names them
(`tf.as_dtype(name)`, `tf.DType.name`).

Example:
    >>> from keras_inpaint import contract
    >>> contract.SIGNATURES[contract.BYTES_SIGNATURE].inputs
    {'image_bytes': 'string', 'mask_bytes': 'string'}
    >>> contract.DEFAULT_MAX_SIDE
    2048
"""

from typing import NamedTuple

SIGNATURE = "serving_default"
BYTES_SIGNATURE = "inpaint_bytes"

# The keys of `serving_default`'s inputs and output.
IMAGE = "image"
MASK = "mask"
INPAINTED = "inpainted"
# The keys of `inpaint_bytes`' inputs and output; TF Serving's REST API writes
# outputs whose name ends in `_bytes` as `{"b64": ...}`.
IMAGE_BYTES = "image_bytes"
MASK_BYTES = "mask_bytes"
INPAINTED_BYTES = "inpainted_bytes"

UINT8 = "uint8"
STRING = "string"

DEFAULT_MAX_SIDE = 2048


class Signature(NamedTuple):
    """One signature's `{input key: dtype name}` (in call order) and `{output key: dtype}`."""

    inputs: dict
    outputs: dict


SIGNATURES = {
    SIGNATURE: Signature(
        inputs={IMAGE: UINT8, MASK: UINT8},
        outputs={INPAINTED: UINT8},
    ),
    BYTES_SIGNATURE: Signature(
        inputs={IMAGE_BYTES: STRING, MASK_BYTES: STRING},
        outputs={INPAINTED_BYTES: STRING},
    ),
}
