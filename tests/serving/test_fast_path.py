"""The server's fast request path reads and writes exactly what the `json` list path did.

Request bodies are parsed by orjson, their long pixel lists read into arrays
straight from the bytes (`pixel_json`) and their nesting read from the bytes
(`request_body.parse_body`); answers are written from the arrays
(`rest_protocol.predict_response_bytes`); the reference here is the list path
they replaced: `json.loads`, `check_nesting`, `encode_predict_response` and
`json.dumps`. Every body below must give the same value, or the same message.
"""

import base64
import gc
import json
import weakref

import numpy as np
import pytest

from keras_inpaint.serving import client, pixel_json, request_body
from keras_inpaint.serving.memory import freeze_startup_objects, release_free_memory
from keras_inpaint.serving.request_body import parse_body
from keras_inpaint.serving.request_limits import RequestLimits, compact_body
from keras_inpaint.serving.rest_protocol import (
    check_nesting,
    encode_predict_response,
    parse_predict_body,
    predict_response_bytes,
)

SPECS = {
    "serving_default": {
        "image": (np.uint8, (None, None, None, 3)),
        "mask": (np.uint8, (None, None, None, 1)),
    },
    "inpaint_bytes": {"image_bytes": (object, (None,)), "mask_bytes": (object, (None,))},
}
PNG = client.encode_png(np.full((2, 3, 3), 7, np.uint8))


def list_path(data):
    """What the server read before the fast path: `json.loads` and `check_nesting`, then as now."""
    try:
        body = json.loads(data)
    except RecursionError:
        return "too deep to parse"
    except ValueError as error:
        return f"the request body is not valid JSON: {error}"
    try:
        check_nesting(body)
    except ValueError as error:
        return str(error)
    if not isinstance(body, dict):
        return request_body.BODY_SHAPE_MESSAGE
    return _checked_and_predicted(body)


def fast_path(data):
    """What the server reads now: `parse_body`, then as before."""
    try:
        body = parse_body(data)
    except ValueError as error:
        message = str(error)
        return "too deep to parse" if "too deeply to be parsed" in message else message
    return _checked_and_predicted(body)


def _checked_and_predicted(body):
    """The work limits, the compact arrays of the HTTP process and the worker's reading."""
    try:
        work = RequestLimits(max_batch=3, max_pixels=2400).check(body)
    except ValueError as error:
        return str(error)
    compact_body(body)
    try:
        name, inputs, layout = parse_predict_body(body, SPECS)
    except ValueError as error:
        return work, str(error)
    arrays = {key: (value.dtype, value.tolist()) for key, value in inputs.items()}
    return work, name, arrays, layout


def pixels(value, mask=None):
    """A one-pixel row request with image `value` (a JSON text) and a 0 mask."""
    mask = "[[[0]]]" if mask is None else mask
    return f'{{"instances": [{{"image": {value}, "mask": {mask}}}]}}'.encode()


