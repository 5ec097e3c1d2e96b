"""The export contract: one TensorFlow-free module whose names the real export has exactly."""

import json
import subprocess
import sys

import pytest
import tensorflow as tf
from test_case import tiny_fully_convolutional

from keras_inpaint import contract
from keras_inpaint.cli import build_parser
from keras_inpaint.export import export_max_side, export_saved_model, read_warmup_requests
from keras_inpaint.serving import client


def imported_frameworks(statement):
    """The TensorFlow and Keras modules a fresh Python holds after `statement`."""
    script = (
        "import json, sys\n"
        f"{statement}\n"
        "print(json.dumps(sorted(name for name in sys.modules\n"
        "    if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "statement",
    [
        "import keras_inpaint.contract",
        "import keras_inpaint.op_errors",
        "import keras_inpaint.default_recipe",
        "from keras_inpaint.cli import build_parser; build_parser().format_help()",
    ],
)
def test_the_contract_and_the_command_line_parser_import_no_tensorflow(statement):
    assert imported_frameworks(statement) == []


@pytest.mark.large
def test_the_check_sees_a_tensorflow_import():
    assert "tensorflow" in imported_frameworks("import tensorflow")


def test_the_contract_keeps_its_published_names():
    # Clients and TF Serving deployments rely on these: a change breaks them all.
    assert contract.SIGNATURES == {
        "serving_default": contract.Signature(
            inputs={"image": "uint8", "mask": "uint8"}, outputs={"inpainted": "uint8"}
        ),
        "inpaint_bytes": contract.Signature(
            inputs={"image_bytes": "string", "mask_bytes": "string"},
            outputs={"inpainted_bytes": "string"},
        ),
    }
    assert (contract.SIGNATURE, contract.BYTES_SIGNATURE) == ("serving_default", "inpaint_bytes")
    assert contract.DEFAULT_MAX_SIDE == 2048


def spec_dtypes(specs):
    """`{key: dtype name}` of a signature's input or output specs."""
    return {key: spec.dtype.name for key, spec in specs.items()}


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return export_saved_model(tiny_fully_convolutional(), tmp_path_factory.mktemp("contract"))


@pytest.mark.large
def test_the_export_has_exactly_the_contract_signatures(export_dir):
    loaded = tf.saved_model.load(str(export_dir))
    assert sorted(loaded.signatures) == sorted(contract.SIGNATURES)
    for name, signature in contract.SIGNATURES.items():
        function = loaded.signatures[name]
        assert spec_dtypes(function.structured_input_signature[1]) == signature.inputs
        assert spec_dtypes(function.structured_outputs) == signature.outputs
    assert export_max_side(export_dir) == contract.DEFAULT_MAX_SIDE


@pytest.mark.large
def test_the_warmup_requests_call_the_contract_signatures(export_dir):
    requests = [log.predict_log.request for log in read_warmup_requests(export_dir)]
    called = {request.model_spec.signature_name: set(request.inputs) for request in requests}
    assert called == {name: set(sig.inputs) for name, sig in contract.SIGNATURES.items()}


def test_the_client_and_the_command_line_follow_the_contract():
    image, mask = tf.zeros([1, 4, 4, 3], tf.uint8).numpy(), tf.zeros([1, 4, 4]).numpy()
    row = client.instances_request(image, mask)
    assert row["signature_name"] == contract.SIGNATURE
    assert list(row["instances"][0]) == list(contract.SIGNATURES[contract.SIGNATURE].inputs)
    files = client.bytes_request([image[0]], [mask[0]], layout="inputs")
    assert files["signature_name"] == contract.BYTES_SIGNATURE
    assert list(files["inputs"]) == list(contract.SIGNATURES[contract.BYTES_SIGNATURE].inputs)
    export_args = build_parser().parse_args(["export", "run", "--base", "exports"])
    assert export_args.max_side == contract.DEFAULT_MAX_SIDE
