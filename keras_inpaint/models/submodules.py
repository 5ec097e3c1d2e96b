"""Parameter counts per named part of a functional model (for `keras-inpaint zoo`).

Example:
    >>> import keras
    >>> from keras_inpaint.models.submodules import trainable_params_by_prefix
    >>> x = keras.Input((4,))
    >>> model = keras.Model(x, keras.layers.Dense(2, name="head_dense")(x))
    >>> trainable_params_by_prefix(model, ("head",))
    {'head': 10}
"""

import math


def trainable_params_by_prefix(model, parts):
    """Trainable weights of `model`'s layers grouped by the name prefix before the first `_`.

    Args:
        model: a functional model whose layer names start with `<part>_`.
        parts: the prefixes to count, in the order of the returned dict.

    Returns:
        dict part -> trainable parameter count (layers of other prefixes are ignored).
    """
    counts = dict.fromkeys(parts, 0)
    for layer in model.layers:
        part = layer.name.split("_", 1)[0]
        if part in counts:
            counts[part] += sum(math.prod(w.shape) for w in layer.trainable_weights)
    return counts
