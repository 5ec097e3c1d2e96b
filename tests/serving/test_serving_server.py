"""`keras-inpaint serve` end to end: one server on 127.0.0.1 with a free port serves a tiny
model per size rule and the smallest recipe of every zoo entry; requests go over loopback
only, and the server stops with the module (and by itself after 15 minutes at most)."""

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from serving.serving_support import (
    assert_close_and_known_exact,
    keras_reference,
    photo_and_hole,
    run_curl_blocks,
)
from test_case import tiny_context_encoder, tiny_fully_convolutional

from keras_inpaint import images
from keras_inpaint.export import SizeRule, export_saved_model
from keras_inpaint.resources import resource_dir
from keras_inpaint.serving import ServingError, client
from keras_inpaint.serving.predict_route import SMALL_BODY_BYTES
from keras_inpaint.serving.server_timing import read_server_timing
from keras_inpaint.training.recipes import build_inpainter, load_recipe
from keras_inpaint.zoo import zoo_entries

pytestmark = pytest.mark.large

ROOT = Path(__file__).resolve().parents[2]
MAX_REQUEST_BYTES = 8 * 1024 * 1024
SIGNATURE_TENSORS = {
    "serving_default": {
        ("inputs", "image"): "DT_UINT8",
        ("inputs", "mask"): "DT_UINT8",
        ("outputs", "inpainted"): "DT_UINT8",
    },
    "inpaint_bytes": {
        ("inputs", "image_bytes"): "DT_STRING",
        ("inputs", "mask_bytes"): "DT_STRING",
        ("outputs", "inpainted_bytes"): "DT_STRING",
    },
}


