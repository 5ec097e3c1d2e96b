"""Evaluation: metrics against scikit-image, pairs folders, baselines, reports and sheets."""

import csv
import json

import cv2
import numpy as np
import pytest
import tensorflow as tf
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from keras_inpaint.baselines import BASELINES, opencv_inpaint
from keras_inpaint.comparison_sheet import comparison_sheet, select_pairs
from keras_inpaint.evaluation import (
    METRICS,
    Pair,
    dataset_pairs,
    evaluate_pairs,
    format_summary,
    load_pairs,
    pair_metrics,
    write_report,
)


def smooth_image(seed, height=48, width=40):
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    return tf.image.resize(coarse, (height, width)).numpy()[0].round().astype(np.uint8)


def box_mask(height=48, width=40):
    mask = np.zeros((height, width, 1), np.uint8)
    mask[12:30, 8:28] = 1
    return mask


def test_whole_image_metrics_equal_scikit_image():
    image, result = smooth_image(0), smooth_image(1)
    values = pair_metrics(image, result, box_mask())
    truth, output = image / 255.0, result / 255.0
    assert values["psnr"] == pytest.approx(
        peak_signal_noise_ratio(truth, output, data_range=1), rel=1e-4
    )
    expected_ssim = structural_similarity(
        truth,
        output,
        data_range=1,
        channel_axis=-1,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert values["ssim"] == pytest.approx(expected_ssim, abs=1e-4)
    assert values["l1"] == pytest.approx(np.abs(truth - output).mean(), rel=1e-5)
    assert values["l2"] == pytest.approx(((truth - output) ** 2).mean(), rel=1e-5)


def test_hole_metrics_only_see_the_hole():
    image = smooth_image(0)
    result = image.copy()
    mask = box_mask()
    result[mask[..., 0] > 0] = 0
    values = pair_metrics(image, result, mask)
    hole = mask[..., 0] > 0
    squared = ((image[hole] / 255.0 - result[hole] / 255.0) ** 2).mean()
    assert values["hole_l2"] == pytest.approx(squared, rel=1e-5)
    assert values["hole_psnr"] == pytest.approx(10 * np.log10(1 / squared), rel=1e-4)
    assert values["hole_psnr"] < values["psnr"]


def write_png(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(pixels).numpy())


def make_pairs_folder(root, sizes=((48, 40), (33, 57))):
    for index, (height, width) in enumerate(sizes):
        write_png(root / "images" / f"img{index}.png", smooth_image(index, height, width))
        write_png(root / "masks" / f"img{index}.png", box_mask(height, width) * 255)
    return root


def test_pairs_of_any_size_load_with_binary_masks(tmp_path):
    pairs = load_pairs(make_pairs_folder(tmp_path))
    assert [pair.name for pair in pairs] == ["img0", "img1"]
    assert pairs[1].image.shape == (33, 57, 3)
    assert set(np.unique(pairs[0].mask)) == {0, 1}


def test_a_mask_of_another_size_is_a_clear_error(tmp_path):
    make_pairs_folder(tmp_path)
    write_png(tmp_path / "masks" / "img1.png", box_mask(48, 40) * 255)
    with pytest.raises(ValueError, match="img1.png is 40x48 but .*img1.png is 57x33"):
        load_pairs(tmp_path)


def test_a_missing_mask_names_the_file(tmp_path):
    make_pairs_folder(tmp_path)
    (tmp_path / "masks" / "img1.png").unlink()
    with pytest.raises(ValueError, match="img1.png has no mask"):
        load_pairs(tmp_path)


def test_orphan_masks_and_missing_folders_are_errors(tmp_path):
    make_pairs_folder(tmp_path)
    write_png(tmp_path / "masks" / "stray.png", box_mask() * 255)
    with pytest.raises(ValueError, match="masks without an image.*stray"):
        load_pairs(tmp_path)
    with pytest.raises(FileNotFoundError, match="images/ and masks/"):
        load_pairs(tmp_path / "nowhere")


def test_telea_row_matches_a_direct_cv2_call():
    image, mask = smooth_image(3), box_mask()
    direct = cv2.inpaint(image, mask[..., 0], 3, cv2.INPAINT_TELEA)
    report = evaluate_pairs([Pair("a", image, mask)], {"telea": BASELINES["telea"]})
    np.testing.assert_array_equal(opencv_inpaint(image[None], mask[None])[0], direct)
    assert report["rows"][0] == {
        "image": "a",
        "method": "telea",
        "hole_ratio": pytest.approx(mask.mean()),
        **pair_metrics(image, direct, mask),
    }


def test_report_summary_buckets_and_files(tmp_path):
    pairs = load_pairs(make_pairs_folder(tmp_path / "pairs"))
    ticks = []
    report = evaluate_pairs(
        pairs,
        {name: BASELINES[name] for name in ("mean", "telea", "ns")},
        progress=lambda done, total: ticks.append((done, total)),
    )
    assert ticks == [(1, 2), (2, 2)]
    assert set(report["summary"]) == {"mean", "telea", "ns"}
    assert report["summary"]["mean"]["count"] == 2
    # Telea follows the smooth gradients; a flat mean cannot.
    assert report["summary"]["telea"]["hole_psnr"] > report["summary"]["mean"]["hole_psnr"]
    ratio = pairs[0].hole_ratio
    bucket = f"{int(ratio * 10) * 10}-{int(ratio * 10) * 10 + 10}%"
    assert bucket in report["buckets"]["mean"]
    write_report(report, tmp_path / "r.json", tmp_path / "r.csv")
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["ns"]["count"] == 2
    with open(tmp_path / "r.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and set(METRICS) <= set(rows[0])
    assert format_summary(report).splitlines()[0].split()[0] == "method"


@pytest.mark.large
def test_dataset_pairs_are_seeded(tmp_path):
    source = {"type": "builtin"}
    spec = {"kind": "random_boxes", "box_size": [8, 16]}
    first = dataset_pairs(source, spec, size=32, count=3, seed=5)
    again = dataset_pairs(source, spec, size=32, count=3, seed=5)
    other = dataset_pairs(source, spec, size=32, count=3, seed=6)
    assert [p.image.shape for p in first] == [(32, 32, 3)] * 3
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a.mask, b.mask) for a, b in zip(first, other, strict=True))


def test_dataset_pairs_from_tfds(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        pairs = dataset_pairs(
            {"type": "tfds", "name": "cifar10", "heldout_split": "test"},
            {"kind": "center_box"},
            size=32,
            count=2,
        )
    assert len(pairs) == 2 and pairs[0].mask.sum() == 16 * 16


@pytest.mark.large
def test_comparison_sheet_draws_one_row_per_pair(tmp_path):
    pairs = load_pairs(make_pairs_folder(tmp_path / "pairs"))
    methods = {"mean": BASELINES["mean"], "telea": BASELINES["telea"]}
    report = evaluate_pairs(pairs, methods)
    worst = select_pairs(report, pairs, how="worst")
    assert 1 <= len(worst) <= 2
    path = comparison_sheet(pairs, methods, tmp_path / "sheet.png", scores=report["rows"])
    sheet = tf.io.decode_png(path.read_bytes()).numpy()
    assert sheet.shape[0] > sheet.shape[1] / 4 * 2 * 0.5 and sheet.shape[1] >= 400
