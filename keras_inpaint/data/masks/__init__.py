"""Hole masks for inpainting, as batched, seedable TensorFlow ops.

Every generator returns float32 masks of shape `(B, H, W, 1)` with **1 = hole
(to fill) and 0 = known**, the project's convention. They are pure TensorFlow
ops: they run eagerly, inside `tf.data.Dataset.map` and inside a `tf.function`
(for example a `train_step` on an accelerator), and one call makes the whole
batch. `batch_size` may be a Python int or a scalar int tensor (a dynamic batch
size is fine); `height` and `width` must be known when the function is traced
(Python ints or constant tensors). Every kind, hole-ratio fitting included,
has fixed shapes and compiles with XLA (`tf.function(jit_compile=True)`, with
a static batch size), with the same shapes and hole-ratio ranges. Under XLA
a seed gives the same masks on every call; `center_box`, `random_boxes` and
`random_region` give the eager masks bit for bit, while the stroke kinds
(`irregular_strokes`, `free_form`) round their trigonometry differently, so
a few pixels along their edges can differ from the eager masks.

Random generators take a stateless seed, an int32/int64 tensor (or pair) of
shape `[2]`: the same seed gives identical masks eagerly, in `tf.data` and in
a `tf.function`.

Kinds (papers in `kinds`): `center_box`, `random_boxes`, `random_region`,
`irregular_strokes`, `free_form`; `from_files` / `load_mask_file` and the
`files` kind read masks from image files; the `mixture` kind draws each
image's mask from one of several specs. `make_mask_fn` builds any of them
from a JSON-able spec (the `masks` entry of a data spec); `MASK_KINDS` lists
the kinds.

Modules, each importing only the ones below it:

- `spec`: `make_mask_fn`, `MASK_KINDS`, the `mixture` kind.
- `files`: `load_mask_file`, `from_files`, the `files` kind.
- `kinds`: one function per generated kind, their table (`GENERATORS`) and
  their options' checks (`OPTION_CHECKS`); a new kind is added there
  (docs/ARCHITECTURE.md, "How to add a mask kind").
- `fitting`: hole-ratio fitting of the shape kinds.
- `raster`: capsules, boxes and a field's top pixels to masks.
- `draws`: stateless random numbers and stroke shapes.
- `checks`: value checks with the errors users see.

Example:

>>> from keras_inpaint.data import masks
>>> batch = masks.make_mask_fn({"kind": "free_form"})(4, 64, 64, seed=(1, 2))
>>> batch.shape
TensorShape([4, 64, 64, 1])
>>> sorted(set(batch.numpy().ravel().tolist()))
[0.0, 1.0]
"""

from keras_inpaint.data.masks.files import from_files, load_mask_file
from keras_inpaint.data.masks.kinds import (
    center_box,
    free_form,
    irregular_strokes,
    random_boxes,
    random_region,
)
from keras_inpaint.data.masks.spec import MASK_KINDS, make_mask_fn

__all__ = [
    "MASK_KINDS",
    "center_box",
    "free_form",
    "from_files",
    "irregular_strokes",
    "load_mask_file",
    "make_mask_fn",
    "random_boxes",
    "random_region",
]
