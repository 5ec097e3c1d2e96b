"""The recipe `keras-inpaint train` and `keras_inpaint.training.train` use when none is given.

Apart from `keras_inpaint.training.recipes` (which imports Keras), so that the
command line names it in `--help` without importing TensorFlow.

Example:
    >>> from keras_inpaint.default_recipe import DEFAULT_RECIPE
    >>> DEFAULT_RECIPE
    'context_encoder/builtin_64'
"""

DEFAULT_RECIPE = "context_encoder/builtin_64"
