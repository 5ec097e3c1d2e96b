"""Predict request bodies: bytes -> a checked JSON object and its work, wherever it is read.

Small bodies are read in the HTTP process (`predict_route`), which needs their
pixel count to pick a worker; large ones are read by the inference worker that
runs them (`saved_model_api`), so that parsing tens of MB of JSON never holds up
the HTTP process and the small requests it is passing on. Both read a body
with `read_predict_body`: the same checks, the same messages.

Example:
    >>> from keras_inpaint.serving.request_limits import RequestLimits
    >>> read_predict_body(b'{"instances": [[[[0, 0, 0]]]]}', RequestLimits())
    ({'instances': [[[[0, 0, 0]]]]}, 1)
"""

import json

from keras_inpaint.serving.memory import paused_gc
from keras_inpaint.serving.rest_protocol import check_nesting

BODY_SHAPE_MESSAGE = (
    'the request body must be a JSON object, {"instances": [...]} or {"inputs": {...}}, '
    'with an optional "signature_name"'
)


def parse_body(data):
    """Request body bytes -> the JSON object; raises ValueError with a message for the client.

    TF Serving reads the body as JSON whatever its Content-Type (its documented
    curl calls send form encoding), and so does this server.
    """
    try:
        with paused_gc():
            body = json.loads(data)
    except RecursionError:
        raise ValueError(
            "the request body nests lists or objects too deeply: it is nested too deeply to "
            'be parsed, and a predict body, {"instances": [...]} or {"inputs": {...}} with '
            "[H][W][C] pixel lists, nests 7 deep at most"
        ) from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"the request body is not valid JSON: {error}") from None
    check_nesting(body)
    if not isinstance(body, dict):
        raise ValueError(BODY_SHAPE_MESSAGE)
    return body


def read_predict_body(data, limits):
    """`(body, pixels)` of request body bytes `data` within `limits` (a `RequestLimits`).

    Raises `RequestTooLarge` (HTTP 413) over a work limit and ValueError (HTTP
    400) for a body that is not a JSON object.
    """
    body = parse_body(data)
    _, pixels = limits.check(body)
    return body, pixels
