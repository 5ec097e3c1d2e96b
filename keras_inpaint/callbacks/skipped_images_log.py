"""Report the images the input pipeline skipped: per epoch in the logs, and in a JSON file.

Example:
    >>> from keras_inpaint.callbacks import SkippedImagesLog
    >>> callback = SkippedImagesLog("runs/demo/data_warnings.json")
"""

import json
import logging
import os
from pathlib import Path

import keras

from keras_inpaint.data.sources import SKIPPED_IMAGES

logger = logging.getLogger(__name__)


class SkippedImagesLog(keras.callbacks.Callback):
    """Add `skipped_images` (skips during the epoch) to the epoch logs and keep a JSON record.

    Placed before `MetricsCSV` and `TensorBoard`, the count becomes a CSV
    column and a TensorBoard scalar. The JSON file (written only once an
    image was skipped) lists each skipped file with its reason and how often
    it was met, the total and the count per epoch; a resumed run adds to it.

    Args:
        path: the JSON file, e.g. `<run>/data_warnings.json`.
        skipped: the `SkippedImages` the sources report to.
    """

    def __init__(self, path, skipped=SKIPPED_IMAGES):
        super().__init__()
        self.path = Path(path)
        self.skipped = skipped
        self._last = skipped.snapshot()
        self.record = {"skipped_total": 0, "per_epoch": {}, "files": {}}
        if self.path.is_file():
            try:
                self.record = json.loads(self.path.read_text())
            except (OSError, ValueError):
                logger.warning("%s is unreadable; starting a new record.", self.path)

    def on_epoch_end(self, epoch, logs=None):
        new = self.skipped.since(self._last)
        self._last = self.skipped.snapshot()
        count = sum(new.values())
        if logs is not None:
            logs["skipped_images"] = count
        if not count:
            return
        self.record["skipped_total"] += count
        self.record["per_epoch"][str(epoch + 1)] = count
        for item, times in new.items():
            entry = self.record["files"].setdefault(
                item, {"times": 0, "reason": self.skipped.reasons.get(item, "")}
            )
            entry["times"] += times
        self._write()
        logger.warning(
            "epoch %d: %d unreadable image(s) skipped (%d in this run); they are listed in %s.",
            epoch + 1,
            count,
            self.record["skipped_total"],
            self.path,
        )

    def _write(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".partial-{self.path.name}")
        partial.write_text(json.dumps(self.record, indent=2) + "\n")
        os.replace(partial, self.path)
