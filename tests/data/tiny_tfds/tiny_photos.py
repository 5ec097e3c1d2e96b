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

# The folder of `<split>/*.png` the builder reads (e.g. `train/`, `test/`).
SOURCE_ENV = "KERAS_INPAINT_TINY_PHOTOS"


class TinyPhotos(tfds.core.GeneratorBasedBuilder):
    """Photos from `$KERAS_INPAINT_TINY_PHOTOS/<split>/*.png`, any size.

    Every subfolder is a split of its name: `train` and `test`, or the
    `trainA` / `trainB` / `testA` / `testB` of tfds `cycle_gan`.
    """

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        features = tfds.features.FeaturesDict(
            {"image": tfds.features.Image(shape=(None, None, 3)), "name": tfds.features.Text()}
        )
        return tfds.core.DatasetInfo(builder=self, features=features)

    def _split_generators(self, dl_manager):
        source = Path(os.environ[SOURCE_ENV])
        splits = sorted(folder for folder in source.iterdir() if folder.is_dir())
        return {folder.name: self._generate_examples(folder) for folder in splits}

    def _generate_examples(self, folder):
        for path in sorted(folder.glob("*.png")):
            yield path.name, {"image": np.asarray(Image.open(path)), "name": path.name}
