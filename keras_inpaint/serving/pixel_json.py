"""Pixel lists read straight from a JSON body's bytes into numpy arrays.

A `serving_default` body is almost all pixel lists (`[[[12,200,3],...]]`):
parsed by a JSON parser, each number becomes a Python object and each row a
list, which costs far more than the bytes. `parse_with_pixel_arrays` finds
the long runs of the body that hold only lists of non-negative integers,
checks that each is a well-formed rectangular array (at least 3 deep: an
`[H][W][C]` image, or a batch of them), reads its numbers with numpy, and
parses the rest of the body with orjson, the arrays in place of their lists.
Each array takes the place where `request_limits.compact_body` would have put
the array of the same lists: an input value of an instance, a batch of
instances (`"instances"`, then a list of one array per instance), a columnar
input or the bare `"inputs"`; its dtype is the one `compact` gives (uint8 when
every value fits, else int64).

Anything else (negative numbers, decimals, `true`, ragged or empty lists,
leading zeros, numbers of more than 18 digits, string escapes, lists
elsewhere in the body) is left to the JSON parser: the function returns None
and the caller parses the body as before, so every body reads the same and
every bad one gets the same message either way.

Example:
    >>> body = b'{"instances": [{"image": ' + b"[[[1,2,3]]]" * 1 + b', "mask": [[[0]]]}]}'
    >>> parse_with_pixel_arrays(body, min_bytes=8)["instances"][0]["image"].shape
    (1, 1, 3)
"""

import numpy as np
import orjson

# Runs shorter than this are left to orjson, which reads them about as fast.
MIN_RUN_BYTES = 4096
# The most digits of a number read here (int64 holds every 18-digit number).
MAX_DIGITS = 18
# `bytes.translate` table: 1 for the bytes a run of pixel lists is made of, 0 for the others.
_RUN_TABLE = bytes(int(byte in b"[]0123456789, \t\n\r") for byte in range(256))
_WHITESPACE = b" \t\n\r"
_DIGITS = b"0123456789"
_POWERS = 10 ** np.arange(MAX_DIGITS, dtype=np.int64)
# A JSON string no body without backslashes can hold (control characters must be escaped).
_PLACEHOLDER = "\x01pixels{}"


def _runs(data, min_bytes):
    """`(start, end)` of each run of list, digit, comma and space bytes of `min_bytes` or more.

    The runs are the gaps between the other bytes, which are few in a pixel body.
    """
    others = np.flatnonzero(np.frombuffer(data.translate(_RUN_TABLE), np.uint8) == 0)
    bounds = np.concatenate(([-1], others, [len(data)]))
    starts, ends = bounds[:-1] + 1, bounds[1:]
    long = ends - starts >= min_bytes
    return list(zip(starts[long].tolist(), ends[long].tolist(), strict=True))


def _value_end(data, start, end):
    """End of the list that opens at `data[start]`, when the run to `end` holds it.

    What follows the list in its run can only close outer lists, part values
    or be whitespace: that tail holds as many more `]` as the run has more `]`
    than `[`. Whether what is left is one list is checked with its shape.
    """
    extra = data.count(b"]", start, end) - data.count(b"[", start, end)
    stop = end
    while stop > start and (extra > 0 or data[stop - 1] != ord("]")):
        extra -= data[stop - 1] == ord("]")
        stop -= 1
    return stop if extra == 0 and stop > start else None


def _shape(skeleton):
    """The rectangular shape whose list skeleton (`[`, `,`, `]` only) is `skeleton`, or None.

    The shape is read off the first list of each depth (the innermost one ends at
    the first `]`, the one around it at the first `]]`, ...), then the skeleton
    of that shape is written out and compared with `skeleton` as a whole.
    """
    levels = len(skeleton) - len(skeleton.lstrip(b"["))
    sizes, first = [], b""
    for depth in range(1, levels + 1):
        end = skeleton.find(b"]" * depth)
        if end < 0:
            return None
        listed = skeleton[levels - depth : end + depth]  # the first list `depth` from the inside
        size = listed.count(b",") + 1 if depth == 1 else (len(listed) - 1) // (len(first) + 1)
        if size < 1:
            return None
        sizes.append(size)
        first = listed
    if not sizes:
        return None
    expected = b"[" + b"," * (sizes[0] - 1) + b"]"
    for size in sizes[1:]:
        expected = b"[" + b",".join([expected] * size) + b"]"
    return tuple(reversed(sizes)) if expected == skeleton else None


