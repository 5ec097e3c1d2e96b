"""TF Serving's APIs besides REST predict in `keras-inpaint serve`: the gRPC PredictionService
(`--grpc-port`), called through TF Serving's own Python stub (the same pixels as the REST route,
the export's signatures as metadata, TF Serving's status codes for bad requests), and the v1
REST routes for versions and metadata."""

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from serving.serving_support import photo_and_hole, run_curl_blocks
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from test_case import tiny_fully_convolutional

from keras_inpaint.export import export_saved_model
from keras_inpaint.serving import client
from keras_inpaint.serving.grpc_service import output_tensor, request_body, tensor_value
from keras_inpaint.serving.local_server import LocalServer, free_port
from keras_inpaint.serving.request_body import parse_body
from keras_inpaint.serving.request_limits import compact_body
from keras_inpaint.serving.tf_serving_messages import MESSAGES


def real_tensor(message):
    """One of our TensorProtos as TensorFlow's own."""
    return tf.make_ndarray(tf.make_tensor_proto(0).FromString(message.SerializeToString()))


def test_tensor_protos_convert_both_ways():
    pixels = np.arange(24, dtype=np.uint8).reshape(1, 2, 4, 3)
    ours = MESSAGES["tensorflow.TensorProto"].FromString(
        tf.make_tensor_proto(pixels).SerializeToString()
    )
    value = tensor_value(ours, "image")
    assert value.dtype == np.uint8
    np.testing.assert_array_equal(value, pixels)
    as_ints = tf.make_tensor_proto(pixels)
    as_ints.ClearField("tensor_content")
    as_ints.int_val.extend(pixels.ravel().tolist())
    ours = MESSAGES["tensorflow.TensorProto"].FromString(as_ints.SerializeToString())
    np.testing.assert_array_equal(tensor_value(ours, "image"), pixels)
    files = MESSAGES["tensorflow.TensorProto"].FromString(
        tf.make_tensor_proto([b"\x89PNG", b"\xff\xd8"]).SerializeToString()
    )
    assert tensor_value(files, "image_bytes") == [{"b64": "iVBORw=="}, {"b64": "/9g="}]
    np.testing.assert_array_equal(real_tensor(output_tensor(pixels, False)), pixels)
    files = np.array([b"\x89PNG", b"\xff\xd8"], dtype=object)
    assert list(real_tensor(output_tensor(files, True))) == [b"\x89PNG", b"\xff\xd8"]


def test_request_bodies_are_what_the_rest_route_reads_from_the_lists():
    pixels = np.arange(24, dtype=np.uint8).reshape(1, 2, 4, 3)
    files = [{"b64": "iVBORw=="}]
    for inputs in (
        {"image": pixels, "mask": pixels[..., :1]},
        {"image": pixels.astype(np.int32), "scalar": 7},
        {"image": pixels.astype(np.int16) * 40},  # past 255: int64, as JSON reads it
        {"image": np.zeros((1, 0, 3), np.uint8), "mask": np.zeros((0,), np.uint8)},
        {"image_bytes": files},
        {"image": np.array([[np.nan, np.inf, 0.5]], np.float32)},
    ):
        lists = {
            name: value.tolist() if isinstance(value, np.ndarray) else value
            for name, value in inputs.items()
        }
        text = json.dumps({"signature_name": "serving_default", "inputs": lists}).encode()
        expected = compact_body(parse_body(text))
        body = request_body("serving_default", inputs)
        assert body.keys() == expected.keys() and body["inputs"].keys() == lists.keys()
        for name, value in body["inputs"].items():
            read = expected["inputs"][name]
            assert type(value) is type(read), name
            if isinstance(read, np.ndarray):
                assert value.dtype == read.dtype and value.shape == read.shape, name
                np.testing.assert_array_equal(value, read)
            else:
                assert value == read, name


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("grpc")
    version = export_saved_model(tiny_fully_convolutional(), base, name="fcn")
    port = free_port()
    options = {"workers": 1, "grpc_port": port}
    with LocalServer([base / "fcn"], log_path=base / "server.log", **options) as local:
        local.grpc_address = f"127.0.0.1:{port}"
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=60)
        yield local, prediction_service_pb2_grpc.PredictionServiceStub(channel), version
        channel.close()


