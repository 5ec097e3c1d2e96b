"""Save the whole model at each epoch end without ever leaving a torn file.

Example:
    >>> from keras_inpaint.callbacks import AtomicCheckpoint
    >>> callback = AtomicCheckpoint("runs/demo/checkpoints/last.keras")
"""

import logging
from pathlib import Path

import keras

from keras_inpaint.callbacks.divergence_guard import safe_to_save
from keras_inpaint.output_files import atomic_output

logger = logging.getLogger(__name__)


class AtomicCheckpoint(keras.callbacks.Callback):
    """Like `keras.callbacks.ModelCheckpoint(path)`, but written atomically.

    The model goes to a temporary `.keras` file beside the target and is then
    renamed over it, so a crash during the save leaves the previous
    checkpoint intact. An epoch that ended with a non-finite loss (training
    or validation) or non-finite weights is not saved: the file keeps the
    last good epoch.

    Args:
        path: target `.keras` file, overwritten each epoch.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        if self.path.suffix != ".keras":
            raise ValueError(f"checkpoint path {self.path} must end in .keras")

    def on_epoch_end(self, epoch, logs=None):
        if not safe_to_save(self.model, logs):
            logger.warning(
                "epoch %d ended with non-finite losses or weights: %s keeps the last good epoch.",
                epoch + 1,
                self.path,
            )
            return
        with atomic_output(self.path) as partial:
            self.model.save(partial)
