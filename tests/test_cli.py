"""The `keras-inpaint` command line: zoo, export, inpaint, serve, and their errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.cli import main


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "keras_inpaint.cli", *args], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def zoo_json():
    """`keras-inpaint zoo --json`'s entries (stored counts, checked by test_zoo_counts.py)."""
    from keras_inpaint.zoo import zoo_entries, zoo_json

    return json.loads(zoo_json(zoo_entries()))


def test_zoo_json_lists_every_recipe_with_parameter_counts(zoo_json, capsys, monkeypatch):
    monkeypatch.setattr("keras_inpaint.zoo.zoo_entries", lambda: zoo_json)
    assert main(["zoo", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    entries = payload["recipes"]
    assert entries == zoo_json
    from keras_inpaint import presets

    assert [entry["preset"] for entry in payload["presets"]] == presets.list()
    by_name = {entry["recipe"]: entry for entry in entries}
    assert "context_encoder/builtin_64" in by_name
    center = by_name["context_encoder/center_128"]["networks"]
    # Pathak et al.'s center generator without the mask channel (see models/context_encoder).
    assert center["generator"]["trainable_params"] == 71_130_531
    assert set(center["generator"]["submodules"]) == {"encoder", "bottleneck", "decoder"}
    assert sum(center["generator"]["submodules"].values()) == 71_130_531
    assert center["discriminator"]["trainable_params"] == 2_766_529
    monet = by_name["patch_gan/monet_context_encoder_128"]["networks"]
    assert monet["discriminator"]["class"] == "PatchGANDiscriminator"


def test_zoo_table_is_readable(zoo_json, capsys, monkeypatch):
    monkeypatch.setattr("keras_inpaint.zoo.zoo_entries", lambda: zoo_json)
    assert main(["zoo"]) == 0
    table = capsys.readouterr().out
    assert "context_encoder/builtin_64" in table and "PatchGANDiscriminator" in table


def test_unknown_recipe_is_a_clear_error(capsys):
    assert main(["train", "--recipe", "nope", "--out", "unused"]) == 2
    assert "models entry 'nope' is not found; available:" in capsys.readouterr().err


def test_unknown_data_spec_is_a_clear_error(capsys, tmp_path):
    code = main(["train", "--data", "no_such_data", "--out", str(tmp_path / "run")])
    assert code == 2
    assert "no_such_data" in capsys.readouterr().err


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny trained-for-zero-steps model exported through the library, and a center one."""
    from test_case import tiny_context_encoder

    from keras_inpaint.export import export_saved_model

    model = tiny_context_encoder("full", name="tiny")
    folder = tmp_path_factory.mktemp("cli")
    model.save(folder / "tiny.keras")
    center = export_saved_model(tiny_context_encoder("center", name="center"), folder / "exports")
    return folder, export_saved_model(model, folder / "exports", max_side=36), center


def write_png(path, pixels):
    path.write_bytes(tf.io.encode_png(pixels).numpy())


@pytest.mark.large
def test_inpaint_fills_only_the_hole(exported, tmp_path, capsys):
    _, export_dir, _ = exported
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32, 1), np.uint8)
    mask[8:16, 8:20] = 255
    write_png(tmp_path / "in.png", image)
    write_png(tmp_path / "mask.png", mask)
    out = tmp_path / "out" / "filled.png"
    assert (
        main(
            [
                "inpaint",
                "--model",
                str(export_dir),
                "--image",
                str(tmp_path / "in.png"),
                "--mask",
                str(tmp_path / "mask.png"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    filled = tf.io.decode_png(out.read_bytes()).numpy()
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(filled[known], image[known])
    assert not np.array_equal(filled[~known], image[~known])


@pytest.mark.large
def test_inpaint_errors_name_the_problem(exported, tmp_path, capsys):
    folder, export_dir, center = exported
    write_png(tmp_path / "in.png", np.zeros((32, 32, 3), np.uint8))
    write_png(tmp_path / "small_mask.png", np.zeros((16, 16, 1), np.uint8))
    write_png(tmp_path / "big.png", np.zeros((40, 40, 3), np.uint8))
    write_png(tmp_path / "big_mask.png", np.zeros((40, 40, 1), np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    cases = [
        (export_dir, "in.png", "small_mask.png", "mask is 16x16 but the image is 32x32"),
        (center, "big.png", "big_mask.png", "takes 32x32 images but got 40x40"),
        (export_dir, "big.png", "big_mask.png", "at most 36 px on a side (export option max_side)"),
        (export_dir, "notes.txt", "small_mask.png", "not a readable image"),
        (export_dir, "missing.png", "small_mask.png", "does not exist"),
    ]
    for model, image, mask, message in cases:
        args = ["inpaint", "--model", str(model), "--out", str(tmp_path / "o.png")]
        args += ["--image", str(tmp_path / image), "--mask", str(tmp_path / mask)]
        assert main(args) == 2
        assert message in capsys.readouterr().err
    # A .keras file works as --model too, at any size (its export tiles the image).
    assert (
        main(
            [
                "inpaint",
                "--model",
                str(folder / "tiny.keras"),
                "--image",
                str(tmp_path / "big.png"),
                "--mask",
                str(tmp_path / "big.png"),
                "--out",
                str(tmp_path / "o.png"),
            ]
        )
        == 0
    )
    assert tf.io.decode_png((tmp_path / "o.png").read_bytes()).shape == (40, 40, 3)


def test_serve_defaults_to_loopback_and_tf_serving_port():
    from keras_inpaint import cli
    from keras_inpaint.export import DEFAULT_MAX_SIDE
    from keras_inpaint.serving import server

    args = cli.build_parser().parse_args(["serve", "--model-dir", "exports/a"])
    assert (args.host, args.port) == (server.DEFAULT_HOST, server.DEFAULT_PORT)
    assert (args.host, args.port) == ("127.0.0.1", 8501)
    assert args.max_request_bytes == server.DEFAULT_MAX_REQUEST_BYTES
    assert args.timeout == server.DEFAULT_TIMEOUT
    assert args.model_dir == ["exports/a"]
    assert cli.build_parser().parse_args(["export", "run", "--base", "b"]).max_side == (
        DEFAULT_MAX_SIDE
    )


@pytest.mark.large
def test_serve_errors_name_the_problem(exported, tmp_path, capsys):
    _, export_dir, _ = exported
    (tmp_path / "empty").mkdir()
    cases = [
        (tmp_path / "missing", "does not exist; pass <base>/<name> of an export"),
        (export_dir, "is a version folder; pass the model folder above it"),
        (tmp_path / "empty", "holds no version folder (1/, 2/, ...) with a saved_model.pb"),
    ]
    for model_dir, message in cases:
        assert main(["serve", "--model-dir", str(model_dir)]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.large
def test_export_command_and_script_agree(exported, tmp_path):
    folder, _, _ = exported
    completed = run_cli("export", str(folder / "tiny.keras"), "--base", str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().endswith("tiny/1")
    script = subprocess.run(
        [sys.executable, "export.py", str(folder / "tiny.keras"), "--base", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert script.returncode == 0, script.stderr
    assert script.stdout.strip().endswith("tiny/2")
    refused = run_cli(
        "export", str(folder / "tiny.keras"), "--base", str(tmp_path), "--version", "1"
    )
    assert refused.returncode == 2 and "never overwritten" in refused.stderr


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text().splitlines()
    blocks = [line for line in readme[:8] if line and not line.startswith(("#", "```"))]
    assert blocks[0] == "python -m pip install -e . && keras-inpaint train --out runs/quickstart"
    assert blocks[1] == 'python -m pip install -e ".[test]" && python -m pytest'
    assert blocks[1] in (root / ".ci" / "run").read_text().splitlines()


def test_every_train_option_has_help_naming_the_recipes_defaults():
    import argparse

    from keras_inpaint import cli
    from keras_inpaint.training.recipes import DEFAULT_RECIPE, load_recipe

    verbs = next(
        a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    actions = {action.dest: action for action in verbs.choices["train"]._actions}
    assert [dest for dest, action in actions.items() if not action.help] == []
    training = load_recipe(DEFAULT_RECIPE)["training"]
    for key in ("epochs", "steps_per_epoch", "batch_size"):
        assert f"training.{key}, {training[key]} for {DEFAULT_RECIPE}" in actions[key].help
    assert "(default %(default)s)" in actions["seed"].help and actions["seed"].default == 0
