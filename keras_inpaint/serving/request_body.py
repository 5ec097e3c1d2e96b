"""Predict request bodies: bytes -> a checked JSON object and its work, wherever it is read.

Small bodies are read in the HTTP process (`predict_route`), which needs their
pixel count to pick a worker; large ones are read by the inference worker that
runs them (`saved_model_api`), so that parsing tens of MB of JSON never holds up
the HTTP process and the small requests it is passing on. Both read a body
with `read_predict_body`: the same checks, the same messages.

A body's long pixel lists are read into arrays straight from its bytes
(`pixel_json`), the rest is parsed by orjson (https://github.com/ijl/orjson,
several times faster than `json`) and its nesting is read from its bytes; a body that
orjson refuses or might read differently from `json` (integers past 64 bits,
which orjson turns into floats; NaN, Infinity, a byte order mark, lone
surrogates, other encodings than UTF-8) is parsed by `json` as before, so every
body gets the same value and every bad one the same message either way.

Example:
    >>> from keras_inpaint.serving.request_limits import RequestLimits
    >>> read_predict_body(b'{"instances": [[[[0, 0, 0]]]]}', RequestLimits())
    ({'instances': [[[[0, 0, 0]]]]}, 1)
"""

import json

import numpy as np
import orjson

from keras_inpaint.serving.memory import paused_gc
from keras_inpaint.serving.pixel_json import parse_with_pixel_arrays
from keras_inpaint.serving.rest_protocol import MAX_NESTING, check_nesting

BODY_SHAPE_MESSAGE = (
    'the request body must be a JSON object, {"instances": [...]} or {"inputs": {...}}, '
    'with an optional "signature_name"'
)


# The shortest run of digits that may be an integer past 64 bits (below -2**63).
_LONG_DIGITS = b"1" * 19
_DIGITS_TO_ONES = bytes(ord("1") if code in b"0123456789" else ord("0") for code in range(256))
_NOT_BRACKETS = bytes(code for code in range(256) if code not in b"[]{}")


def _json_loads(data):
    """`json.loads`, with the messages for the client."""
    try:
        with paused_gc():
            return json.loads(data)
    except RecursionError:
        raise ValueError(
            "the request body nests lists or objects too deeply: it is nested too deeply to "
            'be parsed, and a predict body, {"instances": [...]} or {"inputs": {...}} with '
            "[H][W][C] pixel lists, nests 7 deep at most"
        ) from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"the request body is not valid JSON: {error}") from None


def _bracket_depth(data):
    """How deep the lists and objects of JSON bytes `data` (without backslashes) nest."""
    text = data
    if b'"' in text:
        # Without backslashes every quote opens or closes a string: drop the strings.
        text = b"".join(text.split(b'"')[::2])
    brackets = np.frombuffer(text.translate(None, _NOT_BRACKETS), np.uint8)
    if not brackets.size:
        return 0
    # "[" and "{" have bit 1 set, "]" and "}" do not.
    steps = ((brackets >> 1) & 1).astype(np.int8) * 2 - 1
    return int(np.cumsum(steps, dtype=np.int32).max())


def _fast_loads(data):
    """The JSON value of `data` by orjson, or None when `json` must read it."""
    if not isinstance(data, bytes):
        return None  # str and other buffers: read by `json`, as before
    if data.translate(_DIGITS_TO_ONES).find(_LONG_DIGITS) >= 0:
        return None  # maybe an integer that orjson would turn into a float
    try:
        with paused_gc():
            body = parse_with_pixel_arrays(data)
            return (orjson.loads(data) if body is None else body,)
    except orjson.JSONDecodeError:
        return None


def _nests_too_deep(data, body):
    """Whether `body`, parsed from `data`, nests more than `MAX_NESTING` deep.

    Read from the bytes when they allow it (no string escapes), else from `body`.
    """
    if b"\\" in data:
        try:
            check_nesting(body)
        except ValueError:
            return True
        return False
    return _bracket_depth(data) > MAX_NESTING


def parse_body(data):
    """Request body bytes -> the JSON object; raises ValueError with a message for the client.

    TF Serving reads the body as JSON whatever its Content-Type (its documented
    curl calls send form encoding), and so does this server.
    """
    parsed = _fast_loads(data)
    if parsed is None or _nests_too_deep(data, parsed[0]):
        # `json` gives the message: too deep for its parser, or over the nesting limit.
        body = _json_loads(data)
        check_nesting(body)
    else:
        (body,) = parsed
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
