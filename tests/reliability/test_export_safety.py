"""Exports to a read-only, full or forbidden destination fail cleanly and publish nothing."""

import errno
import os

import pytest
from test_case import tiny_context_encoder

from keras_inpaint.export import export_saved_model, numbered_versions
from keras_inpaint.export import saved_model as saved_model_module


@pytest.fixture(scope="module")
def model():
    return tiny_context_encoder("full", name="safety")


def leftovers(base):
    """Every path under `base` that is a version folder or a temporary one."""
    if not base.exists():
        return []
    return [
        path.relative_to(base).as_posix()
        for path in base.rglob("*")
        if path.name.startswith(".tmp-") or path.name.isdigit()
    ]


def fake_write_version(fail_after_files=None, error=None):
    """Writes a few files like a real export; raises `error` after `fail_after_files` of them."""

    def write(model, staging, name, rule, max_side):
        for index in range(3):
            if fail_after_files is not None and index == fail_after_files:
                raise error
            (staging / f"part-{index}").write_bytes(b"x" * 1000)

    return write


def raising(error):
    def fail(*args, **kwargs):
        raise error

    return fail


def full_disk():
    return OSError(errno.ENOSPC, "No space left on device")


def read_only():
    return OSError(errno.EROFS, "Read-only file system")


@pytest.mark.parametrize(
    "failure, cause",
    [
        ("mkdir read-only", "read-only"),
        ("write full mid-way", "disk is full"),
        ("tensorflow write full", "disk is full"),
        ("fsync full", "disk is full"),
        ("rename read-only", "read-only"),
        ("permission", "permission denied"),
    ],
)
def test_a_failed_export_names_the_cause_and_leaves_nothing(
    model, tmp_path, monkeypatch, failure, cause
):
    base = tmp_path / "exports"
    write = fake_write_version()
    if failure == "mkdir read-only":
        monkeypatch.setattr(saved_model_module.Path, "mkdir", raising(read_only()))
    elif failure == "write full mid-way":
        write = fake_write_version(2, full_disk())
    elif failure == "tensorflow write full":
        tf_error = saved_model_module.tf.errors.ResourceExhaustedError(
            None, None, "/x/variables.data; No space left on device"
        )
        write = fake_write_version(1, tf_error)
    elif failure == "fsync full":
        monkeypatch.setattr(saved_model_module.os, "fsync", raising(full_disk()))
    elif failure == "rename read-only":
        monkeypatch.setattr(saved_model_module.os, "rename", raising(read_only()))
    else:
        write = fake_write_version(0, PermissionError(errno.EACCES, "Permission denied"))
    monkeypatch.setattr(saved_model_module, "_write_version", write)

    with pytest.raises(OSError) as error:
        export_saved_model(model, base, name="safety")
    message = str(error.value)
    assert str(base / "safety" / "1") in message and cause in message
    assert "Nothing was published" in message
    monkeypatch.undo()
    assert leftovers(base) == []
    assert not base.exists(), "the export left the folders it created"


def test_a_failed_export_keeps_the_existing_versions(model, tmp_path, monkeypatch):
    base = tmp_path / "exports"
    monkeypatch.setattr(saved_model_module, "_write_version", fake_write_version())
    first = export_saved_model(model, base, name="safety")
    monkeypatch.setattr(saved_model_module, "_write_version", fake_write_version(1, full_disk()))
    with pytest.raises(OSError, match="disk is full"):
        export_saved_model(model, base, name="safety")
    assert numbered_versions(base / "safety") == [1]
    assert sorted(path.name for path in first.iterdir()) == ["part-0", "part-1", "part-2"]
    assert leftovers(base) == ["safety/1"]


@pytest.mark.large
def test_a_real_export_that_runs_out_of_space_at_the_warmup_file(model, tmp_path, monkeypatch):
    """The SavedModel is fully written, then the disk fills: nothing is published."""
    base = tmp_path / "exports"
    monkeypatch.setattr(saved_model_module, "write_warmup_requests", raising(full_disk()))
    with pytest.raises(OSError, match="disk is full"):
        export_saved_model(model, base, name="safety")
    assert leftovers(base) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_a_read_only_folder_fails_cleanly(model, tmp_path):
    base = tmp_path / "exports"
    base.mkdir()
    base.chmod(0o555)
    try:
        with pytest.raises(OSError, match="permission denied"):
            export_saved_model(model, base, name="safety")
    finally:
        base.chmod(0o755)
    assert leftovers(base) == []


def test_the_export_error_is_an_os_error_with_the_errno(model, tmp_path, monkeypatch):
    monkeypatch.setattr(saved_model_module, "_write_version", fake_write_version(0, full_disk()))
    with pytest.raises(OSError) as error:
        export_saved_model(model, tmp_path / "exports", name="safety")
    assert error.value.errno == errno.ENOSPC
    assert isinstance(error.value.__cause__, OSError)
