"""The zoo's networks and training wrappers.

Importing this package imports every zoo entry (each sub-package), which
registers its classes with Keras so that recipes and `.keras` files can name
them. A new entry only needs its own folder here.
"""

import importlib
import pkgutil

from keras_inpaint.models.inpainter import Inpainter, TrainingSchedule

ENTRIES = tuple(module.name for module in pkgutil.iter_modules(__path__) if module.ispkg)
for _entry in ENTRIES:
    importlib.import_module(f"{__name__}.{_entry}")

__all__ = ["ENTRIES", "Inpainter", "TrainingSchedule"]