BODIES = {
    "ints": pixels("[[[0, 128, 255]]]"),
    "ints in two rows": pixels("[[[1, 2, 3]], [[4, 5, 6]]]", "[[[1]], [[0]]]"),
    "batch of two": (
        b'{"instances": [{"image": [[[1, 2, 3]]], "mask": [[[0]]]},'
        b' {"image": [[[4, 5, 6]]], "mask": [[[1]]]}]}'
    ),
    "columnar": b'{"inputs": {"image": [[[[1, 2, 3]]], [[[4, 5, 6]]]], '
    b'"mask": [[[[0]]], [[[1]]]]}}',
    "whole floats": pixels("[[[0.0, 1.0, 255.0]]]"),
    "fractions": pixels("[[[0.5, 1, 2]]]"),
    "exponent": pixels("[[[1e2, 1, 2]]]"),
    "negative zero": pixels("[[[-0, 1, 2]]]"),
    "negative": pixels("[[[-1, 1, 2]]]"),
    "over 255": pixels("[[[256, 1, 2]]]"),
    "booleans": pixels("[[[true, false, true]]]"),
    "null": pixels("[[[null, 1, 2]]]"),
    "strings": pixels('[[["1", 1, 2]]]'),
    "NaN": pixels("[[[NaN, 1, 2]]]"),
    "Infinity": pixels("[[[Infinity, 1, 2]]]"),
    "float overflow": pixels("[[[1e400, 1, 2]]]"),
    "float underflow": pixels("[[[1e-400, 1, 2]]]"),
    "int64 max": pixels("[[[9223372036854775807, 1, 2]]]"),
    "uint64 max": pixels("[[[18446744073709551615, 1, 2]]]"),
    "past uint64": pixels("[[[18446744073709551616, 1, 2]]]"),
    "past int64 below": pixels("[[[-9223372036854775809, 1, 2]]]"),
    "huge integer": pixels("[[[" + "9" * 400 + ", 1, 2]]]"),
    "long decimal": pixels("[[[1.0000000000000000000001, 1, 2]]]"),
    "ragged": pixels("[[[1, 2, 3], [4, 5]]]"),
    # As many numbers as the shape of the first rows and columns holds (2 x 2 x 3).
    "ragged, full count": pixels("[[[1, 2, 3], [4, 5, 6]], [[7, 8, 9, 10, 11], [12]]]"),
    "ragged rows, full count": pixels("[[[1, 2, 3], [4, 5, 6]], [[7, 8, 9]], [[1, 2, 3]]]"),
    "a number after a list": pixels("[[[1, , 2] 3]]"),
    "leading zero": pixels("[[[01, 2, 3]]]"),
    "digits parted by a space": pixels("[[[1 2, 3, 4]]]"),
    "too shallow": pixels("[[1, 2, 3]]"),
    "wrong channels": pixels("[[[1, 2]]]"),
    "empty image": pixels("[]"),
    "no instances": b'{"instances": []}',
    "both layouts": b'{"instances": [], "inputs": {}}',
    "unknown signature": b'{"signature_name": "nope", "instances": [[[[0]]]]}',
    "missing mask": b'{"instances": [{"image": [[[0, 0, 0]]]}]}',
    "duplicate key": b'{"instances": [{"image": [[[9, 9, 9]]], "image": [[[1, 2, 3]]], '
    b'"mask": [[[0]]]}]}',
    "not an object": b"[1, 2, 3]",
    "a number": b"3",
    "null body": b"null",
    "syntax error": b'{"instances": [1, 2}',
    "trailing comma": b'{"instances": [1, 2,]}',
    "trailing text": b'{"instances": []} x',
    "empty": b"",
    "not UTF-8": b'{"instances": ["\xff"]}',
    "byte order mark": b"\xef\xbb\xbf" + pixels("[[[1, 2, 3]]]"),
    "UTF-16": pixels("[[[1, 2, 3]]]").decode().encode("utf-16"),
    "lone surrogate": b'{"instances": ["\\ud800"]}',
    "escaped quote": b'{"signature_name": "a\\"[[[", "instances": [[[[0]]]]}',
    "brackets in a string": b'{"signature_name": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',
    "closing brackets in a string": b'{"x": "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", '
    b'"instances": [[[[0]]]]}',
    "33 deep after closing brackets in a string": b'{"x": "'
    + b"]" * 40
    + b'", "instances": '
    + b"[" * 32
    + b"0"
    + b"]" * 32
    + b"}",
    "32 deep": b'{"instances": ' + b"[" * 31 + b"0" + b"]" * 31 + b"}",
    "33 deep": b'{"instances": ' + b"[" * 32 + b"0" + b"]" * 32 + b"}",
    "33 deep objects": b'{"a": ' * 33 + b"0" + b"}" * 33,
    "33 deep after a string escape": b'{"s": "\\n", "instances": '
    + b"[" * 32
    + b"0"
    + b"]" * 32
    + b"}",
    "2000 deep": b"[" * 2000 + b"]" * 2000,
    "100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "b64 files": json.dumps(client.bytes_request([PNG], [PNG])).encode(),
    "b64 columnar": json.dumps(client.bytes_request([PNG, PNG], [PNG, PNG], "inputs")).encode(),
    "bad b64": b'{"signature_name": "inpaint_bytes", "instances": '
    b'[{"image_bytes": {"b64": "!!"}, "mask_bytes": {"b64": "AA=="}}]}',
    "b64 with extra keys": b'{"signature_name": "inpaint_bytes", "instances": '
    b'[{"image_bytes": {"b64": "AA==", "x": 1}, "mask_bytes": {"b64": "AA=="}}]}',
    "plain strings": b'{"signature_name": "inpaint_bytes", "instances": '
    b'[{"image_bytes": "abc", "mask_bytes": "d\\u00e9f"}]}',
    "whitespace everywhere": b' \n{ "instances" :\t[ { "image" : [ [ [ 1 , 2 , 3 ] ] ] ,'
    b' "mask" : [ [ [ 1 ] ] ] } ] }\r\n',
}


@pytest.fixture(params=["orjson", "pixel arrays"])
def reader(request, monkeypatch):
    """Which fast reader takes the pixel lists: all of them read as arrays for "pixel arrays"."""
    if request.param == "pixel arrays":
        monkeypatch.setattr(pixel_json, "MIN_RUN_BYTES", 1)
    return request.param


@pytest.mark.parametrize("name", sorted(BODIES))
def test_every_body_reads_as_the_list_path_read_it(name, reader):
    data = BODIES[name]
    assert fast_path(data) == list_path(data)


