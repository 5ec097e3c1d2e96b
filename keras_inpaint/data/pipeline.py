"""From a data spec to batches `((masked_image, mask), image)`.

A data spec (`data_pipelines/<name>.json`, or a dict) names the images, how
they are brought to the model's size, the masks and the augmentation:

```json
{
  "name": "builtin_64_boxes",
  "description": "scikit-image photographs, 64x64 random crops, 1-2 random boxes",
  "source": {"type": "builtin"},
  "image_size": 64,
  "resize": "random_crop",
  "masks": {"kind": "random_boxes", "num_boxes": [1, 2], "box_size": [16, 32]},
  "augment": {"flip": true}
}
```

- `source` (required): see `keras_inpaint.data.sources` for the types and keys.
- `masks` (required): `{"kind": ..., <parameters>}` for
  `keras_inpaint.data.masks.make_mask_fn`; `kind` is one of `masks.MASK_KINDS`.
- `image_size`: int or `[height, width]`; `build_dataset`'s argument wins.
- `resize`: `"random_crop"` (default: a random window at the photograph's own
  resolution for training, the central window for the held-out split; small
  images are scaled up first), `"center_crop"` (the largest central window
  of the right aspect ratio, resized to the size) or `"resize"` (the whole
  image resized, aspect ratio not kept).
- `augment`: see `keras_inpaint.data.augment` (training split only).
- `name`, `description`: free text.

Training batches are shuffled, augmented, repeated and reproducible: crops,
augmentations and masks use stateless seeds derived from `seed` and the
element's or batch's position. Held-out batches are the same on every call
whatever `seed`: no shuffling or augmentation, a deterministic crop (fixed
crops for the built-in photographs) and masks seeded by the batch index.

Example:
    >>> from keras_inpaint.data.pipeline import build_dataset
    >>> batches = build_dataset("builtin_64_boxes", image_size=32, batch_size=4)
    >>> (masked_image, mask), image = next(iter(batches))
    >>> tuple(mask.shape)
    (4, 32, 32, 1)
"""

import logging

import tensorflow as tf

from keras_inpaint.data import masks
from keras_inpaint.data.augment import (
    center_crop,
    center_crop_resize,
    check_augment_spec,
    make_augment_fn,
    random_crop,
    resize,
)
from keras_inpaint.data.builtin import heldout_crops
from keras_inpaint.data.sources import (
    SPLITS,
    check_source_spec,
    count_smaller_than,
    folder_files,
    image_source,
)
from keras_inpaint.images import uint8_to_model
from keras_inpaint.resources import read_json, resolve_json

SPEC_KEYS = ("name", "description", "source", "image_size", "resize", "masks", "augment")
REQUIRED_SPEC_KEYS = ("source", "masks")
RESIZE_MODES = ("random_crop", "center_crop", "resize")
# Where training masks are drawn: in this pipeline, or in the model's training step.
MASK_PLACES = ("pipeline", "step")
DEFAULT_HELDOUT_COUNT = 64

# Crops are shuffled after cropping, when they are small; a source's file
# order is shuffled as a whole before decoding (see sources.py), so this
# buffer only has to mix neighbouring images.
_SHUFFLE_BUFFER = 512

# Independent random streams derived from the user's seed.
_CROP_STREAM, _AUGMENT_STREAM, _MASK_STREAM = 1, 2, 3

logger = logging.getLogger(__name__)

# (folder, list file, size) already warned about small images, so a run that
# builds its batches several times warns once.
_WARNED_SMALL = set()
# Image headers read at most to count the small images of a folder (about 1 s).
SIZE_CHECK_LIMIT = 10_000


def load_data_spec(name_or_path):
    """Read and validate a data spec given as a name under `data_pipelines/` or a path.

    Args:
        name_or_path: e.g. `"builtin_64_boxes"` or `"my_specs/faces.json"`.

    Returns:
        the spec as a dict.

    Example:
        >>> load_data_spec("builtin_64_boxes")["source"]
        {'type': 'builtin'}
    """
    path = resolve_json("data_pipelines", name_or_path)
    spec = read_json(path, "data spec")
    try:
        validate_data_spec(spec)
    except ValueError as error:
        raise ValueError(f"data spec {str(path)!r}: {error}") from error
    return spec


