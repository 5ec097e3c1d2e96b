"""Bad input to `keras-inpaint evaluate` and `evaluation.load_pairs`: a rule or a clear error.

Case ids (`eval-...`) are the rows of docs/RELIABILITY.md's catalogue; the
last test keeps the two in step.
"""

import json

import numpy as np
import pytest
from bad_input_support import (
    box_mask,
    case_ids,
    damaged_files,
    documented_case_ids,
    photo,
    write_png,
)

from keras_inpaint.cli import main
from keras_inpaint.evaluation import load_pairs


def pairs_folder(root, count=2, masks=None):
    """`root/images/pN.png` and `root/masks/pN.png`; `masks` maps N to a mask array."""
    for index in range(count):
        write_png(root / "images" / f"p{index}.png", photo(index))
        mask = (masks or {}).get(index, box_mask())
        write_png(root / "masks" / f"p{index}.png", mask)
    return root


def _damaged_image(root, name):
    folder = pairs_folder(root)
    bad = damaged_files(root / "bad")[name]
    (folder / "images" / "p0.png").write_bytes(bad.read_bytes())
    return folder


def _extra(root, relative, content=b""):
    folder = pairs_folder(root)
    path = folder / relative
    if isinstance(content, np.ndarray):
        write_png(path, content)
    else:
        path.write_bytes(content)
    return folder


def _no_masks_folder(root):
    write_png(root / "images" / "p0.png", photo(0))
    return root


def _empty_images(root):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "images" / "README.txt").write_text("the photographs go here")
    return root


# (pairs folder builder(root) -> folder, message): `--pairs FOLDER --baselines mean`.
PAIRS_ERRORS = [
    pytest.param(
        lambda root: root / "nowhere",
        "pairs folder {root}/nowhere does not exist; pass a folder holding images/ and masks/",
        id="eval-missing-folder",
    ),
    pytest.param(
        _no_masks_folder,
        "{root}/masks is missing: a pairs folder holds images/ and masks/",
        id="eval-no-masks-folder",
    ),
    pytest.param(
        _empty_images,
        "{root}/images holds no image; accepted extensions (any case): .png, .jpg, .jpeg, .bmp",
        id="eval-empty-folder",
    ),
    pytest.param(
        # 24 wide, 16 high: the message must say which number is which.
        lambda root: pairs_folder(root, masks={1: box_mask()[:16, :24]}),
        "p1.png is 24x16 but {root}/images/p1.png is 32x32 (width x height); masks must",
        id="eval-mask-size",
    ),
    pytest.param(
        lambda root: _extra(root, "images/p9.png", photo(9)),
        "images/p9.png has no mask: expected {root}/masks/p9.png",
        id="eval-image-without-mask",
    ),
    pytest.param(
        lambda root: _extra(root, "masks/p9.png", box_mask()),
        "masks without an image in {root}/images: p9",
        id="eval-mask-without-image",
    ),
    pytest.param(
        lambda root: _extra(root, "images/p0.jpg", photo(0)),
        "p0.jpg and p0.png in {root}/images share the name 'p0'",
        id="eval-duplicate-names",
    ),
    pytest.param(
        lambda root: _damaged_image(root, "truncated.png"),
        "p0.png is not a readable image (Invalid PNG data",
        id="eval-truncated-png",
    ),
    pytest.param(
        lambda root: _damaged_image(root, "corrupt.jpg"),
        "p0.png is not a readable image (",
        id="eval-corrupt-jpeg",
    ),
    pytest.param(
        lambda root: _damaged_image(root, "notes.png"),
        "p0.png is not a readable image (Unknown image file format",
        id="eval-non-image",
    ),
    pytest.param(
        lambda root: pairs_folder(root, count=1, masks={0: np.zeros((32, 32, 1), np.uint8)}),
        "none of the 1 masks has a hole (every mask is black)",
        id="eval-only-empty-masks",
    ),
]


