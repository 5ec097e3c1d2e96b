"""Mask specs: `make_mask_fn` turns a JSON-able spec into a mask function.

A spec is the `masks` entry of a data spec: `{"kind": ..., **options}`, with
`kind` one of `MASK_KINDS`. The generated kinds are `kinds.GENERATORS` (their
options are the generators' keyword arguments, checked by
`kinds.OPTION_CHECKS` before any image size is known); `files` reads mask
files (`files.files_mask_fn`); `mixture` gives each image the mask of one of
several specs, e.g. free-form strokes or boxes in three hole-ratio buckets
(the presets' training and validation masks). The top of the masks package:
imports `kinds` and `files`, and nothing imports it but the package.

Example:

>>> MASK_KINDS[:2], MASK_KINDS[-2:]
(('center_box', 'random_boxes'), ('files', 'mixture'))
>>> mask_fn = make_mask_fn({"kind": "mixture", "cycle": True, "components": [
...     {"kind": "center_box"}, {"kind": "random_region", "hole_ratio": [0.5, 0.5]}]})
>>> tf.reduce_mean(mask_fn(2, 32, 32, tf.constant([1, 2])), axis=[1, 2, 3]).numpy().tolist()
[0.25, 0.5]
"""

import inspect
from collections.abc import Mapping

import tensorflow as tf

from keras_inpaint.data.masks import kinds
from keras_inpaint.data.masks.files import files_mask_fn

MASK_KINDS = (*kinds.GENERATORS, "files", "mixture")


def make_mask_fn(spec):
    """Builds a mask function from a spec (the `masks` entry of a data spec).

    `spec["kind"]` is one of `MASK_KINDS`; the other keys are the keyword
    arguments of that generator (JSON lists are accepted for ranges). The kind
    `"files"` takes one key, `"pattern"`, a glob of mask files; its function
    picks one file per image by the seed and resizes it. The files are read
    once per image size, when the function is first called (or traced).

    Args:
        spec: mapping with `"kind"` and the generator's options.

    Returns:
        `fn(batch_size, height, width, seed)` returning float32 masks
        `(batch_size, height, width, 1)`; kinds without a seed (`center_box`)
        ignore it.

    Raises:
        ValueError: unknown kind or option (the message lists the valid ones).
        FileNotFoundError: a `"files"` pattern matches nothing.

    Example:

    >>> mask_fn = make_mask_fn({"kind": "random_boxes", "num_boxes": [1, 2], "box_size": [16, 32]})
    >>> mask_fn(8, 64, 64, tf.constant([1, 2])).shape
    TensorShape([8, 64, 64, 1])
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"a mask spec must be a mapping with a 'kind', got {spec!r}")
    options = {key: _from_json(value) for key, value in spec.items() if key != "kind"}
    kind = spec.get("kind")
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; valid kinds: {', '.join(MASK_KINDS)}")
    if kind == "mixture":
        _check_options(kind, options, ("components", "cycle"))
        return _mixture_mask_fn(spec.get("components"), bool(spec.get("cycle", False)))
    if kind == "files":
        _check_options(kind, options, ("pattern",))
        if "pattern" not in options:
            raise ValueError("mask kind 'files' needs a 'pattern' (a glob of mask files)")
        return files_mask_fn(options["pattern"])
    generator = kinds.GENERATORS[kind]
    positional = ("batch_size", "height", "width", "seed")
    parameters = inspect.signature(generator).parameters
    _check_options(kind, options, tuple(name for name in parameters if name not in positional))
    for name, value in options.items():
        if value is not None or parameters[name].default is not None:
            kinds.OPTION_CHECKS[name](value, name)
    if "seed" not in parameters:
        return lambda batch_size, height, width, seed=None: generator(
            batch_size, height, width, **options
        )
    return lambda batch_size, height, width, seed: generator(
        batch_size, height, width, seed, **options
    )


def _mixture_mask_fn(components, cycle):
    """Each image's mask from one component spec: the `n`-th image of a batch takes
    component `n % len(components)` when `cycle`, else one drawn by the seed."""
    if not isinstance(components, list) or not components:
        raise ValueError(
            "mask kind 'mixture' needs 'components': a non-empty list of mask specs, "
            'e.g. [{"kind": "free_form"}, {"kind": "random_boxes"}]'
        )
    if any(isinstance(c, Mapping) and c.get("kind") == "mixture" for c in components):
        raise ValueError("a 'mixture' component cannot itself be a 'mixture'; list its parts")
    mask_fns = [make_mask_fn(component) for component in components]

    def mixture(batch_size, height, width, seed):
        seed = tf.cast(seed, tf.int64)
        if cycle:
            choice = tf.range(batch_size, dtype=tf.int64) % len(mask_fns)
        else:
            choice_seed = tf.random.experimental.stateless_fold_in(seed, len(mask_fns))
            choice = tf.random.stateless_uniform(
                [batch_size], choice_seed, 0, len(mask_fns), dtype=tf.int64
            )
        masks = tf.zeros([batch_size, height, width, 1], tf.float32)
        for index, mask_fn in enumerate(mask_fns):
            drawn = mask_fn(
                batch_size, height, width, tf.random.experimental.stateless_fold_in(seed, index)
            )
            masks = tf.where(tf.reshape(choice == index, [-1, 1, 1, 1]), drawn, masks)
        return masks

    return mixture


def _from_json(value):
    """JSON gives lists where the generators document tuples."""
    if isinstance(value, list):
        return tuple(_from_json(item) for item in value)
    return value


def _check_options(kind, options, valid):
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for mask kind {kind!r}; "
            f"valid options: {', '.join(valid)}"
        )
