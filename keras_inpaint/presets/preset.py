"""Presets: trained generators shipped as folders, in the layout of KerasHub's presets.

A preset is a folder holding

- `config.json`: the generator's class and constructor arguments (Keras's
  serialized form, loaded with `safe_mode=True`);
- `model.weights.h5`: its weights;
- `metadata.json`: what it was trained on and how (data and licences, recipe,
  steps, wall time, machine) and its validation table with the command that
  made it;
- `README.md`: the model card, with a sample sheet and a training curve.

The presets that ship with the package live in `keras_inpaint/presets/<name>/`;
any other folder of that layout loads by its path.

Example:
    >>> from keras_inpaint import presets
    >>> names = presets.list()                       # doctest: +SKIP
    >>> generator = presets.load(names[0])           # doctest: +SKIP
    >>> filled = generator([masked_image, mask])     # doctest: +SKIP
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

# Keras is imported where a network is built or saved, so that listing presets
# and reading their metadata (`keras-inpaint zoo`) needs no TensorFlow.
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
CARD_FILE = "README.md"
SHIPPED_DIR = Path(__file__).resolve().parent


def _is_preset(folder):
    return (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()


def list():  # noqa: A001  (KerasHub's name for the listing)
    """Names of the presets that ship with the package, sorted."""
    return sorted(child.name for child in SHIPPED_DIR.iterdir() if _is_preset(child))


def default_name():
    """The shipped preset whose metadata says it is the general default."""
    defaults = [name for name in list() if metadata(name).get("default")]
    if not defaults:
        raise ValueError(
            "no default preset ships with this installation; pass --model (an export "
            "version folder, a .keras file or a run directory) or --preset (a preset folder)."
        )
    if len(defaults) > 1:
        raise ValueError(
            f"several presets claim to be the default ({', '.join(defaults)}); "
            "pass --preset NAME to choose one."
        )
    return defaults[0]


def preset_dir(name_or_path):
    """The folder of a shipped preset's name, or of a preset path; clear errors otherwise."""
    path = Path(name_or_path).expanduser()
    if path.is_dir() and _is_preset(path):
        return path
    shipped = SHIPPED_DIR / str(name_or_path)
    if "/" not in str(name_or_path) and _is_preset(shipped):
        return shipped
    if path.is_dir():
        raise ValueError(
            f"{path} is not a preset folder: it needs {CONFIG_FILE} and {WEIGHTS_FILE}."
        )
    raise ValueError(
        f"unknown preset {str(name_or_path)!r}; shipped presets: {', '.join(list()) or 'none'} "
        "(`keras-inpaint zoo` lists them), or pass the path of a preset folder."
    )


def is_preset(name_or_path):
    """True when `name_or_path` names a shipped preset or a preset folder."""
    try:
        preset_dir(name_or_path)
    except ValueError:
        return False
    return True


def metadata(name_or_path):
    """The preset's `metadata.json` as a dict (empty if it has none)."""
    path = preset_dir(name_or_path) / METADATA_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def load(name_or_path, cls=None):
    """The preset's generator, built from `config.json` with `safe_mode=True`, weights loaded.

    Args:
        name_or_path: a shipped preset's name (`presets.list()`) or a preset folder.
        cls: when given, the generator must be an instance of this class.

    Returns:
        the generator (a functional `keras.Model`, inputs `[masked_image, mask]`).
    """
    import keras

    import keras_inpaint.models  # noqa: F401  (registers the zoo classes)

    folder = preset_dir(name_or_path)
    config = json.loads((folder / CONFIG_FILE).read_text())
    generator = keras.saving.deserialize_keras_object(config, safe_mode=True)
    if cls is not None and not isinstance(generator, cls):
        raise ValueError(
            f"preset {str(name_or_path)!r} holds a {type(generator).__name__}, not a "
            f"{cls.__name__}; load it with keras_inpaint.presets.load or its own class."
        )
    generator.load_weights(folder / WEIGHTS_FILE)
    return generator


def load_inpainter(name_or_path):
    """The preset's generator in an `Inpainter`, ready for inference and export."""
    from keras_inpaint.models.inpainter import Inpainter

    return Inpainter(load(name_or_path), name=preset_dir(name_or_path).name)


def save(generator, path, metadata=None, card=None, extra_files=None):
    """Write a preset folder atomically (a temporary folder renamed into place).

    Args:
        generator: the generator to save.
        path: the preset folder to create; it must not exist yet.
        metadata: dict written as `metadata.json`.
        card: the model card's Markdown text (`README.md`).
        extra_files: `{name: source path}` copied into the folder (pictures).

    Returns:
        the folder's `Path`.
    """
    import keras

    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; presets are never overwritten: pick a new path.")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    try:
        config = keras.saving.serialize_keras_object(generator)
        (partial / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        generator.save_weights(partial / WEIGHTS_FILE)
        if metadata is not None:
            (partial / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        if card is not None:
            (partial / CARD_FILE).write_text(card)
        for name, source in (extra_files or {}).items():
            shutil.copyfile(source, partial / name)
        os.replace(partial, path)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return path


class PresetMixin:
    """Gives a generator class `from_preset`, as KerasHub's backbones have."""

    @classmethod
    def from_preset(cls, name_or_path):
        """Load a preset holding a generator of this class (see `keras_inpaint.presets.load`).

        Example:
            >>> from keras_inpaint.models.glcic import GLCICGenerator
            >>> generator = GLCICGenerator.from_preset("glcic_photos_128")  # doctest: +SKIP
        """
        return load(name_or_path, cls=cls)