def with_folder(spec, path, files=None, heldout_files=None):
    """A copy of data spec `spec` reading its images from the folder `path`.

    Masks, size and augmentation stay the spec's; `files` and `heldout_files`
    are list files naming the training and held-out images (paths relative
    to `path`; see `keras_inpaint.data.sources.read_file_list`). Without
    `heldout_files` the held-out split reuses the training images (a warning
    says so when it is read).

    Example:
        >>> spec = with_folder(load_data_spec("photos_128"), "my_photos")
        >>> spec["source"]
        {'type': 'folder', 'path': 'my_photos'}
    """
    source = {"type": "folder", "path": str(path)}
    if files is not None:
        source["files"] = str(files)
    if heldout_files is not None:
        source["heldout_files"] = str(heldout_files)
    spec = dict(spec, source=source)
    validate_data_spec(spec)
    return spec


def validate_data_spec(spec):
    """Raise ValueError naming the problem if `spec` is not a valid data spec.

    Example:
        >>> validate_data_spec({"source": {"type": "builtin"}, "masks": {"kind": "center_box"}})
    """
    if not isinstance(spec, dict):
        raise ValueError(f"a data spec must be a dict (a JSON object); got {type(spec).__name__}.")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(
            f"unknown data spec key(s) {', '.join(map(repr, unknown))}; valid keys: "
            f"{', '.join(SPEC_KEYS)}."
        )
    missing = [key for key in REQUIRED_SPEC_KEYS if key not in spec]
    if missing:
        raise ValueError(f"the data spec needs {', '.join(map(repr, missing))}.")
    check_source_spec(spec["source"])
    if "image_size" in spec:
        image_size_pair(spec["image_size"])
    if spec.get("resize", "random_crop") not in RESIZE_MODES:
        raise ValueError(
            f"unknown resize mode {spec['resize']!r}; valid modes: {', '.join(RESIZE_MODES)}."
        )
    _check_mask_spec(spec["masks"])
    check_augment_spec(spec.get("augment"))


def image_size_pair(image_size):
    """`64` or `[64, 96]` -> `(height, width)`; ValueError for anything else.

    Example:
        >>> image_size_pair(64)
        (64, 64)
    """
    if isinstance(image_size, int) and not isinstance(image_size, bool) and image_size > 0:
        return image_size, image_size
    if (
        isinstance(image_size, list | tuple)
        and len(image_size) == 2
        and all(isinstance(side, int) and not isinstance(side, bool) for side in image_size)
        and min(image_size) > 0
    ):
        return int(image_size[0]), int(image_size[1])
    raise ValueError(f"image_size must be a positive int or [height, width]; got {image_size!r}.")


def build_dataset(
    spec,
    image_size=None,
    batch_size=16,
    split="train",
    seed=0,
    repeat=None,
    shuffle=None,
    masks_in="pipeline",
):
    """Batches `((masked_image, mask), image)` for training or evaluation.

    Args:
        spec: data spec dict, or its name / path (`load_data_spec`).
        image_size: int or `(height, width)`; None uses the spec's `image_size`.
        batch_size: images per batch. Training drops the last partial batch;
            the held-out split keeps it.
        split: `"train"` or `"heldout"`.
        seed: int; the training split's shuffling, crops, augmentation and
            masks follow from it. The held-out split ignores it unless
            `shuffle=True`.
        repeat: repeat forever; default True for training, False for held-out.
        shuffle: shuffle the images; default True for training, False for held-out.
        masks_in: `"pipeline"` (masks drawn here) or `"step"`: the training
            split yields the images alone, for a model that draws the spec's
            masks in its training step (`Inpainter(step_masks=...)`). The
            held-out split always carries its masks.

    Returns:
        `tf.data.Dataset` of `((masked_image, mask), image)`: float32
        `(B, H, W, 3)` in [-1, 1], float32 `(B, H, W, 1)` with 1 = hole, and the
        ground truth `(B, H, W, 3)`; `masked_image = image * (1 - mask)`. With
        `masks_in="step"`, of the images `(B, H, W, 3)` alone.

    Example:
        >>> batches = build_dataset("builtin_64_boxes", batch_size=2, split="heldout")
        >>> sum(1 for _ in batches)
        32
    """
    if not isinstance(spec, dict):
        spec = load_data_spec(spec)
    validate_data_spec(spec)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}.")
    if image_size is None and "image_size" not in spec:
        raise ValueError("no image_size: pass image_size or give the data spec one.")
    size = image_size_pair(spec["image_size"] if image_size is None else image_size)
    training = split == "train"
    if masks_in not in MASK_PLACES:
        raise ValueError(f"masks_in={masks_in!r}: use one of {', '.join(MASK_PLACES)}.")
    if masks_in == "step" and not training:
        raise ValueError(
            "masks_in='step' is for the training split; the held-out split carries its own "
            "masks, so that every evaluation scores the same holes."
        )
    repeat = training if repeat is None else repeat
    shuffle = training if shuffle is None else shuffle
    mask_fn = masks.make_mask_fn(spec["masks"])
    if training:
        warn_small_images(spec["source"], size)
        images = _training_images(spec, size, seed, repeat, shuffle)
        batches = images.batch(batch_size, drop_remainder=True)
        if masks_in == "step":
            return batches.prefetch(tf.data.AUTOTUNE)
        mask_seed = tf.constant([seed, _MASK_STREAM], tf.int64)
    else:
        images = _heldout_images(spec, size, seed, shuffle)
        batches = images.batch(batch_size)
        mask_seed = tf.constant([0, _MASK_STREAM], tf.int64)
    batches = _add_masks(batches, mask_fn, size, mask_seed)
    if repeat and not training:
        batches = batches.repeat()
    return batches.prefetch(tf.data.AUTOTUNE)


