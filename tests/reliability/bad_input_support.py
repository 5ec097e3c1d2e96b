"""Helpers of the bad-input catalogue tests: pictures, damaged files, the docs table.

Imported by `tests/reliability/test_bad_input_*.py` (their folder is on
`sys.path` under pytest's default import mode).
"""

import re
import zipfile
from pathlib import Path

import numpy as np
import tensorflow as tf

DOCS_TABLE = Path(__file__).resolve().parents[2] / "docs" / "RELIABILITY.md"
SIZE = 32


def photo(seed=0, size=SIZE):
    """A smooth uint8 `(size, size, 3)` picture (not flat, so fills are visible)."""
    coarse = np.random.default_rng(seed).uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    return tf.image.resize(coarse, (size, size)).numpy()[0].round().astype(np.uint8)


def box_mask(size=SIZE, value=255):
    """A uint8 `(size, size, 1)` mask with one box of `value` (the hole)."""
    mask = np.zeros((size, size, 1), np.uint8)
    mask[size // 4 : size // 2, size // 4 : 3 * size // 4] = value
    return mask


def write_png(path, pixels):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    return path


def write_jpeg(path, pixels):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_jpeg(pixels, quality=95).numpy())
    return path


def damaged_files(folder):
    """Bad image files under `folder`, by case: truncated / corrupt PNG and JPEG, text, empty."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pixels = photo(1)
    png = tf.io.encode_png(pixels).numpy()
    jpeg = tf.io.encode_jpeg(pixels).numpy()
    noise = np.random.default_rng(2).integers(0, 256, max(len(png), len(jpeg)), np.uint8)
    contents = {
        "truncated.png": png[: len(png) // 2],
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        # The signature and the first bytes survive, the rest is noise.
        "corrupt.png": png[:40] + noise[: len(png) - 40].tobytes(),
        "corrupt.jpg": jpeg[:200] + noise[: len(jpeg) - 200].tobytes(),
        "notes.png": b"these are notes, not pixels\n",
        "empty.png": b"",
    }
    paths = {}
    for name, data in contents.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    return paths


def damaged_keras_files(folder, good_keras):
    """Truncated, non-zip and config-less `.keras` files beside a good one."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = Path(good_keras).read_bytes()
    truncated = folder / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    not_zip = folder / "not_zip.keras"
    not_zip.write_bytes(b"not a keras archive")
    no_config = folder / "no_config.keras"
    with zipfile.ZipFile(no_config, "w") as archive:
        archive.writestr("notes.txt", "no config.json here")
    return {"truncated": truncated, "not_zip": not_zip, "no_config": no_config}


def documented_case_ids(prefix):
    """The case ids (`prefix-...` in backticks) in docs/RELIABILITY.md's catalogue table."""
    ids = set()
    for line in DOCS_TABLE.read_text().splitlines():
        if line.startswith("|"):
            ids.update(re.findall(rf"`({re.escape(prefix)}-[a-z0-9-]+)`", line))
    return ids


def case_ids(*tables):
    """The pytest ids of one or more lists of `pytest.param(..., id=...)`."""
    return {case.id for table in tables for case in table}
