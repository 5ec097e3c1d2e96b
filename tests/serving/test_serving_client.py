"""Client requests and the server's reading of them: TF Serving's REST JSON both ways."""

import base64
import urllib.error

import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.op_errors import op_error_message
from keras_inpaint.serving import client
from keras_inpaint.serving.rest_protocol import (
    encode_predict_response,
    parse_predict_body,
)

SPECS = {
    "serving_default": {
        "image": (np.uint8, (None, None, None, 3)),
        "mask": (np.uint8, (None, None, None, 1)),
    },
    "inpaint_bytes": {"image_bytes": (object, (None,)), "mask_bytes": (object, (None,))},
}


def pair(batch=2, height=5, width=4, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (batch, height, width, 3), dtype=np.uint8)
    mask = rng.integers(0, 2, (batch, height, width), dtype=np.uint8) * 255
    return image, mask


def test_row_and_columnar_requests_read_back_as_the_same_tensors():
    image, mask = pair()
    row = client.instances_request(image, mask)
    assert row["signature_name"] == "serving_default" and len(row["instances"]) == 2
    assert set(row["instances"][0]) == {"image", "mask"}
    column = client.inputs_request(image, mask[..., None] != 0)
    for body, layout in ((row, "row"), (column, "columnar")):
        name, inputs, read_layout = parse_predict_body(body, SPECS)
        assert (name, read_layout) == ("serving_default", layout)
        np.testing.assert_array_equal(inputs["image"], image)
        # Masks travel as 0/1 whatever the caller used (0/255, bool).
        np.testing.assert_array_equal(inputs["mask"], (mask[..., None] != 0).astype(np.uint8))
        assert inputs["image"].dtype == np.uint8


@pytest.mark.parametrize("layout", ["instances", "inputs"])
def test_bytes_requests_carry_files_paths_and_arrays_as_b64(layout, tmp_path):
    image, mask = pair(batch=1)
    (tmp_path / "photo.jpg").write_bytes(tf.io.encode_jpeg(image[0]).numpy())
    request = client.bytes_request(
        [image[0], tmp_path / "photo.jpg", b"raw bytes"], [mask[0], mask[0] != 0, b"m"], layout
    )
    assert request["signature_name"] == "inpaint_bytes"
    _, inputs, _ = parse_predict_body(request, SPECS)
    images, masks = inputs["image_bytes"], inputs["mask_bytes"]
    assert images.shape == (3,) and images.dtype == object
    np.testing.assert_array_equal(client.decode_image(images[0]), image[0])
    assert images[1] == (tmp_path / "photo.jpg").read_bytes() and images[2] == b"raw bytes"
    # Array masks become white-on-black PNG files, whatever their values were.
    for encoded in masks[:2]:
        decoded = tf.io.decode_png(encoded).numpy()[..., 0]
        np.testing.assert_array_equal(decoded, np.where(mask[0] != 0, 255, 0))


def test_client_inputs_are_checked():
    image, mask = pair()
    with pytest.raises(ValueError, match=r"uint8 batch \(B, H, W, 3\); got shape \(5, 4, 3\)"):
        client.instances_request(image[0], mask[0])
    with pytest.raises(ValueError, match="must be uint8"):
        client.inputs_request(image.astype(np.float32), mask)
    with pytest.raises(ValueError, match="matching the images"):
        client.instances_request(image, mask[:, :3])
    with pytest.raises(ValueError, match="one mask per image"):
        client.bytes_request([b"a", b"b"], [b"m"])
    with pytest.raises(ValueError, match="layout must be"):
        client.bytes_request([b"a"], [b"m"], layout="rows")


def test_answers_decode_to_pixels():
    image, _ = pair()
    np.testing.assert_array_equal(
        client.decode_response(encode_predict_response({"inpainted": image}, "row")), image
    )
    np.testing.assert_array_equal(
        client.decode_response(encode_predict_response({"inpainted": image}, "columnar")), image
    )
    files = np.array([client.encode_png(x) for x in image], dtype=object)
    answer = encode_predict_response({"inpainted_bytes": files}, "row")
    assert answer["predictions"][0] == {"b64": base64.b64encode(files[0]).decode()}
    decoded = client.decode_response(answer)
    assert len(decoded) == 2
    np.testing.assert_array_equal(np.stack(decoded), image)
    with pytest.raises(ValueError, match="several named outputs"):
        client.decode_response(encode_predict_response({"a": image, "b": image}, "row"))
    with pytest.raises(ValueError, match="not a predict answer"):
        client.decode_response({"model_version_status": []})