def large_bodies():
    """Bodies of real size, whose pixel lists `pixel_json` reads as arrays."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (2, 40, 30, 3), dtype=np.uint8)
    mask = rng.integers(0, 2, (2, 40, 30), dtype=np.uint8)
    row = client.instances_request(image, mask)
    bodies = {
        "row": row,
        "columnar": client.inputs_request(image, mask),
        "spaced": json.dumps(row, indent=1),
        "bare instances": {"instances": image.tolist()},
        "bare inputs": {"inputs": image.tolist()},
        "over 255": {"instances": (image.astype(int) * 300).tolist()},
        "one instance over 255": {"instances": [image[0].tolist(), (image[1] * 2).tolist()]},
        "to the bytes signature": {
            "signature_name": "inpaint_bytes",
            "instances": row["instances"],
        },
        "pixels for files": {
            "signature_name": "inpaint_bytes",
            "instances": [{"image_bytes": image[0].tolist(), "mask_bytes": image[1].tolist()}],
        },
        "three images": {"instances": image[[0, 1, 0]].tolist()},
        "four images": {"instances": image[[0, 1, 0, 1]].tolist()},
        "large images": {"instances": np.tile(image[:1], (1, 2, 1, 1)).tolist()},
        "images for one input": {"instances": [{"image": image[0].tolist()}]},
        "extra key": {"instances": row["instances"], "extra": image.tolist()},
        "as a key": b'{"instances": [], ' + json.dumps(image.tolist()).encode() + b": 1}",
        "duplicate": b'{"inputs": ' + json.dumps(image.tolist()).encode() * 2 + b"}",
        "two inputs": (
            b'{"inputs": {"image": '
            + json.dumps(image.tolist()).encode()
            + b', "image": '
            + json.dumps(image.tolist()).encode()
            + b', "mask": [[[[0]]]]}}'
        ),
    }
    texts = {
        name: body
        if isinstance(body, bytes)
        else (json.dumps(body) if isinstance(body, dict) else body).encode()
        for name, body in bodies.items()
    }
    edits = {
        "ragged": (b"[", b"[[1,2,3],", 50),
        "leading zero": (b", 1", b", 01", 1),
        "negative": (b", 1", b", -1", 1),
        "float": (b", 1", b", 1.0", 1),
        "empty element": (b", 1", b", , 1", 1),
        "digits parted by a space": (b", 1", b", 1 1", 1),
        "trailing comma": (b"]", b",]", 7),
        "unclosed": (b"]]]", b"]]", 1),
        "19 digits": (b", 1", b", 1000000000000000000", 1),
        "18 digits": (b", 1", b", 100000000000000000", 1),
        "a string between": (b", 1", b', "1"', 1),
        "true": (b", 1", b", true", 1),
    }
    for name, (old, new, nth) in edits.items():
        parts = texts["row"].split(old)
        texts[name] = old.join(parts[:nth]) + new + old.join(parts[nth:])
    return texts


@pytest.mark.parametrize("name", sorted(large_bodies()))
def test_large_bodies_read_as_the_list_path_read_them(name):
    data = large_bodies()[name]
    assert fast_path(data) == list_path(data)


def test_arrays_are_named_as_the_lists_they_were_read_from():
    message = fast_path(large_bodies()["bare instances"])[1]
    assert message.endswith("instance 0 has list"), message
    message = fast_path(large_bodies()["pixels for files"])[1]
    assert message.endswith("got 248"), message


def test_pixel_lists_of_large_bodies_are_read_as_arrays():
    data = large_bodies()["row"]
    body = pixel_json.parse_with_pixel_arrays(data)
    image = body["instances"][1]["image"]
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.shape == (40, 30, 3)
    np.testing.assert_array_equal(image, np.array(json.loads(data)["instances"][1]["image"]))
    instances = pixel_json.parse_with_pixel_arrays(large_bodies()["bare instances"])["instances"]
    assert isinstance(instances, list) and [item.shape for item in instances] == [(40, 30, 3)] * 2
    for name in ("ragged", "negative", "float"):  # in the first image only
        instance = pixel_json.parse_with_pixel_arrays(large_bodies()[name])["instances"][0]
        assert isinstance(instance["image"], list), name
        assert isinstance(instance["mask"], np.ndarray), name
    for name in ("as a key", "extra key", "duplicate", "leading zero"):
        assert pixel_json.parse_with_pixel_arrays(large_bodies()[name]) is None, name


def test_pixel_arrays_take_large_values_and_keep_compact_dtypes():
    values = [[[0, 255, 7]], [[100000000000000000, 3, 999999999999999999]]]
    array = pixel_json.read_array(json.dumps(values).encode())
    assert array.dtype == np.int64 and array.tolist() == values
    assert pixel_json.read_array(b"[[[0,255]]]").dtype == np.uint8
    assert pixel_json.read_array(b"[[1,2]]") is None  # 2 deep: left to orjson
    for text in (b"[[[1000000000000000000]]]", b"[[[1,,2]3]]", b"[[[1]]],[[[2]]]", b"[[[1 2]]]"):
        assert pixel_json.read_array(text) is None, text


def test_a_real_request_reads_as_the_list_path_read_it():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (2, 9, 7, 3), dtype=np.uint8)
    mask = rng.integers(0, 2, (2, 9, 7), dtype=np.uint8)
    for body in (client.instances_request(image, mask), client.inputs_request(image, mask)):
        data = json.dumps(body).encode()
        _, _, inputs, _ = fast_path(data)
        assert fast_path(data) == list_path(data)
        np.testing.assert_array_equal(np.array(inputs["image"][1], np.uint8), image)


def test_pixel_bodies_are_parsed_without_json(monkeypatch):
    def refuse(data):
        raise AssertionError("json.loads was called")

    monkeypatch.setattr(request_body.json, "loads", refuse)
    for name in ("ints", "batch of two", "b64 files", "escaped quote", "duplicate key"):
        assert isinstance(parse_body(BODIES[name]), dict)


def test_integers_past_64_bits_stay_integers():
    body = parse_body(BODIES["past uint64"])
    value = body["instances"][0]["image"][0][0][0]
    assert type(value) is int and value == 2**64


def test_the_nesting_read_from_the_bytes_counts_lists_and_objects_outside_strings():
    assert request_body._bracket_depth(b'{"a": [[1], {"b": [2]}], "c": "[[[["}') == 4
    assert request_body._bracket_depth(b'["]]]]", [[]]]') == 3
    assert request_body._bracket_depth(b"3") == 0


def outputs_cases():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (2, 3, 4, 3), dtype=np.uint8)
    return {
        "uint8": {"inpainted": image},
        "int64 extremes": {"x": np.array([[np.iinfo(np.int64).min, np.iinfo(np.int64).max]])},
        "uint64 max": {"x": np.array([[np.iinfo(np.uint64).max]], np.uint64)},
        "float32": {"x": np.array([[0.1, 1e-5, 3.4e38, -0.0]], np.float32)},
        "float64": {"x": np.array([[0.1, 1e-300, 5e-324, 123456789.123]])},
        "float16": {"x": np.array([[0.1, 65504.0]], np.float16)},
        "NaN": {"x": np.array([[np.nan, np.inf, -np.inf, 1.5]], np.float32)},
        "bool": {"x": np.array([[True, False]])},
        "not contiguous": {"inpainted": image[:, ::2, ::-1]},
        "files": {"inpainted_bytes": np.array([PNG, b"\x00\xff"], object)},
        "strings": {"x": np.array([["d\xe9f".encode(), b"a"]], object)},
        "two outputs": {"inpainted": image, "score": np.array([0.25, 2.0], np.float32)},
        "empty": {"x": np.zeros((2, 0, 3), np.uint8)},
    }


@pytest.mark.parametrize("name", sorted(outputs_cases()))
@pytest.mark.parametrize("layout", ["row", "columnar"])
def test_answers_read_back_as_the_list_path_wrote_them(name, layout):
    outputs = outputs_cases()[name]
    before = json.dumps(encode_predict_response(outputs, layout), separators=(",", ":"))
    after = predict_response_bytes(outputs, layout)
    assert isinstance(after, bytes)
    # NaN and Infinity are no JSON numbers: compared as the text `json` writes for them.
    assert repr(json.loads(after)) == repr(json.loads(before))


def test_an_image_answer_is_the_same_text_and_decodes_to_the_image():
    image = np.random.default_rng(2).integers(0, 256, (1, 5, 6, 3), dtype=np.uint8)
    before = json.dumps(encode_predict_response({"inpainted": image}, "row"), separators=(",", ":"))
    after = predict_response_bytes({"inpainted": image}, "row")
    assert after == before.encode()
    np.testing.assert_array_equal(client.decode_response(json.loads(after)), image)


def test_file_answers_carry_the_files():
    answer = json.loads(predict_response_bytes({"inpainted_bytes": np.array([PNG], object)}, "row"))
    assert base64.b64decode(answer["predictions"][0]["b64"]) == PNG


def test_frozen_startup_objects_are_kept_and_new_garbage_is_still_collected():
    class Node:
        pass

    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 0
        cycle = Node()
        cycle.self = cycle
        alive = weakref.ref(cycle)
        del cycle
        release_free_memory()
        assert alive() is None
    finally:
        gc.unfreeze()
