"""When `TrainingBackup` writes: after enough steps and seconds, never the same state twice.

The clock is a fake one passed to the callback, so no test sleeps.
"""

import keras
import numpy as np
import pytest

from keras_inpaint.callbacks import TrainingBackup


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(np.zeros((2, 2)), np.zeros((2, 1)), verbose=0)  # builds the optimizer
    model.optimizer.iterations.assign(0)
    return model


def published_steps(backup):
    return sorted(int(path.name.split("-")[1]) for path in backup.snapshots())


def run_epoch(backup, model, clock, steps, seconds_per_step, epoch=0):
    """Drive the callback through one epoch of `steps` batches, each `seconds_per_step` long."""
    backup.set_params({"steps": steps})
    backup.on_epoch_begin(epoch)
    for batch in range(steps):
        clock.now += seconds_per_step
        model.optimizer.iterations.assign_add(1)
        backup.on_train_batch_end(batch, {"loss": 1.0})
    backup.on_epoch_end(epoch, {"loss": 1.0})


def new_backup(tmp_path, clock, **timing):
    backup = TrainingBackup(tmp_path / "backup", keep=100, clock=clock, **timing)
    model = tiny_model()
    backup.set_model(model)
    backup.on_train_begin()
    return backup, model


def test_fast_steps_back_up_by_time_not_every_few_steps(tmp_path):
    clock = FakeClock()
    backup, model = new_backup(tmp_path, clock, every_steps=2, every_seconds=60)
    run_epoch(backup, model, clock, steps=40, seconds_per_step=7.0)
    # Steps 9, 18, 27, 36 are the first ones 60 s after the previous snapshot; 40 ends the epoch.
    assert published_steps(backup) == [9, 18, 27, 36, 40]


def test_slow_steps_still_wait_for_enough_steps(tmp_path):
    clock = FakeClock()
    backup, model = new_backup(tmp_path, clock, every_steps=5, every_seconds=1)
    run_epoch(backup, model, clock, steps=12, seconds_per_step=100.0)
    assert published_steps(backup) == [5, 10, 12]


def test_zero_seconds_backs_up_by_steps_only(tmp_path):
    clock = FakeClock()
    backup, model = new_backup(tmp_path, clock, every_steps=2, every_seconds=0)
    run_epoch(backup, model, clock, steps=7, seconds_per_step=0.0)
    assert published_steps(backup) == [2, 4, 6, 7]


def test_seconds_only_and_epoch_ends_only(tmp_path):
    clock = FakeClock()
    backup, model = new_backup(tmp_path / "time", clock, every_seconds=30)
    run_epoch(backup, model, clock, steps=10, seconds_per_step=10.0)
    assert published_steps(backup) == [3, 6, 9, 10]
    backup, model = new_backup(tmp_path / "epochs", clock)
    run_epoch(backup, model, clock, steps=10, seconds_per_step=10.0)
    assert published_steps(backup) == [10]


def test_an_unchanged_state_is_not_written_again(tmp_path, monkeypatch):
    clock = FakeClock()
    backup, model = new_backup(tmp_path, clock, every_steps=1, every_seconds=0)
    run_epoch(backup, model, clock, steps=1, seconds_per_step=1.0)
    snapshot = backup.snapshots()[0]
    writes = []
    monkeypatch.setattr(model, "save_weights", lambda path: writes.append(path))
    # The same epoch end again (nothing trained since): no write, the snapshot still records it.
    backup.on_epoch_end(0, {"loss": 1.0})
    assert writes == [] and backup.snapshots() == [snapshot]
    assert backup._epoch_end_snapshot == snapshot
    # Other logs, or one more step, are a change.
    backup.on_epoch_end(0, {"loss": 2.0})
    model.optimizer.iterations.assign_add(1)
    backup.on_epoch_end(0, {"loss": 2.0})
    assert len(writes) == 2


def test_a_restored_state_is_not_written_again(tmp_path):
    clock = FakeClock()
    backup, model = new_backup(tmp_path, clock, every_steps=1, every_seconds=0)
    run_epoch(backup, model, clock, steps=3, seconds_per_step=1.0)
    snapshot = backup.snapshots()[0]
    assert published_steps(backup) == [1, 2, 3]
    written = (snapshot / "state.json").stat().st_mtime_ns

    restarted, model = new_backup(tmp_path, clock, every_steps=1, every_seconds=0)
    state = restarted.restore(model)
    assert state["step"] == 3
    restarted.on_epoch_end(0, {"loss": 1.0})
    assert (snapshot / "state.json").stat().st_mtime_ns == written
    assert published_steps(restarted) == [1, 2, 3]


@pytest.mark.parametrize("every_seconds", [-1, "60", True, float("nan")])
def test_invalid_every_seconds(tmp_path, every_seconds):
    with pytest.raises(ValueError, match="every_seconds must be a number >= 0"):
        TrainingBackup(tmp_path, every_seconds=every_seconds)