def _digit_runs(codes):
    """`(starts, ends)` of the runs of digits of byte codes `codes`."""
    digit = ((codes - np.uint8(ord("0"))) < 10).view(np.int8)  # uint8 wraps below "0"
    edges = np.diff(digit, prepend=np.int8(0), append=np.int8(0))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _numbers(codes, starts, ends):
    """The integers of the digit runs `starts`..`ends` of byte codes `codes`."""
    lengths = ends - starts
    longest = int(lengths.max())
    # Numbers of up to 4 digits are summed in uint16: a quarter of the memory traffic.
    dtype = np.uint16 if longest <= 4 else np.int64
    values = np.zeros(len(starts), dtype)
    for place in range(longest):
        digits = (codes[np.maximum(ends - 1 - place, 0)] - np.uint8(ord("0"))).astype(dtype)
        digits *= lengths > place
        values += digits * dtype(_POWERS[place])
    return values


def _in_slots(codes, starts, ends):
    """Whether each digit run sits between `[` or `,` and `]` or `,` (a list element)."""
    before, after = codes[starts - 1], codes[ends]
    opens = (before == ord("[")) | (before == ord(","))
    return bool((opens & ((after == ord("]")) | (after == ord(",")))).all())


def read_array(text):
    """The array of JSON text `text`, a rectangular list of non-negative integers; else None."""
    compact_text = text.translate(None, _WHITESPACE)
    codes = np.frombuffer(compact_text, np.uint8)
    starts, ends = _digit_runs(codes)
    if not starts.size or not (codes[0] == ord("[") and codes[-1] == ord("]")):
        return None
    if len(compact_text) != len(text) and len(starts) != len(
        _digit_runs(np.frombuffer(text, np.uint8))[0]
    ):
        return None  # numbers that only whitespace parted ("1 2")
    lengths = ends - starts
    if lengths.max() > MAX_DIGITS or (codes[starts[lengths > 1]] == ord("0")).any():
        return None  # too long for int64, or a leading zero (not JSON)
    if not _in_slots(codes, starts, ends):
        return None  # a number outside a list's elements ("]5"), or an element left empty
    shape = _shape(compact_text.translate(None, _DIGITS))
    if shape is None or len(shape) < 3 or np.prod(shape) != len(starts):
        return None
    return _compact(_numbers(codes, starts, ends).reshape(shape))


def _compact(values):
    """Non-negative integers as uint8 when they all fit, else int64 (as `compact` gives)."""
    return values.astype(np.uint8 if values.max() <= 255 else np.int64)


def _arrays_and_skeleton(data, min_bytes):
    """`(arrays, body text with each array's list replaced by a placeholder string)`."""
    arrays, pieces, done = [], [], 0
    for start, end in _runs(data, min_bytes):
        start = data.find(b"[", start, end)
        if start < 0:
            continue  # a run of digits (a list inside a string breaks the body: orjson refuses it)
        stop = _value_end(data, start, end)
        array = None if stop is None else read_array(data[start:stop])
        if array is None:
            continue
        pieces += [data[done:start], orjson.dumps(_PLACEHOLDER.format(len(arrays)))]
        arrays.append(array)
        done = stop
    pieces.append(data[done:])
    return arrays, b"".join(pieces)


def _input_slots(body):
    """`(container, key, wrap)` of every place an array may take in a predict body."""
    slots = []
    instances = body.get("instances")
    slots.append((body, "instances", list))
    if isinstance(instances, list):
        for index, item in enumerate(instances):
            slots.append((instances, index, None))
            if isinstance(item, dict):
                slots.extend((item, name, None) for name in item)
    inputs = body.get("inputs")
    slots.append((body, "inputs", None))
    if isinstance(inputs, dict):
        slots.extend((inputs, name, None) for name in inputs)
    return slots


def _put_arrays(body, arrays, slots):
    """Put each array where its placeholder is in `slots`; False when one is not in its place."""
    placed = 0
    for container, key, wrap in slots:
        value = container.get(key) if isinstance(container, dict) else container[key]
        if isinstance(value, str) and value.startswith(_PLACEHOLDER[:-2]):
            array = arrays[int(value[len(_PLACEHOLDER) - 2 :])]
            container[key] = [_compact(item) for item in array] if wrap else array
            placed += 1
    return placed == len(arrays)


def parse_with_pixel_arrays(data, min_bytes=None):
    """The JSON value of body bytes `data` with its pixel lists as arrays; None if not read here.

    Returns None for a body that this reader leaves to a JSON parser: one with a
    backslash (string escapes), no long pixel list, a list it cannot read, or
    one outside the places of a predict body's inputs. `min_bytes`: the
    shortest run of pixel lists read here (`MIN_RUN_BYTES` when None).
    """
    if b"\\" in data:
        return None
    arrays, skeleton = _arrays_and_skeleton(data, min_bytes or MIN_RUN_BYTES)
    if not arrays:
        return None
    try:
        body = orjson.loads(skeleton)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or not _put_arrays(body, arrays, _input_slots(body)):
        return None
    return body
