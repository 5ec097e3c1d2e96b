"""Seeded image augmentation and crop / resize helpers for the data pipeline.

Seed 002 trained on the 300-image Kaggle Monet set and enlarged it with
random flips, rotations, brightness changes, zooms and crops. Here each of
those is a stateless TensorFlow op driven by an explicit seed (an int tensor
of shape `[2]`), so the same seed always gives the same augmented image, in
eager code and inside `tf.data`.

An augmentation spec is a dict, the `"augment"` part of a data spec:

| key          | value | effect                                                        |
|--------------|-------|---------------------------------------------------------------|
| `flip`       | bool  | mirror left-right with probability 1/2                        |
| `rotation`   | float | rotate by up to `+-rotation` of a full turn (Keras's           |
|              |       | `RandomRotation` factor: 0.05 = +-18 degrees), reflect fill     |
| `brightness` | float | add up to `+-brightness` of the pixel range (Keras's           |
|              |       | `RandomBrightness` factor), then clip to [-1, 1]               |
| `zoom`       | float | scale by a factor in `[1 - zoom, 1 + zoom]`, reflect fill      |
| `crop`       | float | keep a random window `1 - crop` to 1 times the side, resized   |
|              |       | back to the full size                                          |

Rotation, zoom and crop are combined into one affine transform, so an image is
resampled once. The crop helpers at the end of the module (`random_crop`,
`center_crop`, `center_crop_resize`, `resize`, `resize_to_cover`) turn images
of any size into the model's size; they keep the input's dtype.

Example:
    >>> import tensorflow as tf
    >>> from keras_inpaint.data.augment import make_augment_fn
    >>> augment = make_augment_fn({"flip": True, "rotation": 0.05, "zoom": 0.1})
    >>> image = tf.zeros((64, 64, 3))
    >>> augment(image, tf.constant([1, 2])).shape
    TensorShape([64, 64, 3])
"""

import math

import tensorflow as tf

AUGMENT_KEYS = ("flip", "rotation", "brightness", "zoom", "crop")

# The largest sensible factor per key: a rotation of half a turn covers every
# angle; zoom 1 would allow a scale of 0; crop 1 would allow an empty window.
_FACTOR_LIMITS = {"rotation": 0.5, "brightness": 1.0, "zoom": 0.99, "crop": 0.99}


def check_augment_spec(spec):
    """Raise ValueError for unknown keys or out-of-range values of an augment spec.

    Args:
        spec: dict such as `{"flip": true, "rotation": 0.05}`; None or `{}` means
            no augmentation.

    Example:
        >>> check_augment_spec({"flip": True, "zoom": 0.1})
    """
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise ValueError(
            f"the augment spec must be a dict such as {{'flip': true}}; got {spec!r}. "
            f"Valid keys: {', '.join(AUGMENT_KEYS)}."
        )
    unknown = sorted(set(spec) - set(AUGMENT_KEYS))
    if unknown:
        raise ValueError(
            f"unknown augment key(s) {', '.join(map(repr, unknown))}; valid keys: "
            f"{', '.join(AUGMENT_KEYS)}."
        )
    if "flip" in spec and not isinstance(spec["flip"], bool):
        raise ValueError(f"augment 'flip' must be true or false; got {spec['flip']!r}.")
    for key, limit in _FACTOR_LIMITS.items():
        value = spec.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= limit:
            raise ValueError(
                f"augment {key!r} must be a number between 0 and {limit}; got {value!r}. "
                "See keras_inpaint.data.augment for what each factor means."
            )


