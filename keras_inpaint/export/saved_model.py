"""Export a trained Inpainter as a SavedModel laid out for TF Serving.

Layout: `<base_dir>/<name>/<version>/` (TF Serving loads the highest
numbered version of each model). The export is written to a hidden temporary
folder beside the version and renamed into place, so a crash never leaves a
half-written version a server would pick up, and an existing version is never
overwritten.

Signature `serving_default`:
    inputs  `image` uint8 `[B, H, W, 3]`, `mask` uint8 `[B, H, W, 1]` (nonzero = hole)
    output  `inpainted` uint8 `[B, H, W, 3]`: the composite, known pixels
            bit-exact from the input, the hole from the model.

Example:
    >>> from keras_inpaint.export import export_saved_model
    >>> path = export_saved_model("runs/quickstart", "exports")  # doctest: +SKIP
    >>> path.parts[-2:]                                           # doctest: +SKIP
    ('builtin_64', '1')
"""

import os
import re
import shutil
import uuid
from pathlib import Path

import keras
import tensorflow as tf

from keras_inpaint import images
from keras_inpaint.models.inpainter import Inpainter

SIGNATURE = "serving_default"


def load_inpainter(source):
    """An `Inpainter` from a model object, a `.keras` file or a training run directory."""
    if isinstance(source, Inpainter):
        return source
    path = Path(source)
    if path.is_dir():
        candidate = path / "checkpoints" / "last.keras"
        if not candidate.is_file():
            raise FileNotFoundError(
                f"{path} is not a training run: {candidate} is missing. Pass a run "
                "directory written by `keras-inpaint train` or a .keras file."
            )
        path = candidate
    if path.suffix != ".keras" or not path.is_file():
        raise FileNotFoundError(
            f"{path} is not a .keras file or a training run directory; pass one of those."
        )
    import keras_inpaint.models  # noqa: F401  (registers the zoo classes before loading)

    model = keras.saving.load_model(path, safe_mode=True)
    if not isinstance(model, Inpainter):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a keras_inpaint Inpainter.")
    return model


def next_version(model_dir):
    """The next free integer version under `model_dir` (1 when empty)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return 1
    versions = [
        int(child.name)
        for child in model_dir.iterdir()
        if child.is_dir() and re.fullmatch(r"\d+", child.name)
    ]
    return max(versions, default=0) + 1


def serving_function(model):
    """The uint8-in / uint8-out function behind `serving_default`."""

    def serve(image, mask):
        hole = images.binarize_mask(mask)
        masked_image = images.uint8_to_model(image) * (1.0 - hole)
        composite = model((masked_image, hole), training=False)
        # Known pixels come from the request itself, so they round-trip exactly.
        inpainted = tf.where(hole > 0, images.model_to_uint8(composite), image)
        return {"inpainted": inpainted}

    return serve


def export_saved_model(source, base_dir, name=None, version=None):
    """Write `source` as `<base_dir>/<name>/<version>/` and return that path.

    Args:
        source: an `Inpainter`, a `.keras` file or a training run directory.
        base_dir: the TF Serving model base folder.
        name: model name (folder); defaults to the model's name.
        version: integer version; defaults to the next free one. An existing
            version raises FileExistsError.
    """
    model = load_inpainter(source)
    name = name or model.name
    model_dir = Path(base_dir) / name
    version = next_version(model_dir) if version is None else int(version)
    target = model_dir / str(version)
    if target.exists():
        raise FileExistsError(
            f"{target} already exists and is never overwritten; omit --version to use "
            f"the next free one ({next_version(model_dir)})."
        )
    model_dir.mkdir(parents=True, exist_ok=True)
    _, height, width, _ = model.generator.input_shape[0]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        SIGNATURE,
        serving_function(model),
        input_signature=[
            tf.TensorSpec([None, height, width, 3], tf.uint8, name="image"),
            tf.TensorSpec([None, height, width, 1], tf.uint8, name="mask"),
        ],
    )
    # TF Serving ignores folders whose name is not a number, so the temporary
    # folder is invisible to a server until the rename.
    staging = model_dir / f".tmp-{version}-{uuid.uuid4().hex}"
    try:
        archive.write_out(str(staging), verbose=False)
        os.rename(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
