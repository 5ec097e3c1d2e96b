"""Trained generators shipped with the package (KerasHub-style preset folders).

Example:
    >>> from keras_inpaint import presets
    >>> sorted(presets.list()) == presets.list()
    True
"""

from keras_inpaint.presets.preset import (
    PresetMixin,
    default_name,
    is_preset,
    list,
    load,
    load_inpainter,
    metadata,
    preset_dir,
    save,
)

__all__ = [
    "PresetMixin",
    "default_name",
    "is_preset",
    "list",
    "load",
    "load_inpainter",
    "metadata",
    "preset_dir",
    "save",
]
