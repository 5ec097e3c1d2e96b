"""Bad input to `keras-inpaint train | export | inpaint`: one error line and exit 2, or a rule.

Commands run in-process through `keras_inpaint.cli.main` (a subprocess costs
seconds of TensorFlow start-up); two real subprocesses check that no Python
traceback reaches the terminal. Case ids (`cli-...`) are the rows of
docs/RELIABILITY.md's catalogue; the last test keeps the two in step.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from bad_input_support import (
    box_mask,
    case_ids,
    damaged_files,
    damaged_keras_files,
    documented_case_ids,
    photo,
    write_jpeg,
    write_png,
)
from test_case import tiny_context_encoder

from keras_inpaint import cli
from keras_inpaint.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Good and bad inputs by name: images, masks, damaged files, models."""
    folder = tmp_path_factory.mktemp("cli")
    tiny_context_encoder(name="tiny").save(folder / "tiny.keras")
    paths = {"keras": folder / "tiny.keras", "folder": folder}
    paths.update(damaged_files(folder / "bad"))
    paths.update({f"{k}.keras": v for k, v in damaged_keras_files(folder, paths["keras"]).items()})
    pixels = photo(0)
    paths["image.png"] = write_png(folder / "image.png", pixels)
    paths["image.jpg"] = write_jpeg(folder / "image.jpg", pixels)
    paths["gray.png"] = write_png(folder / "gray.png", pixels[..., :1])
    alpha = np.full_like(pixels[..., :1], 255)
    paths["rgba.png"] = write_png(folder / "rgba.png", np.concatenate([pixels, alpha], -1))
    paths["mask.png"] = write_png(folder / "mask.png", box_mask())
    paths["mask01.png"] = write_png(folder / "mask01.png", box_mask(value=1))
    paths["mask_rgb.png"] = write_png(folder / "mask_rgb.png", box_mask().repeat(3, -1))
    # 24 wide, 16 high: the message must say which number is which.
    paths["small_mask.png"] = write_png(folder / "small_mask.png", box_mask()[:16, :24])
    paths["no_hole.png"] = write_png(folder / "no_hole.png", np.zeros((32, 32, 1), np.uint8))
    paths["all_hole.png"] = write_png(folder / "all_hole.png", np.full((32, 32, 1), 255, np.uint8))
    (folder / "run_without_checkpoint").mkdir()
    paths["run_without_checkpoint"] = folder / "run_without_checkpoint"
    return paths


def resolve(files, tmp_path, name):
    """A name from the `files` fixture, else a path under tmp_path (that may not exist)."""
    return str(files.get(name, tmp_path / name))


def inpaint_argv(files, tmp_path, image="image.png", mask="mask.png", model="keras", out=None):
    return [
        "inpaint",
        "--model",
        resolve(files, tmp_path, model),
        "--image",
        resolve(files, tmp_path, image),
        "--mask",
        resolve(files, tmp_path, mask),
        "--out",
        str(tmp_path / (out or "out.png")),
    ]


def run_main(argv, capsys):
    """`main(argv)`'s exit status and stderr; argparse's exits count as statuses too."""
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err


def assert_one_error_line(status, err, command, message):
    assert status == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 or command is None, err
    if command is not None:
        assert lines[0].startswith(f"keras-inpaint {command}: error: "), err
    assert message in err, err
    assert "Traceback" not in err


# (inpaint arguments, message).
INPAINT_ERRORS = [
    pytest.param(
        {"image": "nowhere.png"},
        "image file {tmp}/nowhere.png does not exist; give the path of a PNG",
        id="cli-inpaint-missing-image",
    ),
    pytest.param(
        {"image": "folder"}, "is a folder; give the path of a PNG", id="cli-inpaint-image-is-folder"
    ),
    pytest.param(
        {"image": "notes.png"},
        "notes.png is not a readable image (Unknown image file format",
        id="cli-inpaint-non-image",
    ),
    pytest.param(
        {"image": "empty.png"}, "empty.png is not a readable image (", id="cli-inpaint-empty-file"
    ),
    pytest.param(
        {"image": "truncated.png"},
        "truncated.png is not a readable image (Invalid PNG data",
        id="cli-inpaint-truncated-png",
    ),
    pytest.param(
        {"image": "truncated.jpg"},
        "truncated.jpg is not a readable image (",
        id="cli-inpaint-truncated-jpeg",
    ),
    pytest.param(
        {"image": "corrupt.png"},
        "corrupt.png is not a readable image (Invalid PNG",
        id="cli-inpaint-corrupt-png",
    ),
    pytest.param(
        {"image": "corrupt.jpg"},
        "the file is truncated, corrupt or not an image",
        id="cli-inpaint-corrupt-jpeg",
    ),
    pytest.param(
        {"mask": "corrupt.png"}, "corrupt.png is not a readable image", id="cli-inpaint-bad-mask"
    ),
    pytest.param(
        {"mask": "small_mask.png"},
        "the mask is 24x16 but the image is 32x32 (width x height); resize the mask",
        id="cli-inpaint-mask-size",
    ),
    pytest.param(
        {"model": "nowhere"},
        "model path {tmp}/nowhere does not exist; pass an export version folder",
        id="cli-inpaint-missing-model",
    ),
    pytest.param(
        {"model": "truncated.keras"},
        "truncated.keras is not a readable .keras file",
        id="cli-inpaint-corrupt-keras",
    ),
    pytest.param(
        {"out": "out.jpg"}, "would hold PNG data; name it with a .png", id="cli-inpaint-out-not-png"
    ),
]