def zoo_picks():
    """Per zoo entry, the buildable recipe with the smallest images (then fewest generator
    parameters): every architecture of the zoo, at the size its recipes define."""
    by_entry = {}
    for entry in zoo_entries():  # the stored counts: no network built to rank them
        family, recipe = entry["recipe"].split("/")
        generator_params = entry["networks"]["generator"]["trainable_params"]
        by_entry.setdefault(family, []).append((entry["image_size"], generator_params, recipe))
    picks = {}
    for family, candidates in sorted(by_entry.items()):
        for _, _, recipe in sorted(candidates):
            try:
                model = build_inpainter(load_recipe(f"{family}/{recipe}"), compile=False)
            except FileNotFoundError:  # recipes that start from another run's weights
                continue
            picks[f"{family}_{recipe}"] = (family, model)
            break
    return picks


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(method, url, body=None, headers=None):
    """`(status, decoded JSON)` of one request; error statuses are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class Server:
    def __init__(self, port, models, zoo, shown):
        self.url = f"http://127.0.0.1:{port}"
        self.models = models
        self.zoo = zoo  # served name -> zoo entry
        self.shown = shown  # served name -> `saved_model_cli show --all` output

    def predict(self, name, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return http("POST", f"{self.url}/v1/models/{name}:predict", data, headers)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("served")
    models = {"fcn": tiny_fully_convolutional(), "tiny_center": tiny_context_encoder("center")}
    zoo = {}
    for name, (entry, model) in zoo_picks().items():
        models[name], zoo[name] = model, entry
    # A first fcn version with other weights: the server must pick version 2.
    export_saved_model(tiny_fully_convolutional(), base, name="fcn")
    shows = {}
    for name, model in models.items():
        export_dir = export_saved_model(model, base, name=name)
        if name in zoo:
            shows[name] = subprocess.Popen(
                ["saved_model_cli", "show", "--dir", str(export_dir), "--all"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
    port = free_port()
    command = [sys.executable, "-m", "keras_inpaint.cli", "serve", "--port", str(port)]
    command += ["--max-request-bytes", str(MAX_REQUEST_BYTES)]
    for name in models:
        command += ["--model-dir", str(base / name)]
    if shutil.which("timeout"):
        command = ["timeout", "--kill-after=30", "900", *command]
    log_path = base / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=base
        )
    try:
        shown = {name: show.communicate(timeout=300)[0] for name, show in shows.items()}
        running = Server(port, models, zoo, shown)
        deadline = time.monotonic() + 600  # generous: the other test worker shares the cores
        waiting = set(models)
        while waiting:
            assert process.poll() is None, log_path.read_text()[-5000:]
            assert time.monotonic() < deadline, log_path.read_text()[-5000:]
            for name in sorted(waiting):
                try:
                    if http("GET", f"{running.url}/v1/models/{name}")[0] == 200:
                        waiting.discard(name)
                except OSError:
                    break
            time.sleep(0.5)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        # The server's workers are in its process group: leave none behind.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def test_status_reports_the_highest_version(server):
    status, body = http("GET", f"{server.url}/v1/models/fcn")
    assert status == 200
    assert body == {
        "model_version_status": [
            {
                "version": "2",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    assert (
        client.model_status(server.url, "tiny_center")["model_version_status"][0]["version"] == "1"
    )


def test_every_zoo_entry_lists_both_signatures_and_serves_the_keras_pixels(server):
    entries = {path.name for path in resource_dir("models").iterdir() if path.is_dir()}
    assert sorted(server.zoo.values()) == sorted(entries)
    for name in server.zoo:
        shown = server.shown[name]
        for signature, tensors in SIGNATURE_TENSORS.items():
            block = shown.split(f"signature_def['{signature}']:", 1)[1].split("signature_def[", 1)[
                0
            ]
            for (kind, tensor), dtype in tensors.items():
                assert re.search(rf"{kind}\['{tensor}'\] tensor_info:\s+dtype: {dtype}", block), (
                    name,
                    signature,
                    tensor,
                )
        model = server.models[name]
        size = model.generator.input_shape[0][1]
        image, mask = photo_and_hole(2, size, size, seed=len(name))
        hole = (mask != 0).astype("float32")
        masked = images.uint8_to_model(image).numpy() * (1.0 - hole)
        composite = keras.ops.convert_to_numpy(model((masked, hole), training=False))
        expected = np.where(mask != 0, images.model_to_uint8(composite).numpy(), image)
        status, body = server.predict(name, client.instances_request(image, mask))
        assert status == 200, (name, body)
        assert_close_and_known_exact(
            np.asarray(body["predictions"], np.uint8), expected, image, mask
        )


def test_row_and_columnar_bodies_give_the_same_pixels_for_a_batch_of_3(server):
    image, mask = photo_and_hole(3, 40, 52, seed=7)
    rows = client.predict(server.url, "fcn", client.instances_request(image, mask))
    columns = client.predict(server.url, "fcn", client.inputs_request(image, mask))
    assert set(rows) == {"predictions"} and set(columns) == {"outputs"}
    by_rows, by_columns = client.decode_response(rows), client.decode_response(columns)
    assert by_rows.shape == (3, 40, 52, 3)
    np.testing.assert_array_equal(by_rows, by_columns)
    expected = keras_reference(server.models["fcn"], image, mask, step=4, tiled=False)
    assert_close_and_known_exact(by_rows, expected, image, mask)


@pytest.mark.parametrize("batch, side, parsed_by_http", [(1, 24, True), (2, 160, False)])
def test_answers_say_where_the_server_spent_the_time(server, batch, side, parsed_by_http):
    image, mask = photo_and_hole(batch, side, side, seed=side)
    body = json.dumps(client.instances_request(image, mask)).encode()
    # 2 x 160 x 160 is over the HTTP process's small-body limit: a worker parses it.
    assert (len(body) <= SMALL_BODY_BYTES) == parsed_by_http
    request = urllib.request.Request(f"{server.url}/v1/models/fcn:predict", body, method="POST")
    with urllib.request.urlopen(request, timeout=120) as answer:
        stages = read_server_timing(answer.headers.get_all("Server-Timing"))
    worker = {"parse", "model", "encode"}
    here = {"http-parse"} if parsed_by_http else set()
    assert set(stages) == worker | here | {"total"}
    assert min(stages.values()) >= 0 and stages["model"] > 0
    assert stages["total"] >= sum(stages[stage] for stage in worker | here)


@pytest.mark.parametrize("layout", ["instances", "inputs"])
def test_b64_png_in_and_out(server, layout):
    first, first_mask = photo_and_hole(1, 50, 77, seed=8)
    second, second_mask = photo_and_hole(1, 31, 40, seed=9)
    request = client.bytes_request(
        [first[0], client.encode_png(second[0])], [first_mask[0], second_mask[0] != 0], layout
    )
    response = client.predict(server.url, "context_encoder_builtin_64", request)
    key = "predictions" if layout == "instances" else "outputs"
    assert [set(item) for item in response[key]] == [{"b64"}, {"b64"}]
    assert base64.b64decode(response[key][0]["b64"]).startswith(b"\x89PNG")
    decoded = client.decode_response(response)
    model = server.models["context_encoder_builtin_64"]
    for pixels, image, mask in zip(
        decoded, (first, second), (first_mask, second_mask), strict=True
    ):
        expected = keras_reference(model, image, mask, step=64, tiled=True)
        assert_close_and_known_exact(pixels[None], expected, image, mask)


def test_an_odd_size_through_a_fully_convolutional_model(server):
    image, mask = photo_and_hole(1, 250, 333, seed=10)
    response = client.predict(server.url, "fcn", client.instances_request(image, mask))
    expected = keras_reference(server.models["fcn"], image, mask, step=4, tiled=False)
    assert_close_and_known_exact(client.decode_response(response), expected, image, mask)


def test_a_context_encoder_at_an_odd_size_is_tiled_never_stretched(server):
    name = "context_encoder_builtin_64"
    assert SizeRule.for_generator(server.models[name].generator) == SizeRule("tiled", 64, 64)
    image, mask = photo_and_hole(1, 250, 333, seed=11)
    response = client.predict(server.url, name, client.inputs_request(image, mask))
    expected = keras_reference(server.models[name], image, mask, step=64, tiled=True)
    assert_close_and_known_exact(client.decode_response(response), expected, image, mask)


def test_a_center_context_encoder_refuses_other_sizes_with_the_rule(server):
    image, mask = photo_and_hole(1, 250, 333, seed=12)
    with pytest.raises(ServingError) as error:
        client.predict(server.url, "tiny_center", client.instances_request(image, mask))
    assert error.value.status == 400
    assert "must have shape [-1, 32, 32, 3]" in error.value.message
    with pytest.raises(ServingError) as error:
        client.predict(server.url, "tiny_center", client.bytes_request([image[0]], [mask[0]]))
    assert error.value.status == 400
    assert error.value.message.startswith("this model takes 32x32 images only")


TWO_BY_TWO = [[[0, 0, 0], [9, 9, 9]], [[99, 99, 99], [255, 255, 255]]]
HOLE = [[[1], [0]], [[0], [0]]]


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"instances": [', "the request body is not valid JSON"),
        (b"[1, 2]", "the request body must be a JSON object"),
        ({"signature_name": "nope", "instances": []}, "serving signature 'nope' is not found"),
        ({"instances": [{"image": TWO_BY_TWO}]}, "each instance must be an object with the keys"),
        ({"inputs": {"image": [TWO_BY_TWO]}}, '"inputs" must be an object with the keys'),
        ({"instances": [], "inputs": {}}, 'exactly one of "instances"'),
        ({"predict": []}, 'exactly one of "instances"'),
        ({"instances": [{"image": [[[0.5, 0, 0]]], "mask": [[[0]]]}]}, "takes integers only"),
        (
            {"instances": [{"image": [[[256, 0, 0]]], "mask": [[[0]]]}]},
            "values must lie in [0, 255]",
        ),
        (
            {"instances": [{"image": [[[0, 0]]], "mask": [[[0]]]}]},
            "must have shape [-1, -1, -1, 3]",
        ),
        ({"inputs": {"image": [[[[1, 2, 3]], [[1, 2]]]], "mask": [[[[0]]]]}}, "not a rectangular"),
        ({"instances": [{"image": TWO_BY_TWO, "mask": [[[1]]]}]}, "the mask must have the same"),
        (
            {
                "signature_name": "inpaint_bytes",
                "instances": [{"image_bytes": {"b64": "@@"}, "mask_bytes": {"b64": ""}}],
            },
            "not valid base64",
        ),
        (
            {
                "signature_name": "inpaint_bytes",
                "instances": [
                    {
                        "image_bytes": {"b64": "bm90IGFuIGltYWdl"},
                        "mask_bytes": {"b64": "bm90IGFuIGltYWdl"},
                    }
                ],
            },
            "Unknown image file format",
        ),
    ],
)
def test_bad_requests_get_400_and_a_json_error(server, body, message):
    status, answer = server.predict("fcn", body)
    assert status == 400, answer
    assert set(answer) == {"error"} and message in answer["error"], answer


def test_a_request_without_content_type_is_read_as_json_like_tf_serving(server):
    body = json.dumps({"instances": [{"image": TWO_BY_TWO, "mask": HOLE}]}).encode()
    for headers in ({"Content-Type": "application/x-www-form-urlencoded"}, {}):
        status, answer = server.predict("fcn", body, headers)
        assert status == 200 and np.asarray(answer["predictions"]).shape == (1, 2, 2, 3)


def test_an_oversized_body_gets_413(server):
    body = b'{"instances": [' + b"0," * (MAX_REQUEST_BYTES // 2) + b"0]}"
    status, answer = server.predict("fcn", body)
    assert status == 413
    assert f"over this server's limit of {MAX_REQUEST_BYTES} bytes" in answer["error"]


def test_unknown_models_paths_and_methods_get_json_errors(server):
    status, answer = server.predict("no_such_model", {"instances": []})
    assert status == 404
    assert answer["error"].startswith("model 'no_such_model' is not served here")
    assert http("GET", f"{server.url}/v1/models/no_such_model")[0] == 404
    status, answer = http("GET", f"{server.url}/v2/anything")
    assert status == 404 and "no endpoint /v2/anything" in answer["error"]
    status, answer = http("GET", f"{server.url}/v1/models/fcn:predict")
    assert status == 405 and set(answer) == {"error"}


def test_the_curl_examples_of_the_docs_run_against_the_server(server, tmp_path):
    docs = (ROOT / "docs" / "SERVING.md").read_text()
    section = docs.split("\n## curl\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash[^\n]*\n(.*?)```", section, re.S)
    assert len(blocks) == 4
    image, mask = photo_and_hole(1, 50, 77, seed=13)
    (tmp_path / "photo.png").write_bytes(client.encode_png(image[0]))
    (tmp_path / "hole.png").write_bytes(client.encode_png(mask[0]))
    replacements = {
        "localhost:8501": server.url.split("//")[1],
        "/v1/models/quickstart": "/v1/models/context_encoder_builtin_64",
    }
    answers = run_curl_blocks(blocks, replacements, tmp_path)
    status, rows, columns = (json.loads(answer) for answer in answers[:3])
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    assert np.asarray(rows["predictions"]).shape == (1, 2, 3, 3)
    assert columns["outputs"] == rows["predictions"]
    assert rows["predictions"][0][0][0] == [255, 0, 0]
    filled = client.decode_image((tmp_path / "filled.png").read_bytes())
    expected = keras_reference(
        server.models["context_encoder_builtin_64"], image, mask, step=64, tiled=True
    )
    assert_close_and_known_exact(filled[None], expected, image, mask)


def test_the_python_client_example_of_the_docs_runs_against_the_server(server, tmp_path):
    docs = (ROOT / "docs" / "SERVING.md").read_text()
    # The section's first Python block is the client example (the second starts a server).
    section = docs.split("\n## Python client\n", 1)[1]
    example = re.findall(r"```python[^\n]*\n(.*?)```", section, re.S)[0]
    example = example.replace('"http://127.0.0.1:8501", "quickstart"', f'"{server.url}", "fcn"')
    image, mask = photo_and_hole(1, 50, 77, seed=15)
    (tmp_path / "photo.png").write_bytes(client.encode_png(image[0]))
    (tmp_path / "hole.png").write_bytes(client.encode_png(mask[0]))
    example += (
        "\nnp.save('filled.npy', filled); np.save('same.npy', same); np.save('png.npy', pngs[0])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert "AVAILABLE" in completed.stdout
    filled = np.load(tmp_path / "filled.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "same.npy"), filled)
    assert filled.shape == (50, 77, 3) and np.load(tmp_path / "png.npy").shape == (50, 77, 3)


def test_the_python_client_round_trips_both_signatures(server):
    image, mask = photo_and_hole(2, 32, 32, seed=14)
    response = client.predict(server.url, "tiny_center", client.instances_request(image, mask))
    expected = keras_reference(server.models["tiny_center"], image, mask, step=32, tiled=False)
    assert_close_and_known_exact(client.decode_response(response), expected, image, mask)
    pngs = client.decode_response(
        client.predict(server.url, "tiny_center", client.bytes_request(list(image), list(mask)))
    )
    np.testing.assert_array_equal(np.stack(pngs), client.decode_response(response))
    assert tf.io.decode_png(client.encode_png(image[0])).numpy().shape == (32, 32, 3)