def test_responses_follow_tf_serving_naming():
    one = np.arange(4).reshape(2, 2)
    assert encode_predict_response({"y": one}, "row") == {"predictions": [[0, 1], [2, 3]]}
    assert encode_predict_response({"y": one}, "columnar") == {"outputs": [[0, 1], [2, 3]]}
    two = {"y": one, "words": np.array([b"a", "é".encode()], dtype=object)}
    assert encode_predict_response(two, "row") == {
        "predictions": [{"y": [0, 1], "words": "a"}, {"y": [2, 3], "words": "é"}]
    }
    assert encode_predict_response(two, "columnar") == {
        "outputs": {"y": [[0, 1], [2, 3]], "words": ["a", "é"]}
    }


def test_single_input_signatures_take_bare_values():
    specs = {"serving_default": {"x": (np.float32, (None, 2))}}
    for body in (
        {"instances": [[1, 2], [3.5, 4]]},
        {"instances": [{"x": [1, 2]}, {"x": [3.5, 4]}]},
        {"inputs": [[1, 2], [3.5, 4]]},
        {"inputs": {"x": [[1, 2], [3.5, 4]]}},
    ):
        _, inputs, _ = parse_predict_body(body, specs)
        np.testing.assert_array_equal(inputs["x"], np.array([[1, 2], [3.5, 4]], np.float32))
        assert inputs["x"].dtype == np.float32
    text = parse_predict_body(
        {"instances": ["plain", {"b64": "YWI="}]}, {"serving_default": {"s": (object, (None,))}}
    )
    assert list(text[1]["s"]) == [b"plain", b"ab"]


def files(image_bytes, mask_bytes):
    return {
        "signature_name": "inpaint_bytes",
        "inputs": {"image_bytes": image_bytes, "mask_bytes": mask_bytes},
    }


@pytest.mark.parametrize(
    "body, message",
    [
        ({"instances": "x"}, '"instances" must be a non-empty list'),
        (
            {"instances": [{"image": [[[1, 2, 3]]], "mask": True}]},
            "takes integers only; got true/false",
        ),
        ({"instances": [{"image": [[["a", 2, 3]]], "mask": [[[0]]]}]}, "not numbers"),
        ({"instances": [{"image": [[[-1, 2, 3]]], "mask": [[[0]]]}]}, "got -1..3"),
        (files([{"b64": "YQ=="}, 3], []), "takes strings or"),
        (files([{"b64": "YQ==", "x": 1}], []), 'binary values must be written {"b64"'),
        (files([["a"], "b"], []), "not a rectangular array of strings"),
        (files([["a"]], ["b"]), "must have shape [-1] (batch axis first); got [1, 1]"),
    ],
)
def test_bad_bodies_say_what_is_wrong(body, message):
    with pytest.raises(ValueError) as error:
        parse_predict_body(body, SPECS)
    assert message in str(error.value)


def test_op_error_messages_drop_the_graph_details():
    @tf.function
    def checked(x):
        tf.debugging.assert_less(x, 3, message="x must stay below 3")
        return x

    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        checked(tf.constant(5))
    assert op_error_message(error.value) == "x must stay below 3"
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        tf.function(tf.io.decode_png)(tf.constant(b"not a png"))
    message = op_error_message(error.value)
    assert message and "Detected at node" not in message and "[Op:" not in message


def test_a_server_that_is_not_running_is_not_taken_for_a_size_limit():
    from keras_inpaint.serving.local_server import free_port

    with pytest.raises(urllib.error.URLError) as error:
        client.predict(f"http://127.0.0.1:{free_port()}", "fcn", {"instances": []}, timeout=5)
    assert isinstance(error.value.reason, ConnectionRefusedError)


@pytest.mark.large
def test_a_request_over_the_size_limit_is_a_serving_error_naming_the_fix(tmp_path):
    """The server refuses a body over its limit early and closes the connection while the
    client still sends it (a reset or broken pipe): the client says what that means."""
    from test_case import tiny_fully_convolutional

    from keras_inpaint.export import export_saved_model
    from keras_inpaint.serving import ServingError
    from keras_inpaint.serving.local_server import LocalServer

    export_saved_model(tiny_fully_convolutional(), tmp_path, name="fcn")
    image = {"b64": "A" * (16 * 2**20)}  # 16 MiB against a limit of 1 MiB
    request = {"signature_name": "inpaint_bytes", "instances": [{"image_bytes": image}]}
    with LocalServer([tmp_path / "fcn"], max_request_bytes=2**20) as server:
        for _ in range(3):
            with pytest.raises(ServingError) as error:
                client.predict(server.url, "fcn", request)
            # An answer read in time is the server's own 413.
            assert error.value.status in (None, 413)
            assert "--max-request-bytes" in str(error.value)
        assert client.model_status(server.url, "fcn")["model_version_status"]
