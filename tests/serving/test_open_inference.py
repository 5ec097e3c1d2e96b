"""The Open Inference Protocol (KServe v2): the request and answer conversions, and the
`/v2` routes of `keras-inpaint serve` answering the same pixels as TF Serving's `/v1` route,
through raw JSON and through Triton's own HTTP client (binary tensors)."""

import base64
import json
import re
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from serving.serving_support import photo_and_hole, run_curl_blocks
from test_case import tiny_fully_convolutional

from keras_inpaint import contract
from keras_inpaint.export import export_saved_model
from keras_inpaint.serving import client
from keras_inpaint.serving.local_server import LocalServer
from keras_inpaint.serving.open_inference import (
    HEADER_LENGTH,
    check_requested_outputs,
    infer_response,
    model_metadata,
    predict_body,
    split_body,
)

ZERO_IMAGE, ZERO_MASK = np.zeros((1, 2, 2, 3), np.uint8), np.zeros((1, 2, 2, 1), np.uint8)


def uint8_tensor(name, array):
    return {
        "name": name,
        "shape": list(array.shape),
        "datatype": "UINT8",
        "data": array.ravel().tolist(),
    }


def bytes_tensor(name, files):
    data = [base64.b64encode(item).decode() for item in files]
    return {"name": name, "shape": [len(files)], "datatype": "BYTES", "data": data}


def length_prefixed(files):
    return b"".join(struct.pack("<I", len(item)) + item for item in files)


# The conversions, without a server.


def test_a_json_uint8_request_becomes_the_columnar_v1_body():
    image, hole = photo_and_hole(2, 8, 12)
    request = {"inputs": [uint8_tensor("mask", hole), uint8_tensor("image", image)]}
    body, signature = predict_body(request, b"")
    assert signature == contract.SIGNATURE
    v1 = json.loads(body)
    assert v1["signature_name"] == contract.SIGNATURE
    np.testing.assert_array_equal(np.array(v1["inputs"]["image"]), image)
    np.testing.assert_array_equal(np.array(v1["inputs"]["mask"]), hole)


def test_binary_uint8_and_bytes_tensors_are_read_in_order():
    image, hole = photo_and_hole(1, 4, 4)
    header = {
        "inputs": [
            {"name": "image", "shape": [1, 4, 4, 3], "datatype": "UINT8",
             "parameters": {"binary_data_size": image.size}},
            {"name": "mask", "shape": [1, 4, 4, 1], "datatype": "UINT8",
             "parameters": {"binary_data_size": hole.size}},
        ]
    }  # fmt: skip
    text = json.dumps(header).encode()
    data = text + image.tobytes() + hole.tobytes()
    request, binary = split_body(data, str(len(text)))
    body, _ = predict_body(request, binary)
    np.testing.assert_array_equal(np.array(json.loads(body)["inputs"]["image"]), image)
    np.testing.assert_array_equal(np.array(json.loads(body)["inputs"]["mask"]), hole)

    files = [b"\x89PNG first", b"second file"]
    header = {
        "inputs": [
            {"name": "image_bytes", "shape": [2], "datatype": "BYTES",
             "parameters": {"binary_data_size": len(length_prefixed(files))}},
            bytes_tensor("mask_bytes", files),
        ]
    }  # fmt: skip
    body, signature = predict_body(header, length_prefixed(files))
    assert signature == contract.BYTES_SIGNATURE
    v1 = json.loads(body)["inputs"]
    assert [base64.b64decode(item["b64"]) for item in v1["image_bytes"]] == files
    assert [base64.b64decode(item["b64"]) for item in v1["mask_bytes"]] == files


