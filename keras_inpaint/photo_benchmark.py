"""The presets' fixed validation benchmark: photographs centre-cropped to 256x256, seeded holes.

Every listed photograph (a corpus's `val.txt`) gives one pair: its central
256x256 window (photographs with a shorter side are scaled up first), and a
mask drawn from `BENCHMARK_MASKS[i % 6]` with the stateless seed `(seed, i)`,
`i` being the photograph's line in the list. The six specs are free-form
brush strokes and 1-3 random boxes, each with a hole of 5-20, 20-40 or
40-60 % of the image, so every hole-ratio bucket holds a third of the
photographs. Same list, same seed: same pairs, on any machine with the same
TensorFlow.

`keras-inpaint evaluate --photos DIR --files DIR/val.txt` scores presets,
models and the classical baselines on these pairs.

Example:
    >>> from keras_inpaint.photo_benchmark import benchmark_pairs
    >>> pairs = benchmark_pairs("photos/images", "photos/val.txt")  # doctest: +SKIP
    >>> pairs[0].image.shape, pairs[0].mask.shape                   # doctest: +SKIP
    ((256, 256, 3), (256, 256, 1))
"""

import numpy as np
import tensorflow as tf

BENCHMARK_SIZE = 256
HOLE_BUCKETS = ((0.05, 0.2), (0.2, 0.4), (0.4, 0.6))
# Box sides (fractions of the image) that reach each bucket's hole ratio with 1-3 boxes.
_BOX_SIZES = ((0.1, 0.6), (0.2, 0.8), (0.3, 0.9))
BENCHMARK_MASKS = tuple(
    {"kind": "free_form", "hole_ratio": list(bucket)} for bucket in HOLE_BUCKETS
) + tuple(
    {
        "kind": "random_boxes",
        "num_boxes": [1, 3],
        "box_size": list(box_size),
        "hole_ratio": list(bucket),
    }
    for bucket, box_size in zip(HOLE_BUCKETS, _BOX_SIZES, strict=True)
)


def benchmark_pairs(data_dir, files=None, size=BENCHMARK_SIZE, seed=0, count=None):
    """The benchmark's `Pair`s (see the module docstring).

    Args:
        data_dir: folder of the photographs.
        files: list file naming them (relative to `data_dir`, one a line);
            None takes every image under the folder, in sorted order.
        size: the crop side (256 for the published tables).
        seed: mask seed.
        count: only the first `count` photographs.

    Returns:
        list of `keras_inpaint.evaluation.Pair`, named after the files.
    """
    from pathlib import Path

    from keras_inpaint.data.augment import center_crop_resize
    from keras_inpaint.data.masks import make_mask_fn
    from keras_inpaint.data.sources import list_image_files, read_file_list
    from keras_inpaint.evaluation import Pair
    from keras_inpaint.inference import read_image_file

    paths = list_image_files(data_dir) if files is None else read_file_list(data_dir, files)
    paths = paths[:count] if count is not None else paths
    mask_fns = [make_mask_fn(spec) for spec in BENCHMARK_MASKS]
    pairs = []
    for index, path in enumerate(paths):
        image = read_image_file(path, channels=3)
        image = tf.cast(center_crop_resize(tf.constant(image), (size, size)), tf.uint8).numpy()
        mask_fn = mask_fns[index % len(mask_fns)]
        mask = mask_fn(1, size, size, tf.constant([seed, index], tf.int64))[0]
        pairs.append(Pair(Path(path).stem, image, mask.numpy().astype(np.uint8)))
    return pairs