def test_inpaint_with_an_unknown_preset_or_both_model_and_preset(files, tmp_path, capsys):
    argv = inpaint_argv(files, tmp_path)
    status, err = run_main([*argv, "--preset", "some_preset"], capsys)
    assert_one_error_line(status, err, "inpaint", "give --model or --preset, not both")
    without_model = [arg for arg in argv if arg not in ("--model", str(files["keras"]))]
    status, err = run_main([*without_model, "--preset", "no_such"], capsys)
    assert_one_error_line(status, err, "inpaint", "unknown preset 'no_such'; shipped presets:")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize(("arguments", "message"), INPAINT_ERRORS)
def test_inpaint_errors_are_one_line(files, tmp_path, capsys, arguments, message):
    status, err = run_main(inpaint_argv(files, tmp_path, **arguments), capsys)
    assert_one_error_line(status, err, "inpaint", message.format(tmp=tmp_path))
    assert not (tmp_path / "out.png").exists()


def decode(path):
    return tf.io.decode_png(path.read_bytes()).numpy()


# (inpaint arguments): inputs that work by a rule; same output as the plain PNG pair.
INPAINT_SAME_AS_PNG = [
    pytest.param({"mask": "mask01.png"}, id="cli-inpaint-mask-0-1-file"),
    pytest.param({"mask": "mask_rgb.png"}, id="cli-inpaint-mask-rgb-file"),
    pytest.param({"image": "rgba.png"}, id="cli-inpaint-rgba-image"),
]


@pytest.fixture(scope="module")
def reference_output(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "out.png"
    argv = ["inpaint", "--model", str(files["keras"]), "--image", str(files["image.png"])]
    assert main([*argv, "--mask", str(files["mask.png"]), "--out", str(out)]) == 0
    return decode(out)


@pytest.mark.parametrize("arguments", INPAINT_SAME_AS_PNG)
def test_inpaint_inputs_that_work_by_rule(files, tmp_path, reference_output, arguments):
    assert main(inpaint_argv(files, tmp_path, **arguments)) == 0
    np.testing.assert_array_equal(decode(tmp_path / "out.png"), reference_output)


@pytest.mark.large
def test_inpaint_other_image_formats_work(files, tmp_path):
    """Cases `cli-inpaint-jpeg-image`, `cli-inpaint-grayscale-image`: decoded to RGB."""
    for image in ("image.jpg", "gray.png"):
        assert main(inpaint_argv(files, tmp_path, image=image)) == 0
        filled = decode(tmp_path / "out.png")
        known = box_mask()[..., 0] == 0
        source = tf.io.decode_image(files[image].read_bytes(), channels=3).numpy()
        assert filled.shape == (32, 32, 3)
        np.testing.assert_array_equal(filled[known], source[known])


@pytest.mark.large
def test_inpaint_no_hole_and_all_hole_masks(files, tmp_path):
    """Cases `cli-inpaint-no-hole` (the image back, bit-exact), `cli-inpaint-all-hole`."""
    assert main(inpaint_argv(files, tmp_path, mask="no_hole.png")) == 0
    np.testing.assert_array_equal(decode(tmp_path / "out.png"), photo(0))
    assert main(inpaint_argv(files, tmp_path, mask="all_hole.png")) == 0
    filled = decode(tmp_path / "out.png")
    assert filled.shape == (32, 32, 3) and not np.array_equal(filled, photo(0))


def not_an_inpainter(files):
    import keras

    path = files["folder"] / "dense.keras"
    if not path.exists():
        keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)
    return path


