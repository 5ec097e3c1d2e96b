"""The recipe `keras-inpaint train` and `keras_inpaint.training.train` use when none is given,
and the precisions a run may train under and an export may compute in.

Apart from `keras_inpaint.training.recipes` (which imports Keras), so that the
command line names them in `--help` without importing TensorFlow.

Example:
    >>> from keras_inpaint.default_recipe import DEFAULT_RECIPE
    >>> DEFAULT_RECIPE
    'context_encoder/builtin_64'
    >>> from keras_inpaint.default_recipe import PRECISIONS
    >>> PRECISIONS[0]
    'float32'
"""

DEFAULT_RECIPE = "context_encoder/builtin_64"
# mixed_bfloat16 where the processor has bfloat16 arithmetic, else float32
# (`keras_inpaint.hardware`, `training.recipes.resolve_precision`).
AUTO_PRECISION = "auto"
# The Keras dtype policies a run may train under (`training.precision`, `--precision`),
# or AUTO_PRECISION.
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", AUTO_PRECISION)
DEFAULT_PRECISION = "float32"
# The policies an export's generator may compute in (`keras-inpaint export --precision`).
EXPORT_PRECISIONS = ("float32", "mixed_bfloat16")