def make_augment_fn(spec=None):
    """Build a seeded augmentation function from an augment spec.

    Args:
        spec: dict with any of the keys in `AUGMENT_KEYS` (see the module
            docstring); None or `{}` gives the identity.

    Returns:
        `augment(image, seed)`: `image` float32 `(H, W, C)` in [-1, 1], `seed` an
        int tensor of shape `[2]`; returns an image of the same shape in [-1, 1].
        The same seed gives the same result.

    Example:
        >>> import tensorflow as tf
        >>> augment = make_augment_fn({"brightness": 0.1})
        >>> image = tf.zeros((8, 8, 3))
        >>> bool(tf.reduce_all(augment(image, [0, 1]) == augment(image, [0, 1])))
        True
    """
    check_augment_spec(spec)
    spec = dict(spec or {})
    flip = spec.get("flip", False)
    rotation = float(spec.get("rotation", 0.0))
    brightness = float(spec.get("brightness", 0.0))
    zoom = float(spec.get("zoom", 0.0))
    crop = float(spec.get("crop", 0.0))
    geometric = rotation > 0 or zoom > 0 or crop > 0

    def augment(image, seed):
        image = tf.convert_to_tensor(image, tf.float32)
        flip_seed, geometry_seed, brightness_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, num=3)
        )
        if flip:
            image = tf.image.stateless_random_flip_left_right(image, flip_seed)
        if geometric:
            image = _random_affine(image, rotation, zoom, crop, geometry_seed)
        if brightness > 0:
            # Keras's factor is a fraction of the value range, which spans 2 here.
            image = tf.image.stateless_random_brightness(image, 2.0 * brightness, brightness_seed)
        return tf.clip_by_value(image, -1.0, 1.0)

    return augment


def _random_affine(image, rotation, zoom, crop, seed):
    angle_seed, zoom_seed, crop_seed, shift_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=4)
    )
    turn = 2.0 * math.pi * rotation
    angle = tf.random.stateless_uniform([], angle_seed, -turn, turn)
    zoom_scale = tf.random.stateless_uniform([], zoom_seed, 1.0 - zoom, 1.0 + zoom)
    crop_scale = tf.random.stateless_uniform([], crop_seed, 1.0 - crop, 1.0)
    size = tf.cast(tf.shape(image)[1::-1], tf.float32)  # (width, height)
    # A crop window of `crop_scale` times the side may move this far from the
    # centre and still lie inside the image.
    max_shift = (1.0 - crop_scale) * (size - 1.0) / 2.0
    shift = tf.random.stateless_uniform([2], shift_seed, -1.0, 1.0) * max_shift
    return affine_transform(image, angle, zoom_scale * crop_scale, shift)


def affine_transform(image, angle, scale, shift):
    """Rotate, scale and shift an image about its centre (bilinear, reflect fill).

    Args:
        image: float32 `(H, W, C)`.
        angle: rotation in radians.
        scale: size of the sampled window relative to the image: below 1 zooms
            in, above 1 zooms out.
        shift: `(dx, dy)` in pixels, the offset of the sampled window's centre.

    Returns:
        float32 `(H, W, C)`.

    Example:
        >>> import tensorflow as tf
        >>> image = tf.random.uniform((4, 4, 1))
        >>> out = affine_transform(image, 0.0, 1.0, [0.0, 0.0])
        >>> bool(tf.reduce_all(out == image))
        True
    """
    image = tf.convert_to_tensor(image, tf.float32)
    angle = tf.cast(angle, tf.float32)
    scale = tf.cast(scale, tf.float32)
    shift = tf.cast(shift, tf.float32)
    height_width = tf.shape(image)[:2]
    center_x = (tf.cast(height_width[1], tf.float32) - 1.0) / 2.0
    center_y = (tf.cast(height_width[0], tf.float32) - 1.0) / 2.0
    # The op maps each output pixel (x, y) to the input point
    # (a0 x + a1 y + a2, b0 x + b1 y + b2).
    a0, a1 = scale * tf.cos(angle), -scale * tf.sin(angle)
    b0, b1 = scale * tf.sin(angle), scale * tf.cos(angle)
    a2 = center_x + shift[0] - (a0 * center_x + a1 * center_y)
    b2 = center_y + shift[1] - (b0 * center_x + b1 * center_y)
    transform = tf.stack([a0, a1, a2, b0, b1, b2, 0.0, 0.0])[tf.newaxis]
    transformed = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis],
        transforms=transform,
        output_shape=height_width,
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )[0]
    return tf.ensure_shape(transformed, image.shape)


