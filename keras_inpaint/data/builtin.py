"""Built-in training data: colour photographs that ship inside scikit-image.

They need no download, so the zoo trains and evaluates out of the box (the
default data spec `builtin_64_boxes`). The photographs are read from
scikit-image's own package folder (`skimage/data/`), never fetched.

- `astronaut` (512 x 512, astronaut Eileen Collins): NASA; no known copyright
  restrictions, released into the public domain.
- `coffee` (400 x 600, a cup of coffee): CC0, photographer Rachel Michetti.
- `chelsea` (300 x 451, Chelsea the cat): CC0, photographer Stefan van der Walt.
- `rocket` (427 x 640, a SpaceX Falcon 9 launch): SpaceX, released into the
  public domain.
- `motorcycle_left` (500 x 741, a motorcycle): left view of the Middlebury 2014
  stereo benchmark (Scharstein et al., GCPR 2014); scikit-image states no
  licence for it.
- `hubble_deep_field` (872 x 1000, the Hubble deep field): NASA, may be freely
  used in the public domain.

The licences are those scikit-image's `skimage.data` docstrings state.

Left out: `motorcycle_right` (nearly the same picture as the left view),
`immunohistochemistry` (microscopy) and `retina` (a fundus photograph, mostly
black border); they are not natural photographs of the kind the papers train on.

Split: the rightmost 25% of each photograph's columns is held out; training
uses the other 75%. The two regions share no pixel.

- Training draws random crops of the model's size from the six training
  regions (`keras_inpaint.data.pipeline`); a region smaller than the crop is
  scaled up first.
- Evaluation uses `heldout_crops(size, count)`: a fixed, seed-independent list
  of crops of the held-out regions, the same on every call.

Distinct crop positions (`count_crop_positions`, six photographs together):

| crop    | training regions | held-out regions |
|---------|------------------|------------------|
| 64x64   | 1,262,735        | 310,259          |
| 128x128 | 953,679          | 130,046          |
| 256x256 | 483,023          | 3,125            |

The held-out strips are narrow (113 to 250 columns), so crops wider than a
strip are scaled up from it; `heldout_crops(size, count=64)` draws 64 of them.

Example:
    >>> from keras_inpaint.data.builtin import builtin_photos, heldout_crops
    >>> len(builtin_photos("train"))
    6
    >>> heldout_crops(64, count=8).shape
    (8, 64, 64, 3)
"""

import functools
from importlib import resources

import numpy as np
import skimage.io
import tensorflow as tf

from keras_inpaint.data.augment import resize_to_cover

# name -> file in skimage/data/
BUILTIN_PHOTOS = {
    "astronaut": "astronaut.png",
    "coffee": "coffee.png",
    "chelsea": "chelsea.png",
    "rocket": "rocket.jpg",
    "motorcycle_left": "motorcycle_left.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
}
BUILTIN_SPLITS = ("train", "heldout")
HELDOUT_FRACTION = 0.25

# Held-out crop positions follow the R2 low-discrepancy sequence (Roberts,
# 2018): evenly spread over each region and fixed, unlike a seeded RNG.
_PLASTIC_NUMBER = 1.324717957244746
_R2_STEP = np.array([1.0 / _PLASTIC_NUMBER, 1.0 / _PLASTIC_NUMBER**2])


@functools.cache
def _load_photo(name):
    path = resources.files("skimage.data") / BUILTIN_PHOTOS[name]
    if not path.is_file():
        raise FileNotFoundError(
            f"the built-in photograph {name!r} is missing from scikit-image's package folder "
            f"({path}); reinstall scikit-image (pip install --force-reinstall scikit-image)."
        )
    photo = np.asarray(skimage.io.imread(str(path)))[..., :3]
    photo.flags.writeable = False  # shared by every caller through the cache
    return photo


def _split_columns(width):
    return width - round(width * HELDOUT_FRACTION)


def builtin_photos(split="train"):
    """The training or held-out regions of the built-in photographs.

    Args:
        split: `"train"` (left 75% of the columns) or `"heldout"` (right 25%).

    Returns:
        list of read-only uint8 arrays `(H, W, 3)`, one per photograph, in the
        order of `BUILTIN_PHOTOS`.

    Example:
        >>> regions = builtin_photos("heldout")
        >>> regions[0].shape
        (512, 128, 3)
    """
    if split not in BUILTIN_SPLITS:
        raise ValueError(f"unknown built-in split {split!r}; expected one of {BUILTIN_SPLITS}.")
    regions = []
    for name in BUILTIN_PHOTOS:
        photo = _load_photo(name)
        boundary = _split_columns(photo.shape[1])
        regions.append(photo[:, :boundary] if split == "train" else photo[:, boundary:])
    return regions


def builtin_images(split="train"):
    """The regions of `builtin_photos(split)` as a `tf.data.Dataset` of uint8 `(H, W, 3)`.

    Args:
        split: `"train"` or `"heldout"`.

    Returns:
        `tf.data.Dataset` of six images of different sizes.

    Example:
        >>> [tuple(image.shape) for image in builtin_images("train").take(1)]
        [(512, 384, 3)]
    """
    regions = [tf.data.Dataset.from_tensors(region) for region in builtin_photos(split)]
    return functools.reduce(tf.data.Dataset.concatenate, regions)


def heldout_crops(size, count=64):
    """A fixed list of crops of the held-out regions, identical on every call.

    Crop `i` comes from photograph `i % 6`; positions are spread evenly over the
    region and depend on nothing but `size` and `count`. A region smaller than
    the crop is scaled up first (keeping its aspect ratio).

    Args:
        size: int or `(height, width)` of each crop.
        count: number of crops.

    Returns:
        uint8 array `(count, height, width, 3)`.

    Example:
        >>> import numpy as np
        >>> np.array_equal(heldout_crops(32, count=4), heldout_crops(32, count=4))
        True
    """
    height, width = _as_size(size)
    regions = [
        np.asarray(resize_to_cover(region, (height, width))) for region in builtin_photos("heldout")
    ]
    crops = []
    for index in range(count):
        region = regions[index % len(regions)]
        fraction = ((index // len(regions) + 1) * _R2_STEP) % 1.0
        top = round(fraction[0] * (region.shape[0] - height))
        left = round(fraction[1] * (region.shape[1] - width))
        crops.append(region[top : top + height, left : left + width])
    return np.stack(crops) if crops else np.zeros((0, height, width, 3), np.uint8)


def count_crop_positions(size, split="train"):
    """How many distinct crop positions each photograph's region offers.

    Args:
        size: int or `(height, width)` of a crop.
        split: `"train"` or `"heldout"`.

    Returns:
        dict photograph name -> number of positions (after scaling up a region
        smaller than the crop).

    Example:
        >>> count_crop_positions(64)["astronaut"]
        144129
    """
    height, width = _as_size(size)
    counts = {}
    for name, region in zip(BUILTIN_PHOTOS, builtin_photos(split), strict=True):
        covered_height, covered_width = resize_to_cover(region, (height, width)).shape[:2]
        counts[name] = (covered_height - height + 1) * (covered_width - width + 1)
    return counts


def _as_size(size):
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)
