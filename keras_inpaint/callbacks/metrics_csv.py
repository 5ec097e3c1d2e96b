"""`metrics.csv` that a resumed run continues without duplicate or stale epochs.

Example:
    >>> from keras_inpaint.callbacks import MetricsCSV
    >>> callback = MetricsCSV("runs/demo/metrics.csv", first_epoch=0)
"""

import csv
import os
from pathlib import Path

import keras


class MetricsCSV(keras.callbacks.CSVLogger):
    """`keras.callbacks.CSVLogger(path, append=True)` that first drops rows from `first_epoch` on.

    The `epoch` column counts from 1, as the progress lines and the sample
    grids' file names do (Keras' own logger counts from 0).

    A run killed after writing an epoch's row but before backing it up, or a
    run that diverged (its last row holds NaN), is resumed from an earlier
    epoch; the rows of the epochs it will run again are removed so each epoch
    appears once. A file written before epochs were counted from 1 (its first
    row is epoch 0) is renumbered then.

    Args:
        path: the CSV file.
        first_epoch: 0-based epoch the coming `fit` starts at (the number of
            epochs done).
    """

    def __init__(self, path, first_epoch=0):
        super().__init__(str(path), append=True)
        self.path = Path(path)
        self.first_epoch = first_epoch
        self._pruned = False

    def on_train_begin(self, logs=None):
        if not self._pruned:
            self._pruned = True
            self._drop_rows_from(self.first_epoch)
        super().on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch + 1, logs)

    def _drop_rows_from(self, first_epoch):
        if not self.path.is_file():
            return
        with open(self.path, newline="") as handle:
            rows = list(csv.reader(handle))
        if not rows or "epoch" not in rows[0]:
            return
        column = rows[0].index("epoch")
        # Files written before the column counted from 1 start at epoch 0.
        shift = 1 if len(rows) > 1 and rows[1][column] == "0" else 0
        renumbered = [
            row[:column] + [str(int(row[column]) + shift)] + row[column + 1 :] for row in rows[1:]
        ]
        kept = [rows[0]] + [row for row in renumbered if int(row[column]) <= first_epoch]
        if kept == rows:
            return
        partial = self.path.with_name(f".partial-{self.path.name}")
        with open(partial, "w", newline="") as handle:
            csv.writer(handle).writerows(kept)
        os.replace(partial, self.path)