def resize_to_cover(image, size):
    """Scale an image up, keeping its aspect ratio, until it covers `size`.

    Images already at least `size` are returned unchanged, so crops keep the
    photograph's own resolution.

    Args:
        image: `(H, W, C)` tensor, uint8 or float.
        size: `(height, width)` the image must cover.

    Returns:
        `(H', W', C)` with `H' >= height` and `W' >= width`, same dtype.

    Example:
        >>> import tensorflow as tf
        >>> resize_to_cover(tf.zeros((10, 20, 3), tf.uint8), (32, 32)).shape
        TensorShape([32, 64, 3])
    """
    image = tf.convert_to_tensor(image)
    target = tf.constant(size, tf.float32)
    current = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.reduce_max(target / current)

    def scale_up():
        # Rounding makes the limiting side exactly its target; the other side
        # is at least its target because it was scaled by the larger ratio.
        new_size = tf.maximum(target, tf.round(current * scale))
        return _resize_keep_dtype(image, tf.cast(new_size, tf.int32), antialias=False)

    return tf.cond(scale > 1.0, scale_up, lambda: image)


def random_crop(image, size, seed):
    """A random `size` window of an image, scaled up first if it is smaller.

    Args:
        image: `(H, W, C)` tensor, uint8 or float.
        size: `(height, width)` of the crop.
        seed: int tensor of shape `[2]`.

    Returns:
        `(height, width, C)` tensor, same dtype.

    Example:
        >>> import tensorflow as tf
        >>> random_crop(tf.zeros((100, 80, 3), tf.uint8), (64, 64), [0, 1]).shape
        TensorShape([64, 64, 3])
    """
    image = resize_to_cover(image, size)
    channels = tf.shape(image)[2]
    crop = tf.image.stateless_random_crop(image, tf.stack([size[0], size[1], channels]), seed)
    return tf.ensure_shape(crop, (size[0], size[1], image.shape[-1]))


def center_crop(image, size):
    """The central `size` window of an image, scaled up first if it is smaller.

    Args:
        image: `(H, W, C)` tensor, uint8 or float.
        size: `(height, width)` of the crop.

    Returns:
        `(height, width, C)` tensor, same dtype.

    Example:
        >>> import tensorflow as tf
        >>> center_crop(tf.zeros((100, 80, 3), tf.uint8), (64, 64)).shape
        TensorShape([64, 64, 3])
    """
    image = resize_to_cover(image, size)
    top = (tf.shape(image)[0] - size[0]) // 2
    left = (tf.shape(image)[1] - size[1]) // 2
    crop = image[top : top + size[0], left : left + size[1]]
    return tf.ensure_shape(crop, (size[0], size[1], image.shape[-1]))


def center_crop_resize(image, size):
    """The largest central window with the aspect ratio of `size`, resized to `size`.

    Keeps the whole height or width of the photograph (faces in CelebA stay
    whole) without distorting it.

    Args:
        image: `(H, W, C)` tensor, uint8 or float.
        size: `(height, width)` of the result.

    Returns:
        `(height, width, C)` tensor, same dtype.

    Example:
        >>> import tensorflow as tf
        >>> center_crop_resize(tf.zeros((218, 178, 3), tf.uint8), (128, 128)).shape
        TensorShape([128, 128, 3])
    """
    image = tf.convert_to_tensor(image)
    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    fit = tf.minimum(height / size[0], width / size[1])
    window = tf.cast(tf.round(fit * tf.constant(size, tf.float32)), tf.int32)
    window = tf.maximum(window, 1)
    top = (tf.shape(image)[0] - window[0]) // 2
    left = (tf.shape(image)[1] - window[1]) // 2
    cropped = image[top : top + window[0], left : left + window[1]]
    return resize(cropped, size)


def resize(image, size):
    """Resize an image to `size` (aspect ratio not kept; antialiased when shrinking).

    Args:
        image: `(H, W, C)` tensor, uint8 or float.
        size: `(height, width)` of the result.

    Returns:
        `(height, width, C)` tensor, same dtype.

    Example:
        >>> import tensorflow as tf
        >>> resize(tf.zeros((218, 178, 3), tf.uint8), (64, 64)).shape
        TensorShape([64, 64, 3])
    """
    image = tf.convert_to_tensor(image)
    resized = _resize_keep_dtype(image, size, antialias=True)
    return tf.ensure_shape(resized, (size[0], size[1], image.shape[-1]))


def _resize_keep_dtype(image, size, antialias):
    resized = tf.image.resize(image, size, method="bilinear", antialias=antialias)
    if image.dtype.is_integer:
        return tf.saturate_cast(tf.round(resized), image.dtype)
    return tf.cast(resized, image.dtype)
