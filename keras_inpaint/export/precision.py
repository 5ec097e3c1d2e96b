"""Exports whose generator computes in bfloat16: `keras-inpaint export --precision mixed_bfloat16`.

On a CPU with bfloat16 instructions (AVX512_BF16, AMX) the shipped presets'
serving functions ran 1.65-3.4x faster in mixed_bfloat16 than in float32, and
their validation PSNR moved by less than 0.001 dB (benchmarks/README.md,
"bfloat16 per generator"). Requests and answers stay uint8 and known pixels
stay exact: only the generator's arithmetic changes. On a CPU without
bfloat16 instructions it is slower: float32 stays the default.

Example:
    >>> from keras_inpaint import presets
    >>> model = with_precision(presets.load_inpainter("glcic_photos"), "mixed_bfloat16")
    >>> model.generator.dtype_policy.name
    'mixed_bfloat16'
"""

from keras_inpaint.default_recipe import EXPORT_PRECISIONS


def with_precision(model, precision):
    """`model` as an `Inpainter` whose generator is built under the dtype policy `precision`.

    The generator is rebuilt from its config under the policy and given the
    same weights (variables stay float32); `model` itself is returned when its
    generator already has that policy.
    """
    from keras_inpaint.models.inpainter import Inpainter
    from keras_inpaint.training.recipes import precision_policy

    if precision not in EXPORT_PRECISIONS:
        raise ValueError(
            f"an export's precision must be one of {list(EXPORT_PRECISIONS)}; got {precision!r}."
        )
    if model.generator.dtype_policy.name == precision:
        return model
    with precision_policy(precision):
        generator = type(model.generator).from_config(model.generator.get_config())
    fixed = sorted(
        layer.name for layer in _weighted_layers(generator) if layer.dtype_policy.name != precision
    )
    if fixed:
        raise ValueError(
            f"{model.name}'s generator keeps its layers' dtypes in its config ({fixed[0]} and "
            f"{len(fixed) - 1} more stay {model.generator.dtype_policy.name}; a functional "
            "keras.Model does), so it cannot be rebuilt in another precision: export it with "
            "--precision float32, or rebuild it under keras.mixed_precision.set_dtype_policy "
            "and save that model."
        )
    generator.set_weights(model.generator.get_weights())
    return Inpainter(generator, name=model.name)


def _weighted_layers(layer):
    """The layers with weights inside `layer`, through nested models' `layers`."""
    for inner in getattr(layer, "layers", ()):
        if getattr(inner, "layers", None):
            yield from _weighted_layers(inner)
        elif inner.weights:
            yield inner