# (export arguments after the source, source name, message).
EXPORT_ERRORS = [
    pytest.param(
        "nowhere", [], "model path {tmp}/nowhere does not exist", id="cli-export-missing-source"
    ),
    pytest.param(
        "truncated.keras", [], "is not a readable .keras file", id="cli-export-truncated-keras"
    ),
    pytest.param("not_zip.keras", [], "truncated or corrupt", id="cli-export-corrupt-keras"),
    pytest.param(
        "dense.keras",
        [],
        "holds a Sequential, not a keras_inpaint Inpainter",
        id="cli-export-not-inpainter",
    ),
    pytest.param(
        "run_without_checkpoint",
        [],
        "is not a training run: {folder}/run_without_checkpoint/checkpoints/last.keras is missing",
        id="cli-export-run-without-checkpoint",
    ),
    pytest.param(
        "keras",
        ["--name", "a/b"],
        "model name 'a/b' is not allowed: a model name is 1 to 255 letters",
        id="cli-export-bad-name",
    ),
    pytest.param(
        "keras", ["--version", "0"], "argument --version: 0 must be 1 or more", id="cli-export-v0"
    ),
    pytest.param(
        "keras",
        ["--max-side", "-5"],
        "argument --max-side: -5 must be 1 or more",
        id="cli-export-max-side",
    ),
]


@pytest.mark.parametrize(("source", "extra", "message"), EXPORT_ERRORS)
def test_export_refuses_bad_sources_and_options(files, tmp_path, capsys, source, extra, message):
    if source == "dense.keras":
        not_an_inpainter(files)
    files = {**files, "dense.keras": files["folder"] / "dense.keras"}
    base = tmp_path / "exports"
    argv = ["export", resolve(files, tmp_path, source), "--base", str(base), *extra]
    status, err = run_main(argv, capsys)
    command = None if message.startswith("argument") else "export"
    assert_one_error_line(
        status, err, command, message.format(tmp=tmp_path, folder=files["folder"])
    )
    # Nothing is written for a refused export.
    assert not base.exists() or not any(base.rglob("*"))


def data_spec(tmp_path, source):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"source": source, "masks": {"kind": "center_box"}}))
    return str(path)


def vgg_recipe(tmp_path):
    from keras_inpaint.training import load_recipe

    recipe = load_recipe("pconv_unet/builtin_32")
    recipe["inpainter"]["config"].update(objective="liu", vgg_weights=str(tmp_path / "vgg.h5"))
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe))
    return str(path)


def bad_json(tmp_path):
    (tmp_path / "broken.json").write_text('{"name": ')
    return str(tmp_path / "broken.json")


def a_file(tmp_path):
    (tmp_path / "photos.jpg").write_bytes(b"")
    return data_spec(tmp_path, {"type": "folder", "path": str(tmp_path / "photos.jpg")})


def empty_folder(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "README.txt").write_text("not an image")
    return data_spec(tmp_path, {"type": "folder", "path": str(tmp_path / "photos")})


