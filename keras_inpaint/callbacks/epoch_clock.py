"""`EpochClock`: each epoch's wall time in the logs, so `metrics.csv` can say what a run cost."""

import time

import keras


class EpochClock(keras.callbacks.Callback):
    """Adds `epoch_seconds` (wall time of the epoch's training and validation) to the logs.

    Placed before `MetricsCSV` and TensorBoard, so both record it; the sum of
    the column is the run's training time, whatever resumes it had (a resumed
    epoch counts the part run after the resume).

    Example:
        >>> clock = EpochClock()
        >>> clock.on_epoch_begin(0)
        >>> logs = {}
        >>> clock.on_epoch_end(0, logs)
        >>> logs["epoch_seconds"] >= 0
        True
    """

    def __init__(self):
        super().__init__()
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._start is not None:
            logs["epoch_seconds"] = time.monotonic() - self._start
