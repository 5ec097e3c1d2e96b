"""Presets: the folder format, loading with safe_mode, the CLI, fine-tuning, publishing."""

import json
import shlex

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import write_photos

from keras_inpaint import presets
from keras_inpaint.cli import main
from keras_inpaint.models.glcic import GLCICGenerator
from keras_inpaint.presets.preset import CONFIG_FILE, METADATA_FILE, WEIGHTS_FILE

TINY_GLCIC = {
    "image_size": None,
    "base_filters": 4,
    "dilation_rates": [1, 2, 2, 2],
    "skip_connections": True,
    "fill": "push_pull",
    "residual": True,
}


def tiny_recipe():
    return {
        "name": "tests/tiny_preset",
        "image_size": 32,
        "inpainter": {"class": "GLCICInpainter", "config": {"tc": 1000000, "td": 0}},
        "generator": {"class": "GLCICGenerator", "config": dict(TINY_GLCIC)},
        "optimizers": {"generator": {"class": "Adam", "config": {"learning_rate": 0.01}}},
        "data": "builtin_64_boxes",
        "training": {"batch_size": 4, "epochs": 1, "steps_per_epoch": 3, "validation_batches": 1},
    }


@pytest.fixture
def tiny_preset(tmp_path):
    """A preset folder holding a tiny trained-from-scratch GLCIC generator."""
    keras.utils.set_random_seed(3)
    generator = GLCICGenerator(**TINY_GLCIC)
    # Non-zero output weights, so the preset is not the bare push-pull fill.
    kernel = generator.get_layer("decoder_output_conv").kernel
    kernel.assign(np.random.default_rng(0).normal(0, 0.1, kernel.shape).astype("float32"))
    metadata = {"name": "tiny", "default": False, "family": "glcic", "recipe": tiny_recipe()}
    return presets.save(generator, tmp_path / "tiny", metadata=metadata, card="# tiny\n")


@pytest.mark.large
def test_saved_preset_has_the_layout_and_loads_with_safe_mode(tiny_preset):
    for name in (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE, "README.md"):
        assert (tiny_preset / name).is_file()
    config = json.loads((tiny_preset / CONFIG_FILE).read_text())
    assert config["class_name"] == "GLCICGenerator"
    assert config["config"]["fill"] == "push_pull"
    generator = presets.load(tiny_preset)
    assert isinstance(generator, GLCICGenerator)
    again = GLCICGenerator.from_preset(tiny_preset)
    inputs = [np.zeros((1, 16, 16, 3), "float32"), np.ones((1, 16, 16, 1), "float32")]
    np.testing.assert_array_equal(generator(inputs).numpy(), again(inputs).numpy())
    assert presets.is_preset(tiny_preset) and not presets.is_preset(tiny_preset.parent)


def test_preset_errors_name_the_fix(tmp_path, tiny_preset):
    with pytest.raises(ValueError, match="unknown preset 'no_such'.*keras-inpaint zoo"):
        presets.load("no_such")
    with pytest.raises(ValueError, match="is not a preset folder: it needs config.json"):
        presets.load(tmp_path)
    with pytest.raises(FileExistsError, match="never overwritten"):
        presets.save(presets.load(tiny_preset), tiny_preset)
    from keras_inpaint.models.pepsi import PEPSIGenerator

    with pytest.raises(ValueError, match="holds a GLCICGenerator, not a PEPSIGenerator"):
        PEPSIGenerator.from_preset(tiny_preset)


@pytest.mark.large
def test_cli_inpaint_export_and_evaluate_take_a_preset(tmp_path, tiny_preset, capsys):
    photos = write_photos(tmp_path / "photos")
    image, mask = photos / "photo_00.png", tmp_path / "mask.png"
    hole = np.zeros((40, 40, 1), np.uint8)
    hole[10:30, 12:28] = 255
    tf.io.write_file(str(mask), tf.io.encode_png(hole))
    out = tmp_path / "out.png"
    args = ["--image", str(image), "--mask", str(mask), "--out", str(out)]
    assert main(["inpaint", "--preset", str(tiny_preset), *args]) == 0
    filled = tf.io.decode_png(tf.io.read_file(str(out))).numpy()
    original = tf.io.decode_png(tf.io.read_file(str(image))).numpy()
    assert np.array_equal(filled[hole[..., 0] == 0], original[hole[..., 0] == 0])
    assert not np.array_equal(filled, original)

    assert main(["export", str(tiny_preset), "--base", str(tmp_path / "exports")]) == 0
    assert (tmp_path / "exports" / "tiny" / "1" / "saved_model.pb").is_file()

    capsys.readouterr()
    code = main(
        ["evaluate", "--photos", str(photos), "--files", str(photos / "val.txt"),
         "--preset", str(tiny_preset), "--baselines", "mean,push_pull,biharmonic"]
    )  # fmt: skip
    assert code == 0
    table = capsys.readouterr().out
    for row in ("tiny", "mean", "push_pull", "biharmonic"):
        assert f"\n{row} " in table