def warn_small_images(source_spec, size):
    """Warn once when training images of a folder source are smaller than `size`.

    They are scaled up to cover it (`random_crop`, `center_crop`) or to it
    (`resize`), so they train the model on blurred pixels; the warning says
    how many there are. Only image headers are read; in a folder of more
    than `SIZE_CHECK_LIMIT` images an evenly spread sample of that many is
    read and the count is scaled up ("about N of the M").
    """
    if source_spec["type"] != "folder":
        return
    key = (str(source_spec["path"]), str(source_spec.get("files")), tuple(size))
    if key in _WARNED_SMALL:
        return
    _WARNED_SMALL.add(key)
    files = folder_files(source_spec["path"], source_spec.get("files"))
    step = -(-len(files) // SIZE_CHECK_LIMIT)
    smaller, read = count_smaller_than(files[::step], size)
    about = "about " if step > 1 else ""
    if step > 1 and read:
        smaller, read = round(smaller * len(files) / read), len(files)
    if smaller:
        logger.warning(
            "%s%d of the %d training images in %s are smaller than the %dx%d crop: they are "
            "scaled up to cover it, so they are blurrier than the rest. Leave them out, or "
            "train at a smaller image_size, to train on sharp pixels only.",
            about,
            smaller,
            read,
            source_spec["path"],
            size[0],
            size[1],
        )


def _check_mask_spec(mask_spec):
    # make_mask_fn checks the kind and the kind's own parameters.
    try:
        masks.make_mask_fn(mask_spec)
    except ValueError as error:
        raise ValueError(f"the data spec's 'masks': {error}") from error


def _training_images(spec, size, seed, repeat, shuffle):
    source = image_source(spec["source"], "train", shuffle_seed=seed if shuffle else None)
    if repeat:
        source = source.repeat()
    mode = spec.get("resize", "random_crop")
    crop_seed = tf.constant([seed, _CROP_STREAM], tf.int64)

    def to_size(index, image):
        if mode == "random_crop":
            return random_crop(image, size, _fold_in(crop_seed, index))
        return _deterministic_size(image, size, mode)

    images = source.enumerate().map(to_size, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        images = images.shuffle(_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    augment_fn = make_augment_fn(spec.get("augment"))
    augment_seed = tf.constant([seed, _AUGMENT_STREAM], tf.int64)

    def augment(index, image):
        return augment_fn(uint8_to_model(image), _fold_in(augment_seed, index))

    return images.enumerate().map(augment, num_parallel_calls=tf.data.AUTOTUNE)


def _heldout_images(spec, size, seed, shuffle):
    source_spec = spec["source"]
    if source_spec["type"] == "builtin":
        count = source_spec.get("heldout_count", DEFAULT_HELDOUT_COUNT)
        images = tf.data.Dataset.from_tensor_slices(heldout_crops(size, count))
    else:
        mode = spec.get("resize", "random_crop")
        images = image_source(source_spec, "heldout").map(
            lambda image: _deterministic_size(image, size, mode),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if shuffle:
        images = images.shuffle(_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=False)
    return images.map(uint8_to_model, num_parallel_calls=tf.data.AUTOTUNE)


def _deterministic_size(image, size, mode):
    if mode == "resize":
        return resize(image, size)
    if mode == "center_crop":
        return center_crop_resize(image, size)
    return center_crop(image, size)


def _add_masks(batches, mask_fn, size, mask_seed):
    height, width = size

    def add(index, images):
        mask = mask_fn(tf.shape(images)[0], height, width, _fold_in(mask_seed, index))
        mask = tf.ensure_shape(tf.cast(mask, tf.float32), images.shape[:-1].concatenate([1]))
        return (images * (1.0 - mask), mask), images

    return batches.enumerate().map(add, num_parallel_calls=tf.data.AUTOTUNE)


def _fold_in(seed, index):
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(index, tf.int64))
