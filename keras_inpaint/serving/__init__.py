"""Serving: TF Serving REST client helpers, and the `keras-inpaint serve` model server.

`keras_inpaint.serving.client` turns numpy images or files into TF Serving
request JSON (row, columnar, `{"b64": ...}`) and answers back into pixels; it
needs no TensorFlow. The server (`keras_inpaint.serving.server`) needs the
`[serve]` extra: `pip install "keras-inpaint[serve]"`.
"""

from keras_inpaint.serving import client
from keras_inpaint.serving.client import (
    bytes_request,
    decode_response,
    inputs_request,
    instances_request,
    model_status,
    predict,
)
from keras_inpaint.serving.serving_error import ServingError

__all__ = [
    "ServingError",
    "bytes_request",
    "client",
    "decode_response",
    "inputs_request",
    "instances_request",
    "model_status",
    "predict",
]
