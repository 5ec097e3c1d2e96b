"""Export a trained Inpainter as a SavedModel laid out for TF Serving.

Layout: `<base_dir>/<name>/<version>/` (TF Serving loads the highest
numbered version of each model), holding the SavedModel with the signatures
`serving_default` and `inpaint_bytes` (see `keras_inpaint.export.signatures`)
and the warmup requests `assets.extra/tf_serving_warmup_requests`.

The export is written to a hidden temporary folder beside the version, flushed
to disk and renamed into place, so a crash (even SIGKILL or a power cut) never
leaves a half-written version a server would pick up, and an existing version
is never overwritten. A killed export leaves its `.tmp-*` folder behind, which
TF Serving and `next_version` ignore.

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

from keras_inpaint.export.signatures import (
    BYTES_SIGNATURE,
    DEFAULT_MAX_SIDE,
    SIGNATURE,
    bytes_input_signature,
    bytes_serving_function,
    image_input_signature,
    serving_function,
)
from keras_inpaint.export.size_rule import SizeRule
from keras_inpaint.export.warmup import write_warmup_requests
from keras_inpaint.models.inpainter import Inpainter


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


def numbered_versions(model_dir):
    """The integer versions present under `model_dir`, ascending (temporary folders ignored)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(
        int(child.name)
        for child in model_dir.iterdir()
        if child.is_dir() and re.fullmatch(r"\d+", child.name)
    )


def next_version(model_dir):
    """The next free integer version under `model_dir` (1 when empty)."""
    return max(numbered_versions(model_dir), default=0) + 1


def _flush_to_disk(folder):
    # Without this a power cut after the rename can leave a complete-looking
    # version whose files were never written out.
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def _publish(staging, target):
    _flush_to_disk(staging)
    try:
        os.rename(staging, target)
    except OSError as error:
        if target.exists():
            raise FileExistsError(
                f"{target} was written by another export meanwhile; it is never overwritten."
            ) from error
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def export_saved_model(source, base_dir, name=None, version=None, max_side=DEFAULT_MAX_SIDE):
    """Write `source` as `<base_dir>/<name>/<version>/` and return that path.

    Args:
        source: an `Inpainter`, a `.keras` file or a training run directory.
        base_dir: the TF Serving model base folder.
        name: model name (folder); defaults to the model's name.
        version: integer version; defaults to the next free one. An existing
            version raises FileExistsError.
        max_side: the largest image side, in pixels, the export accepts; larger
            requests fail with an error naming this option. It bounds the
            memory one request can take.
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
    rule = SizeRule.for_generator(model.generator)
    model_dir.mkdir(parents=True, exist_ok=True)
    # TF Serving ignores folders whose name is not a number, so the temporary
    # folder is invisible to a server until the rename.
    staging = model_dir / f".tmp-{version}-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        # Only the variables the endpoints use are saved (the generator's), not
        # the discriminator's or the optimizers'.
        archive = keras.export.ExportArchive()
        archive.add_endpoint(
            SIGNATURE,
            serving_function(model, max_side),
            input_signature=image_input_signature(rule),
        )
        archive.add_endpoint(
            BYTES_SIGNATURE,
            bytes_serving_function(model, max_side),
            input_signature=bytes_input_signature(),
        )
        archive.write_out(str(staging), verbose=False)
        write_warmup_requests(staging, name, rule)
        _publish(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