# (argument builder(tmp_path) -> train arguments, message).
TRAIN_ERRORS = [
    pytest.param(
        lambda tmp_path: ["--recipe", "center128"],
        "did you mean context_encoder/center_128? available: ",
        id="cli-train-unknown-recipe",
    ),
    pytest.param(
        lambda tmp_path: ["--recipe", bad_json(tmp_path)],
        "broken.json is not valid JSON",
        id="cli-train-recipe-bad-json",
    ),
    pytest.param(
        lambda tmp_path: ["--data", "builtin_64_box"],
        "did you mean builtin_64_boxes",
        id="cli-train-unknown-data",
    ),
    pytest.param(
        lambda tmp_path: ["--data", empty_folder(tmp_path)],
        "photos' holds no images; accepted extensions",
        id="cli-train-empty-folder",
    ),
    pytest.param(
        lambda tmp_path: ["--data", data_spec(tmp_path, {"type": "folder", "path": "nowhere"})],
        "image folder 'nowhere' does not exist",
        id="cli-train-missing-folder",
    ),
    pytest.param(
        lambda tmp_path: ["--data", a_file(tmp_path)],
        "photos.jpg' is a file, not a folder",
        id="cli-train-folder-is-a-file",
    ),
    pytest.param(
        lambda tmp_path: ["--data", data_spec(tmp_path, {"type": "tfds", "name": "cifar100000"})],
        "unknown tfds dataset 'cifar100000'",
        id="cli-train-unknown-tfds",
    ),
    pytest.param(
        lambda tmp_path: ["--recipe", vgg_recipe(tmp_path)],
        "VGG16 weights file {tmp}/vgg.h5 does not exist; pass the path of",
        id="cli-train-missing-vgg",
    ),
    pytest.param(
        lambda tmp_path: ["--files", str(tmp_path / "train.txt")],
        "--files and --heldout-files name images in --data-dir: pass --data-dir too",
        id="cli-train-files-without-data-dir",
    ),
    pytest.param(
        lambda tmp_path: ["--data-dir", str(tmp_path), "--files", "nope.txt"],
        "file list 'nope.txt' does not exist; pass a text file with one image path a line",
        id="cli-train-missing-file-list",
    ),
    pytest.param(
        lambda tmp_path: ["--init-preset", "no_such_preset"],
        "unknown preset 'no_such_preset'; shipped presets:",
        id="cli-train-unknown-preset",
    ),
    pytest.param(
        lambda tmp_path: ["--steps-per-epoch", "0"],
        "argument --steps-per-epoch: 0 must be 1 or more",
        id="cli-train-zero-steps",
    ),
    pytest.param(
        lambda tmp_path: ["--batch-size", "many"],
        "argument --batch-size: 'many' is not a whole number",
        id="cli-train-batch-size-text",
    ),
]


@pytest.mark.parametrize(("arguments", "message"), TRAIN_ERRORS)
def test_train_errors_stop_before_training(tmp_path, capsys, arguments, message):
    argv = ["train", *arguments(tmp_path), "--out", str(tmp_path / "run"), "--no-export"]
    status, err = run_main(argv, capsys)
    command = None if message.startswith("argument") else "train"
    assert_one_error_line(status, err, command, message.format(tmp=tmp_path))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_unexpected_errors_are_one_line_unless_debugging(capsys, monkeypatch):
    """Cases `cli-unexpected-error`, `cli-multi-line-error`, `cli-debug`."""

    def fail(args):
        raise TypeError("boom")

    monkeypatch.setattr(cli, "_zoo", fail)
    assert main(["zoo"]) == 1
    assert capsys.readouterr().err == (
        "keras-inpaint zoo: unexpected error (TypeError: boom); run again with --debug "
        "for the traceback and report it.\n"
    )
    monkeypatch.setattr(cli, "_zoo", lambda args: (_ for _ in ()).throw(ValueError("a\n  b")))
    assert main(["zoo"]) == 2
    assert capsys.readouterr().err == "keras-inpaint zoo: error: a b\n"
    monkeypatch.setattr(cli, "_zoo", fail)
    with pytest.raises(TypeError, match="boom"):
        main(["--debug", "zoo"])
    monkeypatch.setenv("KERAS_INPAINT_DEBUG", "1")
    with pytest.raises(TypeError, match="boom"):
        main(["zoo"])


SUBPROCESS_CASES = [
    pytest.param(
        lambda files, tmp_path: inpaint_argv(files, tmp_path, image="corrupt.jpg"),
        "inpaint",
        "corrupt.jpg is not a readable image",
        id="cli-no-traceback-inpaint",
    ),
]


@pytest.mark.large
@pytest.mark.parametrize(("make_argv", "command", "message"), SUBPROCESS_CASES)
def test_a_real_process_prints_no_traceback(files, tmp_path, make_argv, command, message):
    completed = subprocess.run(
        [sys.executable, "-m", "keras_inpaint.cli", *make_argv(files, tmp_path)],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    # TensorFlow's C++ start-up notices may come first; the command's own line is last.
    last = completed.stderr.strip().splitlines()[-1]
    assert last.startswith(f"keras-inpaint {command}: error: ") and message in last, last


WORKS_BY_RULE = [
    "cli-inpaint-jpeg-image",
    "cli-inpaint-grayscale-image",
    "cli-inpaint-no-hole",
    "cli-inpaint-all-hole",
    "cli-unexpected-error",
    "cli-multi-line-error",
    "cli-debug",
]


def test_docs_table_lists_every_cli_case():
    tested = case_ids(
        INPAINT_ERRORS, INPAINT_SAME_AS_PNG, EXPORT_ERRORS, TRAIN_ERRORS, SUBPROCESS_CASES
    )
    assert documented_case_ids("cli") == tested | set(WORKS_BY_RULE)
