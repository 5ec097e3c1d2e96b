"""SavedModel export: TF Serving layout, signature, versions, atomic writes, reloading."""

import re
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
from test_case import assert_export_matches, random_batch

from keras_inpaint.export import export_saved_model, next_version
from keras_inpaint.models.context_encoder import ContextEncoderGenerator, ContextEncoderInpainter
from keras_inpaint.models.patch_gan import PatchGANDiscriminator


@pytest.fixture(scope="module")
def model():
    generator = ContextEncoderGenerator(
        image_size=32,
        variant="full",
        encoder_filters=[8, 8, 8],
        bottleneck=16,
        decoder_filters=[8, 8, 8],
        residual=True,
        fill="known_mean",
    )
    inpainter = ContextEncoderInpainter(
        generator, PatchGANDiscriminator(image_size=32, filters=8, num_layers=2), name="tiny"
    )
    inpainter.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    return inpainter


def test_export_reloads_in_a_fresh_process_with_the_same_pixels(model, tmp_path):
    export_dir = assert_export_matches(model, random_batch(3, 32), tmp_path)
    assert export_dir == tmp_path / "exports" / "model" / "1"


def test_saved_model_cli_shows_the_serving_signature(model, tmp_path):
    export_dir = export_saved_model(model, tmp_path, name="tiny")
    shown = subprocess.run(
        [
            "saved_model_cli",
            "show",
            "--dir",
            str(export_dir),
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for kind, name, channels in (
        ("inputs", "image", 3),
        ("inputs", "mask", 1),
        ("outputs", "inpainted", 3),
    ):
        pattern = (
            rf"{kind}\['{name}'\] tensor_info:\s+dtype: DT_UINT8\s+"
            rf"shape: \(-1, 32, 32, {channels}\)"
        )
        assert re.search(pattern, shown), (name, shown)
    assert "tensorflow/serving/predict" in shown


def test_versions_count_up_and_are_never_overwritten(model, tmp_path):
    first = export_saved_model(model, tmp_path, name="tiny")
    stamp = (first / "saved_model.pb").stat().st_mtime_ns
    second = export_saved_model(model, tmp_path, name="tiny")
    assert (first.name, second.name) == ("1", "2")
    assert (first / "saved_model.pb").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="never overwritten"):
        export_saved_model(model, tmp_path, name="tiny", version=1)


def test_a_failed_export_leaves_no_version_behind(model, tmp_path, monkeypatch):
    import tensorflow as tf

    def crash_midway(obj, export_dir, *args, **kwargs):
        (Path(export_dir) / "variables").mkdir(parents=True)
        (Path(export_dir) / "saved_model.pb").write_bytes(b"half written")
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, tmp_path, name="tiny")
    assert list((tmp_path / "tiny").iterdir()) == []
    assert next_version(tmp_path / "tiny") == 1


def test_next_version_ignores_non_numeric_folders(tmp_path):
    for name in ("1", "7", ".tmp-8-abc", "notes"):
        (tmp_path / name).mkdir()
    assert next_version(tmp_path) == 8
    assert next_version(tmp_path / "missing") == 1


def test_export_from_a_keras_file(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    export_dir = export_saved_model(path, tmp_path / "exports")
    assert export_dir == tmp_path / "exports" / "tiny" / "1"


def test_bad_sources_say_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a training run"):
        export_saved_model(tmp_path, tmp_path / "exports")
    with pytest.raises(FileNotFoundError, match="not a .keras file"):
        export_saved_model(tmp_path / "model.h5", tmp_path / "exports")


def test_known_pixels_are_bit_exact_in_the_export(model, tmp_path):
    import tensorflow as tf

    export_dir = export_saved_model(model, tmp_path, name="tiny")
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    mask = np.zeros((2, 32, 32, 1), np.uint8)
    mask[:, 10:20, 5:25] = 255
    out = serve(image=tf.constant(image), mask=tf.constant(mask))["inpainted"].numpy()
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(out[known], image[known])
