"""TF Serving's REST predict protocol (v1), server side: JSON body <-> numpy tensors.

The rules are TF Serving's (https://www.tensorflow.org/tfx/serving/api_rest):

- `{"signature_name": ..., "instances": [...]}` (row format): one entry per
  example, without the batch axis; with several named inputs each entry is an
  object `{"image": ..., "mask": ...}`. Answered with `{"predictions": [...]}`.
- `{"signature_name": ..., "inputs": {...}}` (columnar format): each named input
  with its batch axis (or the bare tensor when the signature has one input).
  Answered with `{"outputs": ...}`.
- `signature_name` defaults to `serving_default` (`keras_inpaint.contract.SIGNATURE`).
- Binary strings travel as `{"b64": "<base64>"}`; outputs whose name ends in
  `_bytes` are written that way too.
- With a single output, its name is omitted from the answer.

`predict_response_bytes` writes an answer's JSON text straight from the
arrays (orjson, https://github.com/ijl/orjson), without the lists of lists of
`encode_predict_response`; both give the same JSON value.

Every problem with a body raises ValueError with a message meant for the
client (the server answers it with HTTP 400 `{"error": message}`).

Example:
    >>> import numpy as np
    >>> specs = {"serving_default": {"x": (np.uint8, (None, 2))}}
    >>> name, inputs, layout = parse_predict_body({"instances": [[1, 2], [3, 4]]}, specs)
    >>> inputs["x"].shape, layout
    ((2, 2), 'row')
"""

import base64
import binascii
import json
from itertools import chain

import numpy as np
import orjson

from keras_inpaint.contract import SIGNATURE

ROW = "row"
COLUMNAR = "columnar"
# A predict body nests at most 7 deep (body, instances, instance, H, W, C lists);
# far deeper bodies would exhaust Python's recursion limit downstream.
MAX_NESTING = 32


def check_nesting(body, limit=MAX_NESTING):
    """Raise ValueError when JSON `body` nests lists and objects more than `limit` deep.

    Walks one level at a time (no recursion), so any depth is safe to check.
    """
    level, depth = [body], 0
    while level:
        depth += 1
        if depth > limit:
            raise ValueError(
                f"the request body nests lists or objects more than {limit} deep; a predict "
                'body is {"instances": [...]} or {"inputs": {...}} with [H][W][C] pixel lists'
            )
        children = chain(
            chain.from_iterable(item for item in level if type(item) is list),
            chain.from_iterable(item.values() for item in level if type(item) is dict),
        )
        level = [item for item in children if type(item) is list or type(item) is dict]


def _shape_text(shape):
    return "[" + ", ".join("-1" if dim is None else str(dim) for dim in shape) + "]"


def _decode_strings(value, name):
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise ValueError(
                f'input \'{name}\': binary values must be written {{"b64": "<base64>"}}; '
                f"got an object with keys {sorted(value)}"
            )
        try:
            return base64.b64decode(value["b64"], validate=True)
        except binascii.Error:
            raise ValueError(f"input '{name}': a \"b64\" value is not valid base64") from None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, np.ndarray):
        value = value.tolist()  # pixel lists read as an array (`pixel_json`)
    if isinstance(value, list):
        return [_decode_strings(item, name) for item in value]
    raise ValueError(f"input '{name}' takes strings or {{\"b64\": ...}} objects; got {value!r}")


def _string_array(value, name):
    decoded = _decode_strings(value, name)
    try:
        array = np.array(decoded, dtype=object)
    except ValueError:
        array = None
    # Ragged lists become arrays of lists (or fail): either way not all items are bytes.
    if array is None or not all(isinstance(item, bytes) for item in array.flat):
        raise ValueError(
            f"input '{name}' is not a rectangular array of strings (its lists differ in length)"
        )
    return array


def _numeric_array(value, name, dtype):
    try:
        array = np.asarray(value)
    except ValueError:
        raise ValueError(
            f"input '{name}' is not a rectangular array (its lists differ in length)"
        ) from None
    dtype = np.dtype(dtype)
    if array.size == 0:
        return array.astype(dtype)
    if dtype.kind in "iu":
        if array.dtype.kind not in "iu":
            raise ValueError(f"input '{name}' is {dtype.name}: {_not_integers(array)}")
        limits = np.iinfo(dtype)
        if array.min() < limits.min or array.max() > limits.max:
            raise ValueError(
                f"input '{name}' is {dtype.name}: values must lie in [{limits.min}, "
                f"{limits.max}]; got {array.min()}..{array.max()}"
            )
    elif array.dtype.kind not in "biuf":
        raise ValueError(f"input '{name}' is {dtype.name}: it takes numbers only")
    return array.astype(dtype)


def _not_integers(array):
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            return (
                "it takes integers only; got NaN or Infinity (JSON has no such numbers); "
                "send pixels as integers in 0..255"
            )
        return (
            "it takes integers only; got numbers with a decimal point (a float image?); "
            "send integers in 0..255: multiply an image in [0, 1] by 255 and round"
        )
    if array.dtype.kind == "b":
        return "it takes integers only; got true/false values; send 0 or 1 (or 0..255)"
    if array.dtype.kind == "O" and any(
        isinstance(item, int) and not isinstance(item, bool) for item in array.flat
    ):
        return "it takes integers only; got integers too large for any integer type"
    return "it takes integers only; got values that are not numbers (strings, null, objects?)"


