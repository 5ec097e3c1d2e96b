"""`metrics.csv`, one row per epoch, that a killed or resumed run never tears nor duplicates.

Example:
    >>> from keras_inpaint.callbacks import MetricsCSV
    >>> callback = MetricsCSV("runs/demo/metrics.csv", first_epoch=0)
"""

import csv
from pathlib import Path

import keras

from keras_inpaint.output_files import atomic_output

# Written where an epoch's logs lack a column the file has (as Keras' CSVLogger does).
MISSING = "NA"


class MetricsCSV(keras.callbacks.Callback):
    """Writes each epoch's logs as a row of `path`; the `epoch` column counts from 1.

    Each epoch end rewrites the whole file to a temporary file and renames it
    over `path`, so a kill mid-write leaves the previous complete file, and
    writing an epoch's row again (a resumed run rebuilding its last epoch
    end) replaces that row instead of adding a second one. The file is small:
    one row per epoch.

    A run killed after writing an epoch's row but before backing it up, or a
    run that diverged (its last row holds NaN), is resumed from an earlier
    epoch; the rows of the epochs it will run again are removed when
    training begins. A file written before epochs were counted from 1 (its
    first row is epoch 0) is renumbered then.

    Args:
        path: the CSV file.
        first_epoch: 0-based epoch the coming `fit` starts at (the number of
            epochs done).
    """

    def __init__(self, path, first_epoch=0):
        super().__init__()
        self.path = Path(path)
        self.first_epoch = first_epoch
        self._pruned = False

    def on_train_begin(self, logs=None):
        if not self._pruned:
            self._pruned = True
            header, rows = self.read()
            if header:
                self._write(header, [row for row in rows if int(row["epoch"]) <= self.first_epoch])

    def on_epoch_end(self, epoch, logs=None):
        self.write_row(epoch + 1, logs or {})

    def write_row(self, epoch, logs):
        """Put `logs` in the row of `epoch` (counted from 1), replacing that row and later ones."""
        header, rows = self.read()
        names = sorted(logs)
        header = header or ["epoch"]
        header += [name for name in names if name not in header]
        row = {"epoch": str(epoch)}
        row.update((name, _cell(logs[name])) for name in names)
        kept = [old for old in rows if int(old["epoch"]) < epoch]
        self._write(header, kept + [row])

    def read(self):
        """`(header, rows)` of the file, rows as dicts (`epoch` counted from 1); empty if none."""
        if not self.path.is_file():
            return [], []
        with open(self.path, newline="") as handle:
            table = list(csv.reader(handle))
        if not table or "epoch" not in table[0]:
            return [], []
        header = table[0]
        rows = [dict(zip(header, values, strict=False)) for values in table[1:] if values]
        # A row torn by an older, appending release has no whole epoch number.
        rows = [row for row in rows if row.get("epoch", "").isdigit()]
        # Files written before the column counted from 1 start at epoch 0.
        if rows and rows[0]["epoch"] == "0":
            for row in rows:
                row["epoch"] = str(int(row["epoch"]) + 1)
        return header, rows

    def _write(self, header, rows):
        with atomic_output(self.path) as partial, open(partial, "x", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header, restval=MISSING)
            writer.writeheader()
            writer.writerows(rows)


def _cell(value):
    """A log value as Keras' CSVLogger writes it: numbers as they are, sequences in brackets."""
    if hasattr(value, "ndim") and value.ndim == 0:
        return value.item()
    if hasattr(value, "__len__") and not isinstance(value, str):
        return f'"[{", ".join(map(str, value))}]"'
    return value
