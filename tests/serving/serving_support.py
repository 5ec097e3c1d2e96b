"""Reference computations and test pictures for the export and serving tests (the
tiny models, one per size rule, are in tests/test_case.py).

Imported as `serving.serving_support` from tests/export and tests/serving alike
(tests/ is on sys.path; tests/serving is a namespace package there).
"""

import shutil
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

from keras_inpaint import images


def photo_and_hole(batch, height, width, seed=0):
    """Smooth uint8 images and box holes (255) that straddle tile borders."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (batch, 4, 4, 3)).astype("float32")
    image = tf.image.resize(coarse, (height, width)).numpy().round().astype(np.uint8)
    mask = np.zeros((batch, height, width, 1), np.uint8)
    for index in range(batch):
        top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
        mask[index, top : top + height // 2, left : left + width // 2] = 255
    return image, mask


def keras_reference(model, image, mask, step, tiled):
    """What an export must give, computed without it, in numpy.

    Not tiled: reflect padding to a multiple of `step`, the Keras model on the
    padded image, crop. Tiled (an even `step`): reflect padding by `step / 2` on
    every side (more at the bottom and right, to whole half-tiles), the model on
    every `step` x `step` tile at a stride of `step / 2`, each tile weighted by a
    triangle peaking at its centre, the weighted sum divided by the summed
    weights, crop. Known pixels from the input.
    """
    hole = (mask != 0).astype("float32")
    masked = images.uint8_to_model(image).numpy() * (1.0 - hole)
    batch, height, width, _ = image.shape
    if not tiled:
        padding = [(0, 0), (0, -height % step), (0, -width % step), (0, 0)]
        padded, padded_hole = np.pad(masked, padding, "reflect"), np.pad(hole, padding, "reflect")
        composite = keras.ops.convert_to_numpy(model((padded, padded_hole), training=False))
        expected = images.model_to_uint8(composite[:, :height, :width]).numpy()
        return np.where(mask != 0, expected, image)
    half = step // 2
    padding = [(0, 0), (half, (-height) % half + half), (half, (-width) % half + half), (0, 0)]
    padded = np.pad(masked, padding, "reflect")
    padded_hole = np.pad(hole, padding, "reflect")
    window = 1.0 - np.abs(np.arange(step) + 0.5 - half) / half
    window = window[:, None, None] * window[None, :, None]
    total = np.zeros(padded.shape, "float64")
    weights = np.zeros(padded.shape[:3] + (1,), "float64")
    for top in range(0, padded.shape[1] - step + 1, half):
        for left in range(0, padded.shape[2] - step + 1, half):
            tile = padded[:, top : top + step, left : left + step]
            tile_hole = padded_hole[:, top : top + step, left : left + step]
            filled = keras.ops.convert_to_numpy(model((tile, tile_hole), training=False))
            # Tiles without a hole are not run: they keep the known pixels.
            has_hole = tile_hole.reshape(batch, -1).max(axis=1) > 0
            filled = np.where(has_hole[:, None, None, None], filled, tile)
            total[:, top : top + step, left : left + step] += filled * window
            weights[:, top : top + step, left : left + step] += window
    composite = (total / weights)[:, half : half + height, half : half + width]
    expected = images.model_to_uint8(composite.astype("float32")).numpy()
    return np.where(mask != 0, expected, image)


def assert_close_and_known_exact(actual, expected, image, mask):
    """uint8 within 1 of `expected`, known pixels equal to the input's."""
    actual = np.asarray(actual)
    assert actual.shape == image.shape and actual.dtype == np.uint8
    assert np.abs(actual.astype(int) - expected.astype(int)).max() <= 1
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(actual[known], image[known])


# Sends the docs' curl calls where curl is not installed (-X, -d, --data-binary @file, -o).
CURL_STAND_IN = """
import sys, urllib.error, urllib.request
args, method, data, out = sys.argv[1:], None, None, None
while args:
    arg = args.pop(0)
    if arg == "-X":
        method = args.pop(0)
    elif arg in ("-d", "--data-binary"):
        value = args.pop(0)
        data = open(value[1:], "rb").read() if value.startswith("@") else value.encode()
    elif arg == "-o":
        out = args.pop(0)
    elif arg.startswith("http"):
        url = arg
request = urllib.request.Request(url, data=data, method=method)
try:
    body = urllib.request.urlopen(request).read()
except urllib.error.HTTPError as error:
    body = error.read()
open(out, "wb").write(body) if out else sys.stdout.buffer.write(body)
"""


def run_curl_blocks(blocks, replacements, folder, timeout=120):
    """The stdout (text) of each bash block of the docs, run with `bash -euo pipefail` in
    `folder` after replacing each key of `replacements` by its value (the documented host
    and model by the test server's); a block that fails fails the test with its stderr.
    Without curl, `CURL_STAND_IN` sends the same requests."""
    prelude = ""
    if shutil.which("curl") is None:
        stand_in = folder / "curl.py"
        stand_in.write_text(CURL_STAND_IN)
        prelude = f'curl() {{ "{sys.executable}" "{stand_in}" "$@"; }}\n'
    answers = []
    for block in blocks:
        script = block
        for old, new in replacements.items():
            script = script.replace(old, new)
        completed = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", prelude + script],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert completed.returncode == 0, completed.stderr
        answers.append(completed.stdout)
    return answers