@pytest.mark.parametrize(
    "request_, message",
    [
        ({"inputs": [uint8_tensor("image", ZERO_IMAGE)]},
         "send 'image' and 'mask' or 'image_bytes' and 'mask_bytes'"),
        ({"inputs": [dict(uint8_tensor("image", ZERO_IMAGE), datatype="FP32"),
                     uint8_tensor("mask", ZERO_MASK)]},
         "input 'image' has datatype UINT8; got 'FP32'"),
        ({"inputs": [dict(uint8_tensor("image", ZERO_IMAGE), shape=[1, 2, 2, 2]),
                     uint8_tensor("mask", ZERO_MASK)]},
         "input 'image' has 12 values for its shape [1, 2, 2, 2] (8 values)"),
        ({"inputs": [bytes_tensor("image_bytes", [b"a"]),
                     dict(bytes_tensor("mask_bytes", [b"a"]), data=["not base64!"])]},
         "input 'mask_bytes': a BYTES element is not valid base64"),
        ({"inputs": [uint8_tensor("image", np.zeros((1, 1, 1, 3), np.uint8)),
                     {"name": "mask", "shape": [1, 1, 1, 1], "datatype": "UINT8",
                      "parameters": {"binary_data_size": 5}}]},
         "binary_data_size 5 does not fit the 0 bytes"),
    ],
)  # fmt: skip
def test_bad_requests_name_the_problem(request_, message):
    with pytest.raises(ValueError) as error:
        predict_body(request_, b"")
    assert message in str(error.value)


def test_unclaimed_binary_data_and_bad_headers_are_refused():
    request = {"inputs": [uint8_tensor("image", np.zeros((1, 1, 1, 3), np.uint8)),
                          uint8_tensor("mask", np.zeros((1, 1, 1, 1), np.uint8))]}  # fmt: skip
    with pytest.raises(ValueError, match="3 bytes of binary data that no input"):
        predict_body(request, b"abc")
    with pytest.raises(ValueError, match="byte length of the JSON part"):
        split_body(b"{}", "10")
    with pytest.raises(ValueError, match='"inputs" list'):
        split_body(b'{"instances": []}')
    with pytest.raises(ValueError, match="is not an output of this request"):
        check_requested_outputs({"outputs": [{"name": "inpainted"}]}, contract.BYTES_SIGNATURE)


def test_answers_in_json_and_in_binary():
    pixels = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
    answer = {"outputs": pixels.tolist()}
    content, length = infer_response(answer, {"id": "7"}, contract.SIGNATURE, "fcn", 3)
    assert length is None
    assert json.loads(content) == {
        "model_name": "fcn",
        "model_version": "3",
        "id": "7",
        "outputs": [
            {"name": "inpainted", "datatype": "UINT8", "shape": [2, 2, 2, 3],
             "data": pixels.ravel().tolist()}
        ],
    }  # fmt: skip
    asked = {"outputs": [{"name": "inpainted", "parameters": {"binary_data": True}}]}
    content, length = infer_response(answer, asked, contract.SIGNATURE, "fcn", 3)
    assert content[length:] == pixels.tobytes()
    assert json.loads(content[:length])["outputs"][0]["parameters"] == {"binary_data_size": 24}

    files = [b"one", b"two!"]
    answer = {"outputs": [{"b64": base64.b64encode(item).decode()} for item in files]}
    binary = {"parameters": {"binary_data_output": True}}
    content, length = infer_response(answer, binary, contract.BYTES_SIGNATURE, "fcn", 3)
    assert content[length:] == length_prefixed(files)
    content, length = infer_response(answer, {}, contract.BYTES_SIGNATURE, "fcn", 3)
    assert json.loads(content)["outputs"][0]["data"] == ["b25l", "dHdvIQ=="]


def test_model_metadata_lists_the_contract_tensors():
    metadata = model_metadata("fcn", 2)
    assert metadata["versions"] == ["2"]
    inputs = {item["name"]: (item["datatype"], item["shape"]) for item in metadata["inputs"]}
    assert inputs == {
        "image": ("UINT8", [-1, -1, -1, 3]),
        "mask": ("UINT8", [-1, -1, -1, 1]),
        "image_bytes": ("BYTES", [-1]),
        "mask_bytes": ("BYTES", [-1]),
    }
    assert [item["name"] for item in metadata["outputs"]] == ["inpainted", "inpainted_bytes"]