@pytest.mark.large
def test_train_init_preset_starts_from_the_preset_and_moves_the_weights(tmp_path, tiny_preset):
    from keras_inpaint.training import train

    photos = write_photos(tmp_path / "photos")
    summary = train(
        recipe=None,
        init_preset=tiny_preset,
        out_dir=tmp_path / "run",
        data_dir=photos,
        files=photos / "train.txt",
        heldout_files=photos / "val.txt",
        export=False,
        verbose=0,
    )
    from keras_inpaint.inference import load_model

    tuned = load_model(summary["out_dir"]).generator
    start = presets.load(tiny_preset)
    assert json.loads(json.dumps(tuned.get_config()))["fill"] == "push_pull"
    moved = [
        not np.array_equal(a, b)
        for a, b in zip(tuned.get_weights(), start.get_weights(), strict=True)
    ]
    assert any(moved)
    record = json.loads((tmp_path / "run" / "recipe.json").read_text())["init_preset"]
    assert record["name"] == "tiny" and record["recipe"] == "tests/tiny_preset"
    assert main(["preset", str(tmp_path / "run"), "--name", "tuned", "--out", str(tmp_path)]) == 0
    card = (tmp_path / "tuned" / "README.md").read_text()
    assert "| training | 3 steps of batch " in card
    assert ", fine-tuning `tiny`: " in card and " steps of `tests/tiny_preset` before them" in card
    # The preset's weights were the start: the output conv moved from them, not from zero.
    kernel = tuned.get_layer("decoder_output_conv").kernel.numpy()
    start_kernel = start.get_layer("decoder_output_conv").kernel.numpy()
    assert np.abs(kernel - start_kernel).max() < np.abs(start_kernel).max()


@pytest.mark.large
def test_init_preset_with_a_mismatched_recipe_is_a_clear_error(tmp_path, tiny_preset):
    from keras_inpaint.training import train

    with pytest.raises(ValueError, match="do not fit the recipe's ContextEncoderGenerator"):
        train(
            "context_encoder/builtin_64",
            init_preset=tiny_preset,
            out_dir=tmp_path / "run",
            steps_per_epoch=1,
            epochs=1,
            export=False,
            verbose=0,
        )


