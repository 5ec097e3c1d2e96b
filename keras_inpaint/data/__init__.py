"""Data: image sources, masks, augmentation and the spec -> batches pipeline.

Every pipeline yields `((masked_image, mask), image)`: float32 pixels in
[-1, 1], masks `(B, H, W, 1)` with 1 = hole, `masked_image = image * (1 - mask)`
(docs/ARCHITECTURE.md).

Example:
    >>> from keras_inpaint import data
    >>> batches = data.build_dataset("builtin_64_boxes", batch_size=4)
    >>> (masked_image, mask), image = next(iter(batches))
    >>> tuple(image.shape)
    (4, 64, 64, 3)
"""

from keras_inpaint.data import augment, builtin, masks, pipeline, sources
from keras_inpaint.data.augment import AUGMENT_KEYS, make_augment_fn
from keras_inpaint.data.builtin import (
    BUILTIN_PHOTOS,
    builtin_images,
    builtin_photos,
    count_crop_positions,
    heldout_crops,
)
from keras_inpaint.data.masks import (
    MASK_KINDS,
    center_box,
    free_form,
    from_files,
    irregular_strokes,
    load_mask_file,
    make_mask_fn,
    random_boxes,
    random_region,
)
from keras_inpaint.data.pipeline import (
    RESIZE_MODES,
    SPEC_KEYS,
    build_dataset,
    load_data_spec,
    validate_data_spec,
    with_folder,
)
from keras_inpaint.data.sources import (
    IMAGE_EXTENSIONS,
    KNOWN_TFDS,
    SOURCE_TYPES,
    folder_images,
    image_source,
    read_file_list,
    tfds_images,
    tfrecord_images,
)

__all__ = [
    "AUGMENT_KEYS",
    "BUILTIN_PHOTOS",
    "IMAGE_EXTENSIONS",
    "KNOWN_TFDS",
    "MASK_KINDS",
    "RESIZE_MODES",
    "SOURCE_TYPES",
    "SPEC_KEYS",
    "augment",
    "build_dataset",
    "builtin",
    "builtin_images",
    "builtin_photos",
    "center_box",
    "count_crop_positions",
    "folder_images",
    "free_form",
    "from_files",
    "heldout_crops",
    "image_source",
    "irregular_strokes",
    "load_data_spec",
    "load_mask_file",
    "make_augment_fn",
    "make_mask_fn",
    "masks",
    "pipeline",
    "random_boxes",
    "random_region",
    "read_file_list",
    "sources",
    "tfds_images",
    "tfrecord_images",
    "validate_data_spec",
    "with_folder",
]
