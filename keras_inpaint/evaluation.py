"""Scoring inpainting methods on the same images and holes: PSNR, SSIM, L1, L2, whole and hole.

Two ways in:
- `compare_methods(methods, batches)`: float batches `((masked_image, mask),
  image)` from a data pipeline (what `keras-inpaint train` reports);
- `evaluate_pairs(pairs, methods)`: uint8 image/mask pairs of any size,
  from a folder (`load_pairs`) or a data set with seeded masks
  (`dataset_pairs`), scored per image, summarised per method and per
  hole-ratio bucket (what `keras-inpaint evaluate` reports).

Metrics are computed on [0, 1] pixels (data range 1): PSNR and L2 on the
mean squared error, SSIM with an 11x11 Gaussian window (sigma 1.5), L1 the
mean absolute error; `hole_*` restricts each to the hole (SSIM: windows
centred on a hole pixel). Averages are over images; images without a hole
are left out of the hole averages.

Example:
    >>> from keras_inpaint.baselines import mean_fill
    >>> from keras_inpaint.data import build_dataset
    >>> from keras_inpaint.evaluation import compare_methods
    >>> batches = build_dataset("builtin_64_boxes", 64, 8, split="heldout").take(1)
    >>> table = compare_methods({"mean_fill": mean_fill}, batches)
    >>> sorted(table["mean_fill"])[:2]
    ['hole_l1', 'hole_l2']
"""

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_inpaint import images
from keras_inpaint.metrics import image_quality, image_quality_metrics
from keras_inpaint.output_files import atomic_output, write_text

METRICS = ("psnr", "ssim", "l1", "l2", "hole_psnr", "hole_ssim", "hole_l1", "hole_l2")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
# Hole-ratio buckets of the partial-convolution paper's protocol, in 10 % steps.
BUCKET_EDGES = tuple(round(0.1 * i, 1) for i in range(11))


def compare_methods(methods, batches):
    """Score each method on every batch of `((masked_image, mask), image)`.

    Args:
        methods: dict name -> callable `(masked_image, mask) -> composite`
            (a trained `Inpainter` called on `(masked_image, mask)` works via
            `lambda x, m: model((x, m), training=False)`).
        batches: iterable of `((masked_image, mask), image)` batches.

    Returns:
        dict name -> {metric name: mean over images}; hole metrics skip
        images without a hole.
    """
    metrics = {name: image_quality_metrics() for name in methods}
    for (masked_image, mask), image in batches:
        for name, method in methods.items():
            composite = method(masked_image, mask)
            for metric in metrics[name]:
                metric.update_state(image, composite, mask)
    return {
        name: {metric.name: float(metric.result()) for metric in method_metrics}
        for name, method_metrics in metrics.items()
    }


@dataclass(frozen=True)
class Pair:
    """One evaluation case: a uint8 `(H, W, 3)` image and its `(H, W, 1)` 0/1 hole mask."""

    name: str
    image: np.ndarray
    mask: np.ndarray

    @property
    def hole_ratio(self):
        return float(self.mask.mean())


def _read(path, channels):
    from keras_inpaint.inference import read_image_file

    return read_image_file(path, channels)


def _read_mask(path):
    from keras_inpaint.inference import read_mask_file

    return read_mask_file(path)


def _images_by_stem(folder):
    files = {}
    for path in sorted(folder.iterdir()):
        if not (path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS):
            continue
        if path.stem in files:
            raise ValueError(
                f"{files[path.stem].name} and {path.name} in {folder} share the name "
                f"{path.stem!r}; masks pair with images by name, so rename or remove one."
            )
        files[path.stem] = path
    return files


