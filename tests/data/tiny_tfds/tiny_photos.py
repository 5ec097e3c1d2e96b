"""`tiny_photos`: a tfds image dataset built from a folder of PNG files, offline.

tfds looks up a builder's code path (for its checksums file) through
`importlib_resources` when the builder's module is inside a package: the
path a real tfds dataset takes on its first `download_and_prepare`. Keeping
this builder in a package makes the test take that path too.
"""

import os
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

# The folder of `train/*.png` and `test/*.png` the builder reads.
SOURCE_ENV = "KERAS_INPAINT_TINY_PHOTOS"


class TinyPhotos(tfds.core.GeneratorBasedBuilder):
    """Photos from `$KERAS_INPAINT_TINY_PHOTOS/{train,test}/*.png`, any size."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        features = tfds.features.FeaturesDict(
            {"image": tfds.features.Image(shape=(None, None, 3)), "name": tfds.features.Text()}
        )
        return tfds.core.DatasetInfo(builder=self, features=features)

    def _split_generators(self, dl_manager):
        source = Path(os.environ[SOURCE_ENV])
        return {split: self._generate_examples(source / split) for split in ("train", "test")}

    def _generate_examples(self, folder):
        for path in sorted(folder.glob("*.png")):
            yield path.name, {"image": np.asarray(Image.open(path)), "name": path.name}
