"""Exports checked with TensorFlow's own tools: `saved_model_cli show` and `run`, a fresh
process, against the in-process Keras model."""

import re
import subprocess

import numpy as np
import pytest
from serving.serving_support import (
    assert_close_and_known_exact,
    keras_reference,
    photo_and_hole,
)
from test_case import assert_export_matches, random_batch, tiny_fully_convolutional

SIGNATURE_BLOCK = re.compile(r"signature_def\['(?P<name>[^']+)'\]:\n(?P<body>(?:  .*\n?)*)")
TENSOR = re.compile(
    r"(?P<kind>inputs|outputs)\['(?P<name>[^']+)'\] tensor_info:\s+dtype: (?P<dtype>\w+)\s+"
    r"shape: (?P<shape>\([^)]*\))"
)


def signature_defs(shown):
    """`saved_model_cli show --all` text -> {signature: {(kind, tensor): (dtype, shape)}}."""
    signatures = {}
    for block in SIGNATURE_BLOCK.finditer(shown):
        tensors = {
            (match["kind"], match["name"]): (match["dtype"], match["shape"])
            for match in TENSOR.finditer(block["body"])
        }
        method = re.search(r"Method name is: (\S*)", block["body"])
        signatures[block["name"]] = (tensors, method.group(1) if method else "")
    return signatures


def saved_model_cli(*args):
    return subprocess.run(
        ["saved_model_cli", *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.large
@pytest.mark.parametrize("rule", ["tiled", "fixed"])
def test_saved_model_cli_show_lists_both_signatures(tiny_exports, rule):
    _, export_dir, _ = tiny_exports[rule]
    signatures = signature_defs(saved_model_cli("show", "--dir", str(export_dir), "--all"))
    side = "32, 32" if rule == "fixed" else "-1, -1"
    assert signatures["serving_default"] == (
        {
            ("inputs", "image"): ("DT_UINT8", f"(-1, {side}, 3)"),
            ("inputs", "mask"): ("DT_UINT8", f"(-1, {side}, 1)"),
            ("outputs", "inpainted"): ("DT_UINT8", f"(-1, {side}, 3)"),
        },
        "tensorflow/serving/predict",
    )
    assert signatures["inpaint_bytes"] == (
        {
            ("inputs", "image_bytes"): ("DT_STRING", "(-1)"),
            ("inputs", "mask_bytes"): ("DT_STRING", "(-1)"),
            ("outputs", "inpainted_bytes"): ("DT_STRING", "(-1)"),
        },
        "tensorflow/serving/predict",
    )


@pytest.mark.large
def test_saved_model_cli_run_gives_the_keras_pixels_at_an_odd_size(tiny_exports, tmp_path):
    model, export_dir, _ = tiny_exports["tiled"]
    image, mask = photo_and_hole(2, 50, 77)
    np.save(tmp_path / "image.npy", image)
    np.save(tmp_path / "mask.npy", mask)
    saved_model_cli(
        "run",
        "--dir",
        str(export_dir),
        "--tag_set",
        "serve",
        "--signature_def",
        "serving_default",
        "--inputs",
        f"image={tmp_path / 'image.npy'};mask={tmp_path / 'mask.npy'}",
        "--outdir",
        str(tmp_path / "out"),
    )
    actual = np.load(tmp_path / "out" / "inpainted.npy")
    expected = keras_reference(model, image, mask, step=32, tiled=True)
    assert_close_and_known_exact(actual, expected, image, mask)


@pytest.mark.large
def test_a_fully_convolutional_export_reloads_in_a_fresh_process(tmp_path):
    assert_export_matches(tiny_fully_convolutional(), random_batch(2, 36), tmp_path)
