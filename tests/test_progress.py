"""Progress lines: redrawn in place on a terminal only, short, counts as whole numbers."""

import io
import os
import select

import pytest

from keras_inpaint.callbacks import TrainingProgress
from keras_inpaint.progress import MAX_WIDTH, Progress, format_seconds, is_terminal

# What a model logs at the end of an epoch (a Context Encoder's names, Keras' val_ ones).
LOGS = {
    "adv_loss": 0.6931471,
    "d_loss": 1.3862943,
    "epoch_seconds": 12.5,
    "g_loss": 0.012345678,
    "hole_l1": 0.2,
    "hole_psnr": 18.0,
    "psnr": 25.1,
    "rec_loss": 0.0123,
    "skipped_images": 0,
    "val_d_loss": 1.38,
    "val_g_loss": 0.011,
    "val_hole_psnr": 18.5,
    "val_psnr": 25.6,
}


@pytest.fixture
def terminal():
    """A pseudo-terminal: `(stream writing to it, function reading what was written)`."""
    primary, secondary = os.openpty()
    stream = open(secondary, "w")

    def read():
        # One read may return part of what was written: read until nothing more comes.
        stream.flush()
        chunks = []
        while select.select([primary], [], [], 0.5)[0]:
            chunks.append(os.read(primary, 65536))
        return b"".join(chunks).decode().replace("\r\n", "\n")

    yield stream, read
    stream.close()
    os.close(primary)


def run_epochs(callback, epochs=2, steps=3):
    callback.set_params({"epochs": epochs, "steps": steps})
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch)
        for batch in range(steps):
            callback.on_train_batch_end(batch, dict(LOGS))
        callback.on_epoch_end(epoch, dict(LOGS))


def test_off_a_terminal_training_writes_one_short_line_per_epoch():
    log = io.StringIO()
    run_epochs(TrainingProgress(epochs=2, steps_per_epoch=3, stream=log))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 2 and all(len(line) <= MAX_WIDTH for line in lines)
    assert lines[0] == (
        "epoch 1/2  g_loss 0.01235  d_loss 1.386  hole_psnr 18.00  val_hole_psnr 18.50  0s"
    )
    assert lines[1].startswith("epoch 2/2  g_loss")


def test_on_a_terminal_the_line_is_redrawn_during_the_epoch(terminal):
    stream, read = terminal
    callback = TrainingProgress(epochs=1, steps_per_epoch=3, stream=stream)
    assert callback.redraw
    run_epochs(callback, epochs=1)
    text = read()
    assert text.startswith("\repoch 1/1  step 1/3  g_loss 0.01235  d_loss 1.386  hole_psnr 18.00")
    # The epoch's line replaces the redrawn one and ends with a newline.
    last = text.split("\r")[-1]
    assert last.startswith("epoch 1/1  g_loss") and last.endswith("0s\n")
    assert all(len(part.rstrip("\n")) <= MAX_WIDTH for part in text.split("\r"))


def test_verbose_2_does_not_redraw_even_on_a_terminal(terminal):
    stream, read = terminal
    run_epochs(TrainingProgress(epochs=1, steps_per_epoch=3, redraw=False, stream=stream), 1)
    assert "\r" not in read()


def test_a_resumed_epoch_counts_the_steps_done_before(terminal):
    stream, read = terminal
    callback = TrainingProgress(epochs=3, steps_per_epoch=10, stream=stream)
    callback.set_params({"epochs": 2, "steps": 4})  # the fit of the last 4 steps of epoch 2
    callback.on_epoch_begin(1)
    callback.on_train_batch_end(0, dict(LOGS))
    assert read().startswith("\repoch 2/3  step 7/10  ")


def test_progress_off_a_terminal_writes_a_summary_and_a_line_per_interval():
    log = io.StringIO()
    with Progress("evaluating", 126, "images", stream=log) as progress:
        for done in range(1, 127):
            progress.update(done, f"image {done}")
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evaluating 126/126 images in ")
    log = io.StringIO()
    with Progress("loading model", 2, stream=log, interval=0) as progress:
        progress.update(1, "first")
        progress.update(2, "second")
    assert log.getvalue().splitlines()[:2] == [
        "loading model 1/2: first",
        "loading model 2/2: second",
    ]
    assert "\r" not in log.getvalue()


def test_progress_on_a_terminal_redraws_and_ends_with_the_summary(terminal):
    stream, read = terminal
    with Progress("evaluating", 3, "images", stream=stream) as progress:
        progress.update(1)
    text = read()
    assert text.startswith("\revaluating 1/3 images\revaluating 1/3 images in 0s")
    assert text.endswith("\n") and text.count("\n") == 1


def test_is_terminal_and_durations():
    assert not is_terminal(io.StringIO())
    assert [format_seconds(s) for s in (8.4, 245, 7380)] == ["8s", "4m05s", "2h03m"]