def predict_request(signature="serving_default", **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "fcn"
    request.model_spec.signature_name = signature
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def metadata_request(field):
    """A GetModelMetadata request for the served fcn's `field`."""
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "fcn"
    request.metadata_field.append(field)
    return request


def rest_pixels(local, image, hole):
    answer = client.predict(local.url, "fcn", client.instances_request(image, hole))
    return np.array(answer["predictions"], np.uint8)


@pytest.mark.large
def test_predict_answers_the_rest_pixels_for_both_signatures(served):
    local, stub, _ = served
    image, hole = photo_and_hole(2, 20, 24, seed=4)
    expected = rest_pixels(local, image, hole)
    response = stub.Predict(predict_request(image=image, mask=hole), timeout=120)
    np.testing.assert_array_equal(tf.make_ndarray(response.outputs["inpainted"]), expected)
    assert (response.model_spec.name, response.model_spec.version.value) == ("fcn", 1)
    assert response.model_spec.signature_name == "serving_default"

    files = [client.encode_png(item) for item in image]
    masks = [client.encode_png(item) for item in hole]
    request = predict_request("inpaint_bytes", image_bytes=files, mask_bytes=masks)
    request.model_spec.version.value = 1
    request.output_filter.append("inpainted_bytes")
    response = stub.Predict(request, timeout=120)
    pngs = tf.make_ndarray(response.outputs["inpainted_bytes"])
    np.testing.assert_array_equal(np.stack([client.decode_image(item) for item in pngs]), expected)


@pytest.mark.large
def test_metadata_is_the_exports_signature_def_map(served):
    _, stub, version = served
    response = stub.GetModelMetadata(metadata_request("signature_def"), timeout=60)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    saved_model = saved_model_pb2.SavedModel.FromString((version / "saved_model.pb").read_bytes())
    assert dict(signatures.signature_def) == dict(saved_model.meta_graphs[0].signature_def)
    assert response.model_spec.version.value == 1


@pytest.mark.large
@pytest.mark.parametrize(
    "change, code, message",
    [
        (lambda r: setattr(r.model_spec, "name", "other"), "NOT_FOUND", "model 'other' is not"),
        (lambda r: r.model_spec.version.__setattr__("value", 7), "NOT_FOUND", "no version 7"),
        (lambda r: r.inputs.pop("mask"), "INVALID_ARGUMENT", "keys ['image', 'mask']"),
        (lambda r: r.output_filter.append("x"), "INVALID_ARGUMENT", "output_filter names ['x']"),
        (
            lambda r: r.inputs["image"].CopyFrom(tf.make_tensor_proto(np.zeros((1, 4, 4, 3)))),
            "INVALID_ARGUMENT",
            "it takes integers only",
        ),
    ],
)
def test_bad_requests_get_tf_servings_status_and_the_rest_message(served, change, code, message):
    _, stub, _ = served
    image, hole = photo_and_hole(1, 8, 8)
    request = predict_request(image=image, mask=hole)
    change(request)
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(request, timeout=60)
    assert error.value.code() == getattr(grpc.StatusCode, code)
    assert message in error.value.details()


@pytest.mark.large
def test_metadata_asks_for_the_signature_def_field(served):
    _, stub, _ = served
    with pytest.raises(grpc.RpcError) as error:
        stub.GetModelMetadata(metadata_request("labels"), timeout=60)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "signature_def" in error.value.details()


def get(url):
    """`(status, decoded JSON)` of a GET or POST (with a JSON body) request."""
    try:
        with urllib.request.urlopen(url, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.large
def test_v1_version_and_metadata_routes(served):
    local, _, version = served
    base = f"{local.url}/v1/models/fcn"
    status, body = get(base + "/versions/1")
    assert status == 200 and body["model_version_status"][0]["version"] == "1"
    assert get(base + "/versions/2")[0] == 404
    saved_model = saved_model_pb2.SavedModel.FromString((version / "saved_model.pb").read_bytes())
    expected = saved_model.meta_graphs[0].signature_def
    for path in ("/metadata", "/versions/1/metadata"):
        status, body = get(base + path)
        assert status == 200
        assert body["model_spec"] == {"name": "fcn", "signature_name": "", "version": "1"}
        signatures = body["metadata"]["signature_def"]["signature_def"]
        assert set(signatures) == set(expected)
        image = signatures["serving_default"]["inputs"]["image"]
        assert image["name"] == expected["serving_default"].inputs["image"].name
        assert image["dtype"] == "DT_UINT8"
        assert [dim["size"] for dim in image["tensor_shape"]["dim"]] == ["-1", "-1", "-1", "3"]
    status, body = get(base + "/versions/3/metadata")
    assert status == 404 and "serves version 1" in body["error"]


@pytest.mark.large
def test_v1_predict_at_a_version(served):
    local, _, _ = served
    image, hole = photo_and_hole(1, 12, 12, seed=8)
    data = json.dumps(client.instances_request(image, hole)).encode()
    answers = {}
    for number in (1, 5):
        request = urllib.request.Request(
            f"{local.url}/v1/models/fcn/versions/{number}:predict", data=data
        )
        answers[number] = get(request)
    assert answers[1][0] == 200
    np.testing.assert_array_equal(
        np.array(answers[1][1]["predictions"]), rest_pixels(local, image, hole)
    )
    assert answers[5][0] == 404 and "serves version 1" in answers[5][1]["error"]


def docs_section():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "SERVING.md").read_text()
    return docs.split("\n## TF Serving's gRPC API and metadata\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.large
def test_the_examples_of_the_docs_run_against_the_server(served, tmp_path):
    local, _, _ = served
    blocks = re.findall(r"```bash[^\n]*\n(.*?)```", docs_section(), re.S)
    assert len(blocks) == 1 and blocks[0].strip().endswith("/v1/models/quickstart/metadata")
    replacements = {"http://localhost:8501": local.url, "/models/quickstart/": "/models/fcn/"}
    (answer,) = run_curl_blocks(blocks, replacements, tmp_path)
    assert json.loads(answer)["model_spec"]["name"] == "fcn"

    (example,) = re.findall(r"```python[^\n]*\n(.*?)```", docs_section(), re.S)
    example = example.replace('"localhost:8500"', repr(local.grpc_address))
    example = example.replace('"quickstart"', '"fcn"')
    image, hole = photo_and_hole(1, 20, 28, seed=21)
    (tmp_path / "photo.png").write_bytes(client.encode_png(image[0]))
    (tmp_path / "hole.png").write_bytes(client.encode_png(hole[0]))
    completed = subprocess.run(
        [sys.executable, "-c", example], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    filled = client.decode_image((tmp_path / "filled.png").read_bytes())
    np.testing.assert_array_equal(filled, rest_pixels(local, image, hole)[0])