# The routes, on a running server.


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("oip")
    export_saved_model(tiny_fully_convolutional(), base, name="fcn")
    with LocalServer([base / "fcn"], log_path=base / "server.log", workers=1) as local:
        yield local


def call(method, url, body=None, headers=None):
    """`(status, headers, body bytes)` of one request."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def v1_pixels(served, image, hole):
    status, _, body = call(
        "POST", f"{served.url}/v1/models/fcn:predict", client.instances_request(image, hole)
    )
    assert status == 200, body
    return np.array(json.loads(body)["predictions"], np.uint8)


@pytest.mark.large
def test_health_metadata_and_readiness(served):
    assert call("GET", f"{served.url}/v2/health/live")[::2] == (200, b'{"live":true}')
    assert call("GET", f"{served.url}/v2/health/ready")[::2] == (200, b'{"ready":true}')
    status, _, body = call("GET", f"{served.url}/v2")
    assert status == 200 and json.loads(body)["name"] == "keras-inpaint"
    for path in ("/v2/models/fcn", "/v2/models/fcn/versions/1"):
        status, _, body = call("GET", served.url + path)
        assert status == 200 and json.loads(body) == model_metadata("fcn", 1)
        status, _, body = call("GET", served.url + path + "/ready")
        assert (status, json.loads(body)) == (200, {"name": "fcn", "ready": True})
    status, _, body = call("GET", f"{served.url}/v2/models/fcn/versions/4")
    assert status == 404 and "serves version 1" in json.loads(body)["error"]
    status, _, body = call("GET", f"{served.url}/v2/models/other/ready")
    assert status == 404 and "model 'other' is not served here" in json.loads(body)["error"]


@pytest.mark.large
def test_json_infer_answers_the_v1_pixels(served):
    image, hole = photo_and_hole(2, 16, 20, seed=3)
    request = {"id": "a1", "inputs": [uint8_tensor("image", image), uint8_tensor("mask", hole)]}
    for path in ("/v2/models/fcn/infer", "/v2/models/fcn/versions/1/infer"):
        status, _, body = call("POST", served.url + path, request)
        assert status == 200, body
        answer = json.loads(body)
        assert (answer["model_name"], answer["model_version"], answer["id"]) == ("fcn", "1", "a1")
        (output,) = answer["outputs"]
        assert (output["name"], output["datatype"], output["shape"]) == (
            "inpainted",
            "UINT8",
            [2, 16, 20, 3],
        )
        pixels = np.array(output["data"], np.uint8).reshape(output["shape"])
        np.testing.assert_array_equal(pixels, v1_pixels(served, image, hole))


@pytest.mark.large
def test_errors_keep_the_v1_checks(served):
    image, hole = photo_and_hole(1, 8, 8)
    bad = {"inputs": [uint8_tensor("image", image), uint8_tensor("mask", hole[..., :0])]}
    status, _, body = call("POST", f"{served.url}/v2/models/fcn/infer", bad)
    assert status == 400 and "input 'mask' must have shape" in json.loads(body)["error"]
    wrong = dict(uint8_tensor("image", image), data=[300] * image.size)
    request = {"inputs": [wrong, uint8_tensor("mask", hole)]}
    status, _, body = call("POST", f"{served.url}/v2/models/fcn/infer", request)
    assert status == 400 and "values must lie in [0, 255]" in json.loads(body)["error"]


@pytest.mark.large
def test_triton_client_with_binary_tensors_gets_the_v1_pixels(served):
    tritonclient_http = pytest.importorskip("tritonclient.http")
    image, hole = photo_and_hole(2, 24, 16, seed=5)
    triton = tritonclient_http.InferenceServerClient(served.url.removeprefix("http://"))
    assert triton.is_server_live() and triton.is_model_ready("fcn")
    assert triton.get_model_metadata("fcn")["versions"] == ["1"]

    inputs = [
        tritonclient_http.InferInput("image", list(image.shape), "UINT8"),
        tritonclient_http.InferInput("mask", list(hole.shape), "UINT8"),
    ]
    inputs[0].set_data_from_numpy(image)  # binary tensors, the client's default
    inputs[1].set_data_from_numpy(hole)
    result = triton.infer("fcn", inputs)
    np.testing.assert_array_equal(result.as_numpy("inpainted"), v1_pixels(served, image, hole))

    files = [client.encode_png(item) for item in image]
    masks = [client.encode_png(item) for item in hole]
    inputs = [
        tritonclient_http.InferInput("image_bytes", [2], "BYTES"),
        tritonclient_http.InferInput("mask_bytes", [2], "BYTES"),
    ]
    inputs[0].set_data_from_numpy(np.array(files, dtype=object))
    inputs[1].set_data_from_numpy(np.array(masks, dtype=object))
    outputs = [tritonclient_http.InferRequestedOutput("inpainted_bytes", binary_data=True)]
    result = triton.infer("fcn", inputs, outputs=outputs)
    decoded = np.stack([client.decode_image(item) for item in result.as_numpy("inpainted_bytes")])
    np.testing.assert_array_equal(decoded, v1_pixels(served, image, hole))


@pytest.mark.large
def test_a_binary_request_without_its_header_length_is_refused(served):
    image, hole = photo_and_hole(1, 4, 4)
    header = json.dumps({"inputs": [uint8_tensor("image", image), uint8_tensor("mask", hole)]})
    data = header.encode() + b"\x00\x01"
    status, _, body = call("POST", f"{served.url}/v2/models/fcn/infer", data)
    assert status == 400 and HEADER_LENGTH in json.loads(body)["error"]


ROOT = Path(__file__).resolve().parents[2]


def docs_section():
    docs = (ROOT / "docs" / "SERVING.md").read_text()
    return docs.split("\n## Open Inference Protocol (KServe v2)\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.large
def test_the_curl_examples_of_the_docs_run_against_the_server(served, tmp_path):
    blocks = re.findall(r"```bash[^\n]*\n(.*?)```", docs_section(), re.S)
    assert len(blocks) == 2
    replacements = {"http://localhost:8501": served.url, "/v2/models/quickstart": "/v2/models/fcn"}
    answers = run_curl_blocks(blocks, replacements, tmp_path)
    ready, metadata = answers[0].replace("}{", "}\n{").splitlines()
    assert json.loads(ready) == {"ready": True}
    assert json.loads(metadata) == model_metadata("fcn", 1)
    (output,) = json.loads(answers[1])["outputs"]
    assert output["shape"] == [1, 2, 3, 3] and output["data"][:3] == [255, 0, 0]


@pytest.mark.large
def test_the_triton_client_example_of_the_docs_runs_against_the_server(served, tmp_path):
    pytest.importorskip("tritonclient.http")
    (example,) = re.findall(r"```python[^\n]*\n(.*?)```", docs_section(), re.S)
    example = example.replace('"localhost:8501"', repr(served.url.removeprefix("http://")))
    example = example.replace('"quickstart"', '"fcn"')
    image, hole = photo_and_hole(1, 20, 28, seed=21)
    (tmp_path / "photo.png").write_bytes(client.encode_png(image[0]))
    (tmp_path / "hole.png").write_bytes(client.encode_png(hole[0]))
    completed = subprocess.run(
        [sys.executable, "-c", example], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    filled = client.decode_image((tmp_path / "filled.png").read_bytes())
    np.testing.assert_array_equal(filled, v1_pixels(served, image, hole)[0])