def to_array(value, name, dtype, shape):
    """One JSON input value -> a numpy array of the signature's dtype, shape checked."""
    if np.dtype(dtype) == object:
        array = _string_array(value, name)
    else:
        array = _numeric_array(value, name, dtype)
    expected = tuple(shape)
    fits = array.ndim == len(expected) and all(
        dim is None or dim == size for dim, size in zip(expected, array.shape, strict=True)
    )
    if not fits:
        raise ValueError(
            f"input '{name}' must have shape {_shape_text(expected)} (batch axis first); got "
            f"{_shape_text(array.shape)}"
        )
    return array


def _json_type_name(value):
    return "list" if isinstance(value, np.ndarray) else type(value).__name__


def _row_columns(instances, names):
    if not isinstance(instances, list) or not instances:
        raise ValueError('"instances" must be a non-empty list, one entry per example')
    if len(names) == 1 and not all(
        isinstance(item, dict) and set(item) == set(names) for item in instances
    ):
        return {names[0]: instances}
    for index, item in enumerate(instances):
        if not isinstance(item, dict) or set(item) != set(names):
            # An array stands for the list it was read from (`request_limits.compact`).
            keys = sorted(item) if isinstance(item, dict) else _json_type_name(item)
            raise ValueError(
                f"each instance must be an object with the keys {sorted(names)}; "
                f"instance {index} has {keys}"
            )
    return {name: [item[name] for item in instances] for name in names}


def _columnar_columns(inputs, names):
    if isinstance(inputs, dict) and set(inputs) == set(names):
        return inputs
    if len(names) == 1 and not isinstance(inputs, dict):
        return {names[0]: inputs}
    given = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
    raise ValueError(f'"inputs" must be an object with the keys {sorted(names)}; got {given}')


def parse_predict_body(body, signatures):
    """A predict request body -> `(signature name, {input name: array}, layout)`.

    Args:
        body: the decoded JSON body.
        signatures: `{signature name: {input name: (numpy dtype, shape)}}` where
            shape holds None for free dimensions and strings have dtype `object`.
    """
    if not isinstance(body, dict):
        raise ValueError('the request body must be a JSON object with "instances" or "inputs"')
    name = body.get("signature_name", SIGNATURE)
    if name not in signatures:
        raise ValueError(
            f"serving signature '{name}' is not found; this model has {sorted(signatures)}"
        )
    has_rows, has_columns = "instances" in body, "inputs" in body
    if has_rows == has_columns:
        raise ValueError(
            'the request body needs exactly one of "instances" (row format) and '
            f'"inputs" (columnar format); got {"both" if has_rows else "neither"}'
        )
    specs = signatures[name]
    names = sorted(specs)
    if has_rows:
        columns, layout = _row_columns(body["instances"], names), ROW
    else:
        columns, layout = _columnar_columns(body["inputs"], names), COLUMNAR
    arrays = {key: to_array(columns[key], key, *specs[key]) for key in names}
    return name, arrays, layout


def _json_value(array, binary):
    if binary:
        flat = [{"b64": base64.b64encode(item).decode("ascii")} for item in array.flat]
        return np.array(flat, dtype=object).reshape(array.shape).tolist()
    if array.dtype == object:
        return np.vectorize(lambda item: item.decode("utf-8"), otypes=[object])(array).tolist()
    return array.tolist()


def _answer(values, layout):
    """The response body of a request of `layout` from `{output name: JSON value}`."""
    if layout == COLUMNAR:
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    batch = len(next(iter(values.values())))
    return {
        "predictions": [{name: value[i] for name, value in values.items()} for i in range(batch)]
    }


def encode_predict_response(outputs, layout):
    """`{output name: array}` -> the response body for a request of `layout`."""
    values = {
        name: _json_value(np.asarray(array), binary=name.endswith("_bytes"))
        for name, array in outputs.items()
    }
    return _answer(values, layout)


def _fast_value(array, binary):
    """What orjson writes as the JSON value of `_json_value(array)`, without building lists."""
    if binary or array.dtype.kind not in "biuf":
        return _json_value(array, binary)
    # Floats written from float64 read back as the numbers of `array.tolist()`.
    return np.ascontiguousarray(array, dtype=np.float64 if array.dtype.kind == "f" else None)


def predict_response_bytes(outputs, layout):
    """`{output name: array}` -> the JSON text of `encode_predict_response(outputs, layout)`."""
    arrays = {name: np.asarray(array) for name, array in outputs.items()}
    if any(array.dtype.kind == "f" and not np.isfinite(array).all() for array in arrays.values()):
        # NaN and Infinity are written as `json` writes them (orjson would write null).
        answer = encode_predict_response(arrays, layout)
        return json.dumps(answer, separators=(",", ":")).encode()
    values = {name: _fast_value(array, name.endswith("_bytes")) for name, array in arrays.items()}
    return orjson.dumps(_answer(values, layout), option=orjson.OPT_SERIALIZE_NUMPY)