def fill(text, **values):
    """`text` with each `{name}` replaced (JSON braces in the text stay as they are)."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def run_main(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.err


@pytest.mark.parametrize(("make_folder", "message"), PAIRS_ERRORS)
def test_bad_pairs_folders_are_one_line_errors(tmp_path, capsys, make_folder, message):
    root = tmp_path / "pairs"
    folder = make_folder(root)
    status, err = run_main(["evaluate", "--pairs", str(folder), "--baselines", "mean"], capsys)
    assert status == 2, err
    assert err.startswith("keras-inpaint evaluate: error: ") and err.count("\n") == 1, err
    assert message.format(root=root) in err, err


# (evaluate arguments, message): other sources and options.
OPTION_ERRORS = [
    pytest.param(
        ["--tfds", "cifar100000", "--masks", '{"kind": "random_boxes"}'],
        "unknown tfds dataset 'cifar100000'. Did you mean cifar100",
        id="eval-unknown-tfds",
    ),
    pytest.param(
        ["--tfds", "cifar10", "--masks", "{oops"],
        "is neither a JSON object nor a .json file",
        id="eval-masks-bad-json",
    ),
    pytest.param(
        ["--tfds", "cifar10", "--masks", "{tmp}/masks.json"],
        "--masks file {tmp}/masks.json does not exist",
        id="eval-masks-file-missing",
    ),
    pytest.param(
        ["--tfds", "cifar10", "--masks", '{"kind": "boxes"}'],
        "unknown mask kind 'boxes'; valid kinds: ",
        id="eval-unknown-mask-kind",
    ),
    pytest.param(
        ["--data", "builtin_64_box"], "did you mean builtin_64_boxes", id="eval-unknown-data-spec"
    ),
    pytest.param(
        ["--pairs", "{pairs}", "--baselines", "magic"],
        "unknown baseline 'magic'; choose from ['biharmonic', 'mean', 'ns', 'push_pull', 'telea']",
        id="eval-unknown-baseline",
    ),
    pytest.param(
        ["--pairs", "{pairs}", "--model", "{tmp}/nowhere"],
        "model path {tmp}/nowhere does not exist; pass an export version folder",
        id="eval-missing-model",
    ),
    pytest.param(
        ["--data", "builtin_64_boxes", "--count", "0"],
        "argument --count: 0 must be 1 or more",
        id="eval-count-zero",
    ),
]


@pytest.mark.parametrize(("arguments", "message"), OPTION_ERRORS)
def test_bad_sources_and_options_are_clear_errors(tmp_path, capsys, arguments, message):
    pairs = pairs_folder(tmp_path / "pairs", count=1)
    values = {"tmp": tmp_path, "pairs": pairs}
    argv = ["evaluate", *(fill(argument, **values) for argument in arguments)]
    if "--baselines" not in argv:
        argv += ["--baselines", "mean"]
    status, err = run_main(argv, capsys)
    assert status == 2, err
    assert fill(message, **values) in err, err
    assert "Traceback" not in err


def test_mask_files_in_0_1_and_0_255_give_the_same_hole(tmp_path):
    """Case `eval-mask-0-1-file`: a 0/1 mask file (it looks black) is read as 0/1, not empty."""
    white = load_pairs(pairs_folder(tmp_path / "white", count=1))
    ones = load_pairs(pairs_folder(tmp_path / "ones", count=1, masks={0: box_mask(value=1)}))
    np.testing.assert_array_equal(white[0].mask, ones[0].mask)
    assert white[0].mask.sum() == (box_mask() > 0).sum()


def test_no_hole_and_all_hole_pairs(tmp_path, capsys):
    """Cases `eval-no-hole`, `eval-all-hole`, `eval-other-files-ignored`."""
    masks = {0: np.zeros((32, 32, 1), np.uint8), 1: np.full((32, 32, 1), 255, np.uint8)}
    folder = pairs_folder(tmp_path / "pairs", count=3, masks=masks)
    (folder / "images" / "README.txt").write_text("ignored: not an image extension")
    report_path = tmp_path / "report.json"
    argv = ["evaluate", "--pairs", str(folder), "--baselines", "mean", "--json", str(report_path)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "1 image(s) have no hole in their mask and are left out of the averages: p0" in err
    report = json.loads(report_path.read_text())
    assert report["no_hole"] == ["p0"]
    assert report["summary"]["mean"]["count"] == 2
    # The no-hole image is returned as is: identical pixels, so its row's PSNR is infinite.
    rows = {row["image"]: row for row in report["rows"]}
    assert rows["p0"]["psnr"] == float("inf") and np.isnan(rows["p0"]["hole_psnr"])
    # An all-hole image is scored on every pixel.
    assert rows["p1"]["hole_ratio"] == 1.0 and np.isfinite(rows["p1"]["hole_psnr"])
    assert np.isfinite(report["summary"]["mean"]["psnr"])
    assert len(rows) == 3


WORKS_BY_RULE = ["eval-mask-0-1-file", "eval-no-hole", "eval-all-hole", "eval-other-files-ignored"]


def test_docs_table_lists_every_evaluate_case():
    tested = case_ids(PAIRS_ERRORS, OPTION_ERRORS) | set(WORKS_BY_RULE)
    assert documented_case_ids("eval") == tested
