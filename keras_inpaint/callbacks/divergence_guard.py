"""Stop a diverging run at the first non-finite loss, and tell savers what is safe to save.

Keras's `TerminateOnNaN` only looks at a log named `loss`; an `Inpainter`
logs `g_loss`, `d_loss` and their terms, so it would never fire. This guard
checks every logged loss after each batch and the weights at each epoch end.

Example:
    >>> from keras_inpaint.callbacks import DivergenceGuard
    >>> guard = DivergenceGuard()
    >>> guard.failure is None
    True
"""

import math

import keras
import tensorflow as tf


def non_finite_losses(logs):
    """`{name: value}` for the logged losses (names containing "loss") that are NaN or Inf.

    Example:
        >>> non_finite_losses({"g_loss": float("nan"), "psnr": float("inf"), "d_loss": 1.0})
        {'g_loss': nan}
    """
    bad = {}
    for name, value in (logs or {}).items():
        if "loss" not in name:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(number):
            bad[name] = number
    return bad


def weights_are_finite(model):
    """True when every floating-point weight of `model` is finite (one device-side check)."""
    checks = [
        tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(weight)))
        for weight in model.weights
        if "float" in str(weight.dtype)
    ]
    return bool(tf.reduce_all(checks)) if checks else True


def safe_to_save(model, logs):
    """Whether the model's current state may be written: finite weights and finite losses."""
    return not non_finite_losses(logs) and weights_are_finite(model)


def global_step(model):
    """The model's step counter (an `Inpainter`'s `step_counter`, else the optimizer's)."""
    counter = getattr(model, "step_counter", None)
    if counter is None and getattr(model, "optimizer", None) is not None:
        counter = model.optimizer.iterations
    return int(keras.ops.convert_to_numpy(counter)) if counter is not None else 0


class DivergenceGuard(keras.callbacks.Callback):
    """Stop training at the first NaN or Inf loss (or non-finite weight) and record it.

    After `fit` returns, `failure` is None for a healthy run, else a dict:
    `losses` (the non-finite logged values), `step` (the step counter after
    the failing step), `epoch` and `batch` (1-based). Savers in this package
    (`AtomicCheckpoint`, `TrainingBackup`) never write a state whose losses or
    weights are non-finite, so the last checkpoint stays the last good one.
    """

    def __init__(self):
        super().__init__()
        self.failure = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        bad = non_finite_losses(logs)
        if bad and self.failure is None:
            self._fail(bad, batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        if self.failure is not None:
            return
        bad = non_finite_losses(logs)
        if not bad and not weights_are_finite(self.model):
            bad = {"weights": float("nan")}
        if bad:
            self._fail(bad, None)

    def _fail(self, bad, batch):
        self.failure = {
            "losses": bad,
            "step": global_step(self.model),
            "epoch": self._epoch + 1,
            "batch": batch,
        }
        self.model.stop_training = True

    def describe(self):
        """One sentence saying what went non-finite, and where."""
        if self.failure is None:
            return "training stayed finite"
        failure = self.failure
        values = ", ".join(f"{name}={value}" for name, value in failure["losses"].items())
        where = f"epoch {failure['epoch']}"
        if failure["batch"] is not None:
            where += f", batch {failure['batch']}"
        return f"{values} at step {failure['step']} ({where})"
