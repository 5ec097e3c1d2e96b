"""VGG16 feature losses: perceptual (feature L1) and style (Gram-matrix L1) losses.

Liu et al., "Image Inpainting for Irregular Holes Using Partial Convolutions",
ECCV 2018 (https://arxiv.org/abs/1804.07723), compare images through the
pool1, pool2 and pool3 activations `Psi_p` of an ImageNet-trained VGG16:

    perceptual(a, b) = sum_p mean |Psi_p(a) - Psi_p(b)|
    style(a, b)      = sum_p mean |G_p(a) - G_p(b)|,  G_p = Psi_p^T Psi_p / (C_p H_p W_p)

where `mean` averages over every element (the paper's `1 / N_Psi` and
`1 / (C_p C_p)` normalisations) and over the batch. `G_p` is the `C_p x C_p`
Gram matrix of layer `p`, normalised by `K_p = 1 / (C_p H_p W_p)`.

`VGG16Features` computes the features. Its input is the project's RGB in
[-1, 1]; it converts to what the Keras VGG16 weights expect (Caffe order:
BGR, 0..255, ImageNet mean subtracted) itself.

VGG16 weights: `weights="imagenet"` reads Keras's own cache,
`$KERAS_HOME/models/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`
(`~/.keras/models/...` by default), and never downloads: on a machine without
network access a missing file raises FileNotFoundError at once, naming the
file to fetch (`VGG16_NOTOP_URL`, 58 MB, the "notop" weights of
`keras.applications.VGG16`) and where to put it. A path loads that file;
`None` gives random weights (tests). A file that exists but does not load
(truncated download, another network's weights) raises ValueError naming the
file and the URL to fetch it again.

Example:
    >>> import numpy as np
    >>> from keras_inpaint.losses.perceptual import VGG16Features, perceptual_loss, style_loss
    >>> vgg = VGG16Features(weights=None)
    >>> a = np.zeros((2, 32, 32, 3), np.float32)
    >>> features_a, features_b = vgg(a), vgg(a + 0.5)
    >>> [tuple(f.shape) for f in features_a]
    [(2, 16, 16, 64), (2, 8, 8, 128), (2, 4, 4, 256)]
    >>> float(style_loss(features_a, features_a))
    0.0
"""

import os
from pathlib import Path

import keras
from keras import ops

VGG16_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG16_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + VGG16_NOTOP_FILE
)
POOL_LAYERS = ("block1_pool", "block2_pool", "block3_pool")
# Per-channel ImageNet mean of the Caffe VGG16 weights, in BGR order, 0..255 units.
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


def keras_cache_candidates():
    """Where `keras.applications` keeps downloaded weights, most likely first.

    `$KERAS_HOME/models` (default `~/.keras/models`), then `/tmp/.keras/models`,
    which Keras uses when the home folder is not writable.
    """
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return [Path(home) / "models", Path("/tmp/.keras/models")]


def resolve_vgg16_weights(weights):
    """`"imagenet"`, a path or None -> the weights file to load (or None), checked to exist.

    Raises FileNotFoundError, without touching the network, when the file is
    absent, naming the download URL and the folder to put it in.
    """
    if weights is None:
        return None
    if weights == "imagenet":
        for folder in keras_cache_candidates():
            if (folder / VGG16_NOTOP_FILE).is_file():
                return str(folder / VGG16_NOTOP_FILE)
        raise FileNotFoundError(
            f"VGG16 ImageNet weights are not in the Keras cache "
            f"({keras_cache_candidates()[0] / VGG16_NOTOP_FILE}) and are never downloaded "
            f"during training. Fetch {VGG16_NOTOP_URL} (58 MB) on a machine with network "
            f"access and copy it to {keras_cache_candidates()[0]}/, or pass its path as "
            f"`vgg_weights` / `weights`; `weights=None` gives a random VGG16 (for tests only)."
        )
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"VGG16 weights file {path} does not exist; pass the path of "
            f"{VGG16_NOTOP_FILE} (download: {VGG16_NOTOP_URL}), 'imagenet' to read it from "
            "the Keras cache, or None for random weights."
        )
    return str(path)


def vgg16_preprocess(images):
    """RGB in [-1, 1] -> the Keras VGG16 input: BGR in 0..255 minus the ImageNet mean."""
    images = ops.cast(images, "float32")
    bgr = ops.flip((images + 1.0) * 127.5, axis=-1)
    return bgr - ops.convert_to_tensor(CAFFE_BGR_MEAN, dtype="float32")


def gram_matrix(features):
    """`Psi^T Psi / (C H W)` of features `(B, H, W, C)`: shape `(B, C, C)`."""
    features = ops.cast(features, "float32")
    shape = ops.shape(features)
    flat = ops.reshape(features, (shape[0], -1, shape[3]))
    size = ops.cast(shape[1] * shape[2] * shape[3], "float32")
    return ops.einsum("bnc,bnd->bcd", flat, flat) / size


def perceptual_loss(features_true, features_pred):
    """`sum_p mean |Psi_p(pred) - Psi_p(true)|` over matching lists of feature maps."""
    return sum(
        ops.mean(ops.abs(ops.cast(pred, "float32") - ops.cast(true, "float32")))
        for true, pred in zip(features_true, features_pred, strict=True)
    )


def style_loss(features_true, features_pred):
    """`sum_p mean |G_p(pred) - G_p(true)|` (Gram matrices normalised by `C_p H_p W_p`)."""
    return sum(
        ops.mean(ops.abs(gram_matrix(pred) - gram_matrix(true)))
        for true, pred in zip(features_true, features_pred, strict=True)
    )


class VGG16Features:
    """Frozen VGG16 activations (pool1..pool3 by default) of RGB images in [-1, 1].

    A plain callable, not a Keras layer: a model holding one as an attribute
    does not save VGG16's 14.7M weights in its checkpoints and exports.

    Args:
        weights: `"imagenet"` (Keras cache only, see the module docstring), a
            path to `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5` (or any
            weights file `keras.applications.VGG16(include_top=False)` loads),
            or None for random weights.
        layer_names: VGG16 layers whose outputs are returned, in order.

    Example:
    ```python
    vgg = VGG16Features(weights="~/weights/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    pool1, pool2, pool3 = vgg(images)  # images (B, H, W, 3) in [-1, 1]
    ```
    """

    def __init__(self, weights="imagenet", layer_names=POOL_LAYERS):
        self.weights = weights
        self.layer_names = tuple(layer_names)
        path = resolve_vgg16_weights(weights)
        try:
            vgg = keras.applications.VGG16(
                include_top=False, weights=path, input_shape=(None, None, 3)
            )
        except (OSError, ValueError) as error:
            # h5py and Keras word a damaged or foreign file in many ways; name the fix.
            raise ValueError(
                f"VGG16 weights file {path} does not load ({type(error).__name__}: "
                f"{' '.join(str(error).split())[:200]}); it is truncated or not the "
                f"'notop' weights. Fetch {VGG16_NOTOP_URL} again and replace the file."
            ) from None
        vgg.trainable = False
        outputs = [vgg.get_layer(name).output for name in self.layer_names]
        self.model = keras.Model(vgg.input, outputs, name="vgg16_features")
        self.model.trainable = False

    def __call__(self, images):
        return list(self.model(vgg16_preprocess(images), training=False))
