"""SavedModel export: TF Serving layout, signature, versions, atomic writes, reloading."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_case import assert_export_matches, random_batch, tiny_context_encoder

from keras_inpaint.export import export_saved_model, next_version, numbered_versions


@pytest.fixture(scope="module")
def model():
    return tiny_context_encoder(name="tiny", discriminator=True)


@pytest.mark.large
def test_export_reloads_in_a_fresh_process_with_the_same_pixels(model, tmp_path):
    export_dir = assert_export_matches(model, random_batch(3, 32), tmp_path)
    assert export_dir == tmp_path / "exports" / "model" / "1"


def snapshot_tree(folder):
    """Every file under `folder` with its bytes and modification time."""
    return {
        path.relative_to(folder): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.large
def test_versions_count_up_and_are_never_overwritten(model, tmp_path):
    first = export_saved_model(model, tmp_path, name="tiny")
    before = snapshot_tree(first)
    second = export_saved_model(model, tmp_path, name="tiny")
    assert (first.name, second.name) == ("1", "2")
    assert snapshot_tree(first) == before
    with pytest.raises(FileExistsError, match="never overwritten"):
        export_saved_model(model, tmp_path, name="tiny", version=1)
    assert snapshot_tree(first) == before
    assert sorted(path.name for path in (tmp_path / "tiny").iterdir()) == ["1", "2"]


KILLED_EXPORT = """
import sys
import keras
from keras_inpaint.export import export_saved_model
model = keras.saving.load_model(sys.argv[1])
export_saved_model(model, sys.argv[2], name="tiny")
"""


@pytest.mark.large
def test_an_export_killed_midway_leaves_no_new_version(model, tmp_path):
    model.save(tmp_path / "tiny.keras")
    base = tmp_path / "exports"
    export_saved_model(model, base, name="tiny")
    before = snapshot_tree(base / "tiny" / "1")
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_EXPORT, str(tmp_path / "tiny.keras"), str(base)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    # Kill as soon as the export has started writing its temporary folder.
    while not list((base / "tiny").glob(".tmp-2-*")):
        assert process.poll() is None, "the export finished before it could be killed"
        assert time.monotonic() < deadline, "the export never started writing"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    assert numbered_versions(base / "tiny") == [1]
    assert snapshot_tree(base / "tiny" / "1") == before
    # The leftover temporary folder is ignored: the next export is version 2.
    assert export_saved_model(model, base, name="tiny").name == "2"


@pytest.mark.large
def test_a_failed_export_leaves_no_version_behind(model, tmp_path, monkeypatch):
    import tensorflow as tf

    def crash_midway(obj, export_dir, *args, **kwargs):
        (Path(export_dir) / "variables").mkdir(parents=True)
        (Path(export_dir) / "saved_model.pb").write_bytes(b"half written")
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, tmp_path, name="tiny")
    # The model folder this export created is removed with its temporary folder.
    assert not (tmp_path / "tiny").exists()
    assert next_version(tmp_path / "tiny") == 1


def test_next_version_ignores_non_numeric_folders(tmp_path):
    for name in ("1", "7", ".tmp-8-abc", "notes"):
        (tmp_path / name).mkdir()
    assert next_version(tmp_path) == 8
    assert next_version(tmp_path / "missing") == 1


@pytest.mark.large
def test_export_from_a_keras_file(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    export_dir = export_saved_model(path, tmp_path / "exports")
    assert export_dir == tmp_path / "exports" / "model" / "1"  # the file's stem


def test_one_naming_rule_for_every_source(model, tmp_path):
    from keras_inpaint.export import export_name

    assert export_name(tmp_path / "runs" / "quickstart") == "quickstart"
    assert export_name("runs/quickstart/") == "quickstart"
    assert export_name(tmp_path / "ce_128.keras") == "ce_128"
    assert export_name("glcic_photos") == "glcic_photos"  # a shipped preset's name
    assert export_name(model) == "tiny"
    for bad in ("a b", "ü"):
        with pytest.raises(ValueError, match="pass --name NAME"):
            export_name(bad)
    with pytest.raises(ValueError, match="is not allowed: a model name is 1 to 255 letters"):
        export_saved_model(model, tmp_path, name="../escape")
    assert not (tmp_path.parent / "escape").exists()


def test_bad_sources_say_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a training run"):
        export_saved_model(tmp_path, tmp_path / "exports")
    with pytest.raises(FileNotFoundError, match="not a .keras file"):
        export_saved_model(tmp_path / "model.h5", tmp_path / "exports")


def test_known_pixels_are_bit_exact_in_the_export(tiny_exports):
    import tensorflow as tf

    _, _, loaded = tiny_exports["tiled"]
    serve = loaded.signatures["serving_default"]
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    mask = np.zeros((2, 32, 32, 1), np.uint8)
    mask[:, 10:20, 5:25] = 255
    out = serve(image=tf.constant(image), mask=tf.constant(mask))["inpainted"].numpy()
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(out[known], image[known])