def load_pairs(folder):
    """Read `folder/images/*` and `folder/masks/*`, paired by file name (white = hole).

    Masks must have their image's size (no silent resize: a resized mask
    would score a different hole); images of different sizes are fine. Mask
    files follow `keras_inpaint.images.decode_mask_file` (bright on black,
    or 0/1 values, 8 or 16 bits); images and masks are turned upright by
    their EXIF orientation. Files with other extensions (.png, .jpg, .jpeg, .bmp are
    read) are ignored; an unreadable image is an error naming the file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"pairs folder {folder} does not exist; pass a folder holding images/ and masks/."
        )
    image_dir, mask_dir = folder / "images", folder / "masks"
    for sub in (image_dir, mask_dir):
        if not sub.is_dir():
            raise FileNotFoundError(
                f"{sub} is missing: a pairs folder holds images/ and masks/, "
                "with one mask per image under the same file name (white = hole)."
            )
    image_files, mask_files = _images_by_stem(image_dir), _images_by_stem(mask_dir)
    if not image_files:
        raise ValueError(
            f"{image_dir} holds no image; accepted extensions (any case): "
            f"{', '.join(IMAGE_EXTENSIONS)}."
        )
    pairs = []
    for stem, image_path in image_files.items():
        if stem not in mask_files:
            raise ValueError(
                f"{image_path} has no mask: expected {mask_dir / stem}.png (or .jpg/.bmp)"
            )
        image = _read(image_path, 3)
        mask = _read_mask(mask_files[stem])
        if mask.shape[:2] != image.shape[:2]:
            raise ValueError(
                f"{mask_files[stem]} is {mask.shape[1]}x{mask.shape[0]} but {image_path} is "
                f"{image.shape[1]}x{image.shape[0]} (width x height); masks must have their "
                "image's size."
            )
        pairs.append(Pair(stem, image, mask))
    orphans = sorted(set(mask_files) - set(image_files))
    if orphans:
        raise ValueError(f"masks without an image in {image_dir}: {', '.join(orphans)}")
    return pairs


def dataset_pairs(source, mask_spec, size, count, seed=0, split="heldout"):
    """`count` center-cropped `size`x`size` images from a data source with seeded masks.

    Args:
        source: a data spec `source` dict (e.g. `{"type": "tfds", "name":
            "cifar10", "heldout_split": "test"}`).
        mask_spec: a mask spec dict for `keras_inpaint.data.make_mask_fn`.
        size, count: crop side and number of pairs.
        seed: mask `i` uses the stateless seed `(seed, i)`: same seed, same holes.
        split: `"train"` or `"heldout"`.
    """
    from keras_inpaint.data import image_source, make_mask_fn
    from keras_inpaint.data.augment import center_crop_resize

    mask_fn = make_mask_fn(mask_spec)
    pairs = []
    for index, image in enumerate(image_source(source, split).take(count)):
        image = tf.cast(center_crop_resize(image, (size, size)), tf.uint8).numpy()
        mask = mask_fn(1, size, size, tf.constant([seed, index]))[0].numpy().astype(np.uint8)
        pairs.append(Pair(f"{index:05d}", image, mask))
    if not pairs:
        raise ValueError(f"the data source {source} gave no image for split {split!r}")
    return pairs


def pair_metrics(image, result, mask):
    """All METRICS for one uint8 image, its uint8 result and its 0/1 mask."""
    truth = images.uint8_to_model(image[None])
    output = images.uint8_to_model(result[None])
    hole = tf.constant(mask[None], tf.float32)
    values = {}
    for region, region_mask in (("", None), ("hole_", hole)):
        for name in ("psnr", "ssim", "l1", "l2"):
            value = getattr(image_quality, name)(truth, output, mask=region_mask)
            values[region + name] = float(value[0])
    return values


def _bucket(ratio):
    for low, high in zip(BUCKET_EDGES, BUCKET_EDGES[1:], strict=False):
        if ratio <= high:
            return f"{int(low * 100)}-{int(high * 100)}%"
    return f"{int(BUCKET_EDGES[-2] * 100)}-100%"


def _mean(values):
    finite = [value for value in values if not math.isnan(value)]
    return float(np.mean(finite)) if finite else float("nan")


def summarise(rows, key):
    """Mean of every metric per group of rows sharing `key(row)`; `count` is the group size."""
    groups = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return {
        group: {"count": len(members), **{m: _mean([r[m] for r in members]) for m in METRICS}}
        for group, members in groups.items()
    }


def evaluate_pairs(pairs, methods, progress=None):
    """Run every method on every pair and score it.

    Args:
        pairs: list of `Pair`.
        methods: dict name -> callable `(image uint8 (1,H,W,3), mask uint8
            (1,H,W,1)) -> uint8 (1,H,W,3)`.
        progress: optional callable `(done, total)` for a progress display.

    Returns:
        `{"rows": [...], "summary": {method: {...}}, "buckets": {method:
        {bucket: {...}}}, "no_hole": [...]}`; each row holds `image`,
        `method`, `hole_ratio` and the METRICS. A pair whose mask has no hole
        gets its rows (every method returns the image itself: PSNR infinite,
        hole metrics NaN) but is left out of the summary and the buckets,
        which it would only inflate; `no_hole` names those pairs.
    """
    rows = []
    for done, pair in enumerate(pairs, start=1):
        for name, method in methods.items():
            result = np.asarray(method(pair.image[None], pair.mask[None]))[0]
            row = {"image": pair.name, "method": name, "hole_ratio": pair.hole_ratio}
            row.update(pair_metrics(pair.image, result, pair.mask))
            rows.append(row)
        if progress is not None:
            progress(done, len(pairs))
    scored = [row for row in rows if row["hole_ratio"] > 0]
    summary = summarise(scored, key=lambda row: row["method"])
    buckets = {
        name: summarise(
            [row for row in scored if row["method"] == name],
            key=lambda row: _bucket(row["hole_ratio"]),
        )
        for name in methods
    }
    no_hole = [pair.name for pair in pairs if pair.hole_ratio == 0]
    return {"rows": rows, "summary": summary, "buckets": buckets, "no_hole": no_hole}


def format_summary(report):
    """The summary as a fixed-width text table (one line per method)."""
    header = f"{'method':<28}" + "".join(f"{metric:>11}" for metric in METRICS)
    lines = [header]
    for name, values in report["summary"].items():
        lines.append(f"{name:<28}" + "".join(f"{values[m]:>11.4f}" for m in METRICS))
    return "\n".join(lines)


def write_report(report, json_path=None, csv_path=None):
    """Write the report as JSON (summary, buckets, rows) and/or per-image CSV rows.

    Each file is written atomically (`keras_inpaint.output_files`): a failure
    half-way leaves an earlier file of that name as it was.
    """
    if json_path:
        write_text(json_path, json.dumps(report, indent=2) + "\n")
    if csv_path:
        with atomic_output(csv_path) as partial, open(partial, "x", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["image", "method", "hole_ratio", *METRICS])
            writer.writeheader()
            writer.writerows(report["rows"])