@pytest.mark.large
def test_publish_writes_a_preset_with_card_curve_and_validation(tmp_path, capsys):
    from keras_inpaint.training import train

    photos = write_photos(tmp_path / "photos")
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps(tiny_recipe()))
    train(
        recipe,
        out_dir=tmp_path / "run",
        data_dir=photos,
        files=photos / "train.txt",
        heldout_files=photos / "val.txt",
        epochs=2,
        export=False,
        verbose=0,
    )
    code = main(
        ["preset", str(tmp_path / "run"), "--name", "mine", "--out", str(tmp_path / "presets"),
         "--photos", str(photos), "--files", str(photos / "val.txt"),
         "--description", "A test preset."]
    )  # fmt: skip
    assert code == 0
    folder = tmp_path / "presets" / "mine"
    for name in ("config.json", "model.weights.h5", "metadata.json", "README.md"):
        assert (folder / name).is_file()
    for picture in ("samples.png", "curve.png"):
        assert (folder / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["steps"] == 6 and metadata["wall_time_s"] > 0
    assert metadata["precision"] == "float32"
    from keras_inpaint.presets.publish import model_card

    bf16_card = model_card({**metadata, "precision": "mixed_bfloat16"})
    assert f"steps of batch {metadata['batch_size']} in mixed_bfloat16, " in bf16_card
    assert metadata["recipe"]["name"] == "tests/tiny_preset"
    summary = metadata["validation"]["summary"]
    assert set(summary) == {"mine", "push_pull", "ns", "telea", "biharmonic", "mean"}
    assert summary["mine"]["count"] == 4
    card = (folder / "README.md").read_text()
    assert metadata["validation"]["command"] in card and "| push_pull |" in card
    assert presets.load(folder).count_params() > 0
    assert "- beats telea: " in card and "- beats mean: " in card
    assert "| method | 5-20% | 20-40% | 40-60% |" in card


def test_card_commands_name_the_photo_corpus_by_its_variable(tmp_path, monkeypatch):
    from keras_inpaint.presets.publish import shown_path

    (tmp_path / "corpus" / "images").mkdir(parents=True)
    assert shown_path(tmp_path / "corpus" / "images") == shlex.quote(
        str(tmp_path / "corpus/images")
    )
    monkeypatch.setenv("PHOTOS", str(tmp_path / "corpus"))
    assert shown_path(tmp_path / "corpus" / "images") == '"$PHOTOS/images"'
    assert shown_path(tmp_path / "corpus" / "val.txt") == '"$PHOTOS/val.txt"'
    assert shown_path(tmp_path / "elsewhere") == shlex.quote(str(tmp_path / "elsewhere"))


def test_card_targets_say_by_how_much_each_is_met_or_missed():
    from keras_inpaint.presets.publish import target_lines

    summary = {
        "mine": {"psnr": 22.9, "ssim": 0.83},
        "mean": {"psnr": 19.3, "ssim": 0.78},
        "telea": {"psnr": 22.1, "ssim": 0.8225},
        "push_pull": {"psnr": 22.4, "ssim": 0.8217},
    }
    metadata = {"name": "mine", "default": True, "validation": {"summary": summary}}
    lines = target_lines(metadata)
    assert lines[0] == "- beats mean: met (PSNR +3.60 dB, SSIM +0.0500)"
    assert lines[1] == "- beats telea: met (PSNR +0.80 dB, SSIM +0.0075)"
    assert lines[2].startswith("- default preset: best classical PSNR + 1.0 dB (23.40)")
    assert lines[2].endswith("**not met** (PSNR -0.50 dB, SSIM +0.0075)")
    summary["mine"]["ssim"] = 0.80
    assert "**not met** (PSNR +0.80 dB, SSIM -0.0225)" in target_lines(metadata)[1]
    assert len(target_lines({**metadata, "default": False})) == 2
    summary["mine"]["ssim"] = 0.82247  # a miss too small for 4 decimals is still shown
    assert "**not met** (PSNR +0.80 dB, SSIM -0.00003)" in target_lines(metadata)[1]


@pytest.mark.large
def test_serve_exports_presets_to_model_folders(tiny_preset, capsys):
    from keras_inpaint.cli import _export_presets

    (folder,) = _export_presets([str(tiny_preset)])
    assert folder.endswith("/tiny") and (tf.io.gfile.exists(f"{folder}/1/saved_model.pb"))
    assert "preset " in capsys.readouterr().err
    assert main(["serve"]) == 2
    assert "give at least one --model-dir or --preset" in capsys.readouterr().err


def test_zoo_lists_presets_with_their_validation_scores(tmp_path, tiny_preset, monkeypatch):
    from keras_inpaint import zoo

    metadata = json.loads((tiny_preset / METADATA_FILE).read_text())
    metadata["validation"] = {
        "summary": {
            "tiny": {"count": 4, "psnr": 23.5, "ssim": 0.84},
            "push_pull": {"count": 4, "psnr": 22.1, "ssim": 0.82},
        }
    }
    (tiny_preset / METADATA_FILE).write_text(json.dumps(metadata))
    monkeypatch.setattr("keras_inpaint.presets.preset.SHIPPED_DIR", tiny_preset.parent)
    (entry,) = zoo.preset_entries()
    assert entry["preset"] == "tiny" and entry["validation"]["push_pull"]["psnr"] == 22.1
    table = zoo.format_presets([entry])
    assert "tiny" in table and "23.50" in table and "22.10" in table and "0.840" in table


def test_default_preset_errors(tmp_path, tiny_preset, monkeypatch):
    monkeypatch.setattr("keras_inpaint.presets.preset.SHIPPED_DIR", tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no default preset ships"):
        presets.default_name()
    monkeypatch.setattr("keras_inpaint.presets.preset.SHIPPED_DIR", tiny_preset.parent)
    metadata = json.loads((tiny_preset / METADATA_FILE).read_text())
    (tiny_preset / METADATA_FILE).write_text(json.dumps({**metadata, "default": True}))
    assert presets.default_name() == "tiny"


def test_training_curve_reads_runs_counting_epochs_from_0_and_from_1(tmp_path):
    from keras_inpaint.presets.publish import training_curve

    rows = [
        {"epoch": str(e), "val_psnr": str(20 + e), "val_hole_psnr": str(15 + e)} for e in (1, 2)
    ]
    older = [dict(row, epoch=str(int(row["epoch"]) - 1)) for row in rows]  # before the change
    new = training_curve(rows, tmp_path / "new.png", steps_per_epoch=100).read_bytes()
    assert training_curve(older, tmp_path / "old.png", steps_per_epoch=100).read_bytes() == new
