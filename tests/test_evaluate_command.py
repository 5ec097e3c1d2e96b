"""`keras-inpaint evaluate` end to end on a pairs folder, with its errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.cli import main


def write_png(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(pixels).numpy())


def make_pairs(root):
    rng = np.random.default_rng(0)
    for index in range(3):
        coarse = rng.uniform(0, 255, (1, 4, 4, 3)).astype("float32")
        image = tf.image.resize(coarse, (40, 36)).numpy()[0].round().astype(np.uint8)
        mask = np.zeros((40, 36, 1), np.uint8)
        mask[10 : 20 + index, 8:24] = 255
        write_png(root / "images" / f"p{index}.png", image)
        write_png(root / "masks" / f"p{index}.png", mask)
    return root


def test_evaluate_writes_the_table_files_and_sheet(tmp_path, capsys):
    pairs = make_pairs(tmp_path / "pairs")
    args = ["evaluate", "--pairs", str(pairs), "--baselines", "mean,telea,ns", "--buckets"]
    args += ["--json", str(tmp_path / "e.json"), "--csv", str(tmp_path / "e.csv")]
    args += ["--sheet", str(tmp_path / "sheet.png")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("method") for line in out.splitlines())
    report = json.loads((tmp_path / "e.json").read_text())
    assert set(report["summary"]) == {"mean", "telea", "ns"}
    assert len((tmp_path / "e.csv").read_text().splitlines()) == 1 + 9
    assert (tmp_path / "sheet.png").stat().st_size > 1000


def test_evaluate_errors_are_clear(tmp_path, capsys):
    pairs = make_pairs(tmp_path / "pairs")
    assert main(["evaluate", "--pairs", str(pairs), "--baselines", "magic"]) == 2
    assert "unknown baseline 'magic'" in capsys.readouterr().err
    assert main(["evaluate", "--pairs", str(pairs), "--baselines", ""]) == 2
    assert "nothing to evaluate" in capsys.readouterr().err
    assert main(["evaluate", "--tfds", "cifar10", "--masks", "{oops"]) == 2
    assert "neither a JSON object nor a .json file" in capsys.readouterr().err


@pytest.mark.large
def test_evaluate_keeps_stdout_for_the_table_and_shows_progress_on_stderr(tmp_path):
    """stdout (a pipe here) holds the table only; stderr the models loaded and a summary,
    with nothing redrawn (no `\\r`) off a terminal."""
    from test_case import tiny_context_encoder

    tiny_context_encoder(name="tiny").save(tmp_path / "tiny.keras")
    pairs = make_pairs(tmp_path / "pairs")
    command = [sys.executable, "-m", "keras_inpaint.cli", "evaluate", "--pairs", str(pairs)]
    command += ["--model", str(tmp_path / "tiny.keras"), "--baselines", "mean"]
    completed = subprocess.run(command, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    table = completed.stdout.splitlines()
    assert table[0].startswith("method ")
    assert [line.split()[0] for line in table[1:]] == ["tiny.keras", "mean"]
    assert "\r" not in completed.stderr
    lines = completed.stderr.splitlines()
    assert "loading model 1/1: tiny.keras" in lines
    assert any(line.startswith("evaluating 2 methods: 3/3 images in ") for line in lines)
    assert all(len(line) <= 100 for line in lines), lines
