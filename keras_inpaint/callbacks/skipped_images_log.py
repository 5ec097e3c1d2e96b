"""Report the images the input pipeline skipped: per epoch in the logs, and in a JSON file.

Example:
    >>> from keras_inpaint.callbacks import SkippedImagesLog
    >>> callback = SkippedImagesLog("runs/demo/data_warnings.json")
"""

import json
import logging
from pathlib import Path

import keras

from keras_inpaint.data.sources import SKIPPED_IMAGES
from keras_inpaint.output_files import write_text

logger = logging.getLogger(__name__)


class SkippedImagesLog(keras.callbacks.Callback):
    """Add `skipped_images` (distinct files skipped in the epoch) to the logs; keep a JSON record.

    Placed before `MetricsCSV` and `TensorBoard`, the count becomes a CSV
    column and a TensorBoard scalar. A bad file is met on every pass over
    the data, so the counts are of distinct files (or TFRecord records), not
    of reads: 5 corrupt files make `skipped_images` 5 in each epoch, however
    many passes it took.

    The JSON file (written atomically, only once an image was skipped) lists
    each skipped file with its reason, the epochs it was skipped in and how
    many reads skipped it; `skipped_total` is the number of distinct files
    and `per_epoch` the count of each epoch. A resumed run adds to it, and an
    epoch run again after a kill counts its files once.

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
        number = epoch + 1
        first_seen = [item for item in new if item not in self.record["files"]]
        for item, times in new.items():
            self._add(item, times, number)
        count = sum(number in entry.get("epochs", ()) for entry in self.record["files"].values())
        if logs is not None:
            logs["skipped_images"] = count
        if not new:
            return
        self.record["per_epoch"][str(number)] = count
        self.record["skipped_total"] = len(self.record["files"])
        self._write()
        if first_seen:
            logger.warning(
                "epoch %d: %d unreadable image file(s) skipped (%d in this run); they are left "
                "out of every pass and listed in %s.",
                number,
                len(first_seen),
                self.record["skipped_total"],
                self.path,
            )

    def _add(self, item, times, number):
        entry = self.record["files"].setdefault(
            item, {"times": 0, "reason": self.skipped.reasons.get(item, ""), "epochs": []}
        )
        entry["times"] += times
        epochs = entry.setdefault("epochs", [])
        if number not in epochs:
            epochs.append(number)

    def _write(self):
        write_text(self.path, json.dumps(self.record, indent=2) + "\n")
