"""`TrainingProgress`: short progress lines instead of Keras' progress bar.

Use with `fit(verbose=0)`. Each epoch ends with one line on stderr, e.g.

    epoch 3/8  g_loss 0.0123  d_loss 0.6931  hole_psnr 18.21  val_hole_psnr 18.5  12s

showing only the metrics that say how training goes (every metric is in
`metrics.csv` and TensorBoard; skipped images have a warning line of their
own). On a terminal a line with the step and the epoch's estimated time
left is also redrawn in place during the epoch; in a file or a pipe
nothing is redrawn.

Example:
    >>> from keras_inpaint.callbacks import TrainingProgress
    >>> callback = TrainingProgress(epochs=8, steps_per_epoch=100)
"""

import time

import keras

from keras_inpaint.progress import StatusLine, format_seconds

# The metrics shown, when the model logs them: training values, then the held-out one.
SHOWN = ("g_loss", "d_loss", "hole_psnr", "val_hole_psnr")


class TrainingProgress(keras.callbacks.Callback):
    """One line per epoch (and, on a terminal, a line redrawn during it) on stderr.

    Args:
        epochs: the run's number of epochs (a resumed run's `fit` starts later).
        steps_per_epoch: steps of a whole epoch (a resumed epoch's `fit` runs fewer).
        redraw: redraw a line during each epoch when the stream is a terminal.
        stream: where to write (default `sys.stderr`).
    """

    def __init__(self, epochs, steps_per_epoch, redraw=True, stream=None):
        super().__init__()
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.line = StatusLine(stream)
        self.redraw = redraw and self.line.terminal
        self._epoch = 0
        self._start = time.monotonic()
        self._steps_before = 0

    def _text(self, epoch, logs, keys, *extra):
        metrics = [
            f"{key} {logs[key]:{'.2f' if key.endswith('psnr') else '.4g'}}"
            for key in keys
            if key in (logs or {})
        ]
        return "  ".join([f"epoch {epoch + 1}/{self.epochs}", *extra, *metrics])

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._start = time.monotonic()
        # A resumed epoch's `fit` runs only the steps it has left.
        self._steps_before = self.steps_per_epoch - self.params["steps"]

    def on_train_batch_end(self, batch, logs=None):
        if not self.redraw:
            return
        done = self._steps_before + batch + 1
        left = (time.monotonic() - self._start) / (batch + 1) * (self.steps_per_epoch - done)
        step = f"step {done}/{self.steps_per_epoch}"
        text = self._text(self._epoch, logs, SHOWN[:3], step)
        self.line.show(f"{text}  {format_seconds(left)} left")

    def on_epoch_end(self, epoch, logs=None):
        text = self._text(epoch, logs, SHOWN)
        self.line.write(f"{text}  {format_seconds(time.monotonic() - self._start)}")
