"""`keras-inpaint serve` and bad input: every case gets a 4xx `{"error": ...}` that names the
problem and the fix, or works by the rule docs/SERVING.md states. One server on 127.0.0.1
serves a tiny fully convolutional export (max side 96 px) for the whole module."""

import base64
import io
import json
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image
from serving.serving_support import keras_reference, photo_and_hole
from test_case import tiny_fully_convolutional

from keras_inpaint.export import export_saved_model
from keras_inpaint.serving import client
from keras_inpaint.serving.local_server import LocalServer

pytestmark = pytest.mark.large

MAX_SIDE = 96


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad_input")
    model = tiny_fully_convolutional()
    export_saved_model(model, base, name="fcn", max_side=MAX_SIDE)
    with LocalServer([base / "fcn"], log_path=base / "server.log") as server:
        server.model = model
        yield server


def post(server, body, content_type="application/json"):
    """`(status, decoded JSON answer)`; error statuses are returned, not raised."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{server.url}/v1/models/fcn:predict",
        data=data,
        method="POST",
        headers={"Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def b64(data):
    return {"b64": base64.b64encode(data).decode("ascii")}


def files_body(image_files, mask_files):
    return {
        "signature_name": "inpaint_bytes",
        "inputs": {
            "image_bytes": [b64(f) for f in image_files],
            "mask_bytes": [b64(f) for f in mask_files],
        },
    }


def jpeg(pixels, quality=95):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


IMAGE, MASK = photo_and_hole(1, 40, 48, seed=3)
PNG, MASK_PNG = client.encode_png(IMAGE[0]), client.encode_png(MASK[0])
ROW = {"image": IMAGE[0].tolist(), "mask": (MASK[0] != 0).astype(int).tolist()}


def with_image(image):
    return {"instances": [{"image": image, "mask": [[[1]]]}]}


def corrupt_png():
    data = bytearray(PNG)
    data[60:70] = bytes(10)  # inside the first IDAT chunk: its CRC no longer matches
    return bytes(data)


# (case, body, content type, message the 400 answer must contain)
REFUSED = [
    (
        "wrong rank",
        {"inputs": {"image": ROW["image"], "mask": ROW["mask"]}},
        None,
        "must have shape [-1, -1, -1, 3] (batch axis first); got [40, 48, 3]",
    ),
    ("one channel", with_image([[[7]]]), None, "must have shape [-1, -1, -1, 3]"),
    ("four channels (RGBA)", with_image([[[7, 7, 7, 255]]]), None, "got [1, 1, 1, 4]"),
    (
        "floats in [0, 1]",
        with_image([[[0.5, 0.25, 1.0]]]),
        None,
        "multiply an image in [0, 1] by 255",
    ),
    ("floats in [0, 255]", with_image([[[12.0, 200.5, 3.0]]]), None, "send integers in 0..255"),
    ("negative pixel", with_image([[[-3, 0, 0]]]), None, "values must lie in [0, 255]; got -3..0"),
    (
        "pixel over 255",
        with_image([[[256, 0, 0]]]),
        None,
        "values must lie in [0, 255]; got 0..256",
    ),
    ("integer too large", with_image([[[10**30, 0, 0]]]), None, "too large for any integer type"),
    ("string pixel", with_image([[["red", 0, 0]]]), None, "not numbers"),
    ("null image", {"instances": [{"image": None, "mask": [[[0]]]}]}, None, "not numbers"),
    (
        "NaN (Python's json writes it)",
        b'{"instances": [{"image": [[[NaN, 0, 0]]], "mask": [[[0]]]}]}',
        None,
        "got NaN or Infinity",
    ),
    (
        "Infinity",
        b'{"instances": [{"image": [[[Infinity, 0, 0]]], "mask": [[[1]]]}]}',
        None,
        "got NaN or Infinity",
    ),
    (
        "mask of another size",
        {"instances": [{"image": ROW["image"], "mask": ROW["mask"][:20]}]},
        None,
        "the mask must have the same batch size, height and width",
    ),
    (
        "mask file of another size",
        files_body([PNG], [client.encode_png(MASK[0, :20])]),
        None,
        "the mask must have the same batch size, height and width",
    ),
    (
        "image over the export's max side",
        {
            "inputs": {
                "image": np.zeros((1, 1, MAX_SIDE + 1, 3), int).tolist(),
                "mask": np.ones((1, 1, MAX_SIDE + 1, 1), int).tolist(),
            }
        },
        None,
        f"at most {MAX_SIDE} px on a side",
    ),
    ("empty instances", {"instances": []}, None, '"instances" must be a non-empty list'),
    (
        "empty columns",
        {"inputs": {"image": [], "mask": []}},
        None,
        "must have shape [-1, -1, -1, 3]",
    ),
    ("zero-width image", {"inputs": {"image": [[[]]], "mask": [[[]]]}}, None, "must have shape"),
    ("truncated PNG", files_body([PNG[: len(PNG) // 2]], [MASK_PNG]), None, "Invalid PNG data"),
    ("corrupt PNG", files_body([corrupt_png()], [MASK_PNG]), None, "Invalid PNG data"),
    ("truncated JPEG", files_body([jpeg(IMAGE[0])[:600]], [MASK_PNG]), None, "Invalid JPEG data"),
    (
        "non-image bytes",
        files_body([b"%PDF-1.4 not an image"], [MASK_PNG]),
        None,
        "Unknown image file format",
    ),
    ("empty file", files_body([b""], [MASK_PNG]), None, "Input is empty"),
    (
        "invalid base64",
        {
            "signature_name": "inpaint_bytes",
            "instances": [{"image_bytes": {"b64": "%%%"}, "mask_bytes": {"b64": ""}}],
        },
        None,
        "not valid base64",
    ),
    ("two images, one mask", files_body([PNG, PNG], [MASK_PNG]), None, "give one mask per image"),
    ("malformed JSON", b'{"instances": [', None, "the request body is not valid JSON"),
    (
        "malformed JSON, form-encoded",
        b'{"instances": [',
        "application/x-www-form-urlencoded",
        "the request body is not valid JSON",
    ),
    ("JSON array body", b"[1, 2]", None, "must be a JSON object"),
    (
        "both instances and inputs",
        {"instances": [ROW], "inputs": {}},
        None,
        'exactly one of "instances"',
    ),
    (
        "unknown signature",
        {"signature_name": "predict", "instances": [ROW]},
        None,
        "serving signature 'predict' is not found",
    ),
    (
        "nested 800 deep",
        b'{"instances": ' + b"[" * 800 + b"]" * 800 + b"}",
        None,
        "nests lists or objects more than 32 deep",
    ),
    ("nested 100000 deep", b"[" * 100000 + b"]" * 100000, None, "nested too deeply"),
    (
        "nested 100000 deep, form-encoded",
        b"[" * 100000 + b"]" * 100000,
        "text/plain",
        "nests lists or objects too deeply",
    ),
]


@pytest.mark.parametrize(
    "body, content_type, message",
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_bad_input_gets_400_naming_the_problem(served, body, content_type, message):
    status, answer = post(served, body, content_type or "application/json")
    assert status == 400, answer
    assert set(answer) == {"error"} and message in answer["error"], answer


def test_mask_values_nonzero_is_hole_so_0_1_and_0_255_agree(served):
    hole = MASK[0] != 0
    answers = []
    for value in (1, 255, 7):
        body = {"instances": [{"image": ROW["image"], "mask": (hole * value).tolist()}]}
        status, answer = post(served, body)
        assert status == 200, answer
        answers.append(np.asarray(answer["predictions"], np.uint8))
    np.testing.assert_array_equal(answers[0], answers[1])
    np.testing.assert_array_equal(answers[0], answers[2])
    expected = keras_reference(served.model, IMAGE, MASK, step=4, tiled=False)
    assert np.abs(answers[0].astype(int) - expected.astype(int)).max() <= 1


def test_no_hole_gives_the_input_back_bit_exact(served):
    no_hole = np.zeros_like(MASK)
    status, answer = post(served, client.instances_request(IMAGE, no_hole))
    assert status == 200
    np.testing.assert_array_equal(np.asarray(answer["predictions"], np.uint8), IMAGE)
    status, answer = post(served, files_body([PNG], [client.encode_png(no_hole[0])]))
    assert status == 200
    np.testing.assert_array_equal(client.decode_response(answer)[0], IMAGE[0])


def test_an_all_hole_mask_is_filled_entirely_by_the_model(served):
    full = np.full_like(MASK, 255)
    status, answer = post(served, client.instances_request(IMAGE, full))
    assert status == 200
    filled = np.asarray(answer["predictions"], np.uint8)
    expected = keras_reference(served.model, IMAGE, full, step=4, tiled=False)
    # No known pixel: the hole fill has nothing to average, and must still give pixels.
    assert np.abs(filled.astype(int) - expected.astype(int)).max() <= 1
    assert not np.array_equal(filled, IMAGE)


def damaged(data, where):
    data = bytearray(data)
    start = int(len(data) * where)
    data[start : start + 40] = bytes(40)
    return bytes(data)


def test_a_damaged_jpeg_is_refused_or_decoded_as_libjpeg_recovers_it(served):
    # Rule: damage to a JPEG's headers is refused; damage inside its compressed data
    # is decoded by libjpeg's recovery, as image viewers do (those pixels are wrong).
    data = jpeg(IMAGE[0])
    status, answer = post(served, files_body([damaged(data, 0.5)], [MASK_PNG]))
    assert status == 400 and "Invalid JPEG data" in answer["error"], answer
    status, answer = post(served, files_body([damaged(data, 0.9)], [MASK_PNG]))
    assert status == 200, answer
    assert client.decode_response(answer)[0].shape == IMAGE[0].shape


def test_a_0_1_mask_file_is_read_as_a_0_1_mask(served):
    # Rule: a mask file of only 0 and 1 holds a 0/1 mask (1 = hole), as everywhere else.
    zero_one = client.encode_png((MASK[0] != 0).astype(np.uint8))
    white = client.encode_png(np.where(MASK[0] != 0, 255, 0).astype(np.uint8))
    status, answer = post(served, files_body([PNG, PNG], [zero_one, white]))
    assert status == 200, answer
    from_zero_one, from_white = client.decode_response(answer)
    np.testing.assert_array_equal(from_zero_one, from_white)
    assert not np.array_equal(from_zero_one, IMAGE[0])


def test_the_client_refuses_images_in_0_1_cast_to_uint8():
    unit = (IMAGE / 255.0).round().astype(np.uint8)
    with pytest.raises(ValueError, match="an image in \\[0, 1\\] cast to uint8"):
        client.instances_request(unit, MASK)
    with pytest.raises(ValueError, match="must be uint8"):
        client.instances_request(IMAGE / 255.0, MASK)
