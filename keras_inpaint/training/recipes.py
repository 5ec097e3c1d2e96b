"""Recipes: the JSON files under `models/<entry>/` that say how to build and train a model.

A recipe names registered Keras classes and their constructor arguments, the
optimizers, the default data spec and the training length (schema in
docs/ARCHITECTURE.md). `build_inpainter` turns one into a compiled
`Inpainter`.

Example:
    >>> from keras_inpaint.training.recipes import load_recipe, build_inpainter
    >>> recipe = load_recipe("context_encoder/builtin_64")
    >>> model = build_inpainter(recipe)
    >>> model.generator.output_shape
    (None, 64, 64, 3)
"""

import contextlib
import inspect
from typing import NamedTuple

import keras

import keras_inpaint.models  # noqa: F401  (registers every zoo class)
from keras_inpaint.default_recipe import (
    AUTO_PRECISION,
    DEFAULT_PRECISION,
    DEFAULT_RECIPE,
    PRECISIONS,
)
from keras_inpaint.hardware import bfloat16_hardware
from keras_inpaint.resources import read_json, resolve_json

REQUIRED_KEYS = ("name", "image_size", "inpainter", "generator", "optimizers", "data", "training")
OPTIONAL_KEYS = ("description", "discriminator", "paper")
TRAINING_KEYS = (
    "batch_size",
    "epochs",
    "steps_per_epoch",
    "validation_batches",
    "backup_every_steps",
    "backup_every_seconds",
    "precision",
    "jit_compile",
    "masks",
)
# Where a run draws its training masks (`training.masks`, `--masks`): in the input
# pipeline, or in the training step on the device that runs it.
MASK_PLACES = ("pipeline", "step")


def load_recipe(name_or_path=DEFAULT_RECIPE):
    """Read and validate a recipe given by path or by name (`context_encoder/builtin_64`)."""
    path = resolve_json("models", name_or_path)
    recipe = read_json(path, "recipe")
    validate_recipe(recipe, source=str(path))
    return recipe


def validate_recipe(recipe, source="recipe"):
    """Raise ValueError naming the first problem in a recipe dict."""
    missing = [key for key in REQUIRED_KEYS if key not in recipe]
    if missing:
        raise ValueError(f"{source}: missing keys {missing}; a recipe needs {list(REQUIRED_KEYS)}")
    unknown = sorted(set(recipe) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise ValueError(
            f"{source}: unknown keys {unknown}; allowed: {list(REQUIRED_KEYS + OPTIONAL_KEYS)}"
        )
    unknown_training = sorted(set(recipe["training"]) - set(TRAINING_KEYS))
    if unknown_training:
        raise ValueError(
            f"{source}: unknown training keys {unknown_training}; allowed: {list(TRAINING_KEYS)}"
        )
    check_precision(recipe["training"].get("precision", DEFAULT_PRECISION), source)
    jit_compile = recipe["training"].get("jit_compile", False)
    if not isinstance(jit_compile, bool):
        raise ValueError(
            f"{source}: training.jit_compile must be true or false; got {jit_compile!r}."
        )
    check_mask_place(recipe["training"].get("masks", "pipeline"), source)
    for role in ("inpainter", "generator", "discriminator"):
        if recipe.get(role) is not None:
            registered_class(recipe[role], role, source)
    check_image_sizes(recipe, source)


def check_precision(precision, source="precision"):
    """Raise ValueError unless `precision` is one of `PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"{source}: precision must be one of {list(PRECISIONS)} (training.precision in a "
            f"recipe, --precision on the command line); got {precision!r}."
        )


def check_mask_place(masks, source="masks"):
    """Raise ValueError unless `masks` is one of `MASK_PLACES`."""
    if masks not in MASK_PLACES:
        raise ValueError(
            f"{source}: masks must be one of {list(MASK_PLACES)} (training.masks in a recipe, "
            f"--masks on the command line); got {masks!r}."
        )


def resolve_precision(precision, hardware=None):
    """`(policy, reason)`: the Keras dtype policy a run trains under for `precision`.

    "auto" is mixed_bfloat16 where the processor has bfloat16 arithmetic
    (`hardware()`, by default `keras_inpaint.hardware.bfloat16_hardware`),
    else float32; the reason says which it found. Any other precision is
    itself, with no reason.

    Example:
        >>> resolve_precision("auto", hardware=lambda: (False, "the CPU has none"))
        ('float32', 'auto: the CPU has none')
        >>> resolve_precision("mixed_float16")
        ('mixed_float16', '')
    """
    check_precision(precision)
    if precision != AUTO_PRECISION:
        return precision, ""
    native, reason = (hardware or bfloat16_hardware)()
    return ("mixed_bfloat16" if native else "float32"), f"auto: {reason}"


@contextlib.contextmanager
def precision_policy(precision):
    """Build and train under the Keras dtype policy `precision`, then restore the previous one.

    Layers take the global policy when they are created, so the model must be
    built inside this context; the previous policy comes back on exit, also
    after an error, so one run does not change the next.

    Example:
        >>> with precision_policy("mixed_bfloat16"):
        ...     keras.mixed_precision.dtype_policy().name
        'mixed_bfloat16'
        >>> keras.mixed_precision.dtype_policy().name
        'float32'
    """
    check_precision(precision)
    if precision == AUTO_PRECISION:
        raise ValueError("precision_policy takes a dtype policy: resolve 'auto' first")
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def check_image_sizes(recipe, source="recipe"):
    """Raise ValueError when a network's `image_size` disagrees with the recipe's.

    The top-level `image_size` is the size the data is cropped to; the generator
    must be built for it (or for any size: `null`, fully convolutional ones), the
    discriminator for what it sees: the generator's output, which for a
    centre-region generator (`"variant": "center"`) is half the image. A config
    without `image_size` gets its class's default, which must agree too.

    Example:
        >>> recipe = load_recipe("glcic/builtin_64")
        >>> recipe["generator"]["config"]["image_size"] = 128
        >>> check_image_sizes(recipe)
        Traceback (most recent call last):
        ...
        ValueError: recipe: generator.config.image_size is 128 but the recipe's image_size is 64; set generator.config.image_size to 64 (one image size per recipe: the data is cropped to the top-level image_size).
    """  # noqa: E501
    size = recipe["image_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(
            f"{source}: image_size must be a positive whole number of pixels; got {size!r}."
        )
    generator_size = _config_value(recipe["generator"], "generator", "image_size", source)
    if generator_size.value is not None:
        _check_size(generator_size, size, f"the recipe's image_size is {size}", source)
    if recipe.get("discriminator") is None:
        return
    variant = _config_value(recipe["generator"], "generator", "variant", source).value
    seen, why = size, f"the recipe's image_size is {size}"
    if variant == "center":
        seen = size // 2
        why = (
            f'the discriminator sees the generator\'s centre region (variant "center"), '
            f"half the recipe's image_size {size}"
        )
    discriminator_size = _config_value(
        recipe["discriminator"], "discriminator", "image_size", source
    )
    _check_size(discriminator_size, seen, why, source)


class _Setting(NamedTuple):
    """A network argument of a recipe: its value and, when the config omits it, whose default."""

    role: str
    key: str
    value: object
    default_of: str | None = None


def _config_value(entry, role, key, source):
    """`entry`'s config value for `key`, or its class's default (None when it takes none)."""
    config = entry.get("config", {})
    if key in config:
        return _Setting(role, key, config[key])
    cls = registered_class(entry, role, source)
    parameter = inspect.signature(cls).parameters.get(key)
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return _Setting(role, key, None)
    return _Setting(role, key, parameter.default, default_of=cls.__name__)


def _check_size(setting, expected, why, source):
    """Raise ValueError naming `setting`, `why` it should be `expected`, and the fix."""
    if setting.value == expected:
        return
    role, key, value = setting.role, setting.key, setting.value
    if setting.default_of is None:
        where, fix = f"{role}.config.{key} is {value}", f"set {role}.config.{key} to {expected}"
    else:
        where = f"{role}.config gives no {key}, so {setting.default_of}'s default {value} applies,"
        fix = f'add "{key}": {expected} to {role}.config'
    raise ValueError(
        f"{source}: {where} but {why}; {fix} (one image size per recipe: the data is cropped "
        "to the top-level image_size)."
    )


def registered_class(entry, role, source="recipe"):
    """The class a recipe entry `{"class": ..., "config": {...}}` names."""
    if not isinstance(entry, dict) or "class" not in entry:
        raise ValueError(f'{source}: "{role}" must be {{"class": NAME, "config": {{...}}}}')
    cls = keras.saving.get_registered_object(f"keras_inpaint>{entry['class']}")
    if cls is None:
        known = sorted(
            name.split(">", 1)[1]
            for name in keras.saving.get_custom_objects()
            if name.startswith("keras_inpaint>")
        )
        raise ValueError(
            f"{source}: unknown {role} class {entry['class']!r}; registered classes: {known}"
        )
    return cls


def _instantiate(entry, role, **extra):
    return registered_class(entry, role)(**entry.get("config", {}), **extra)


def build_networks(recipe):
    """Build `(generator, discriminator or None)` from a recipe, untrained."""
    generator = _instantiate(recipe["generator"], "generator")
    discriminator = None
    if recipe.get("discriminator") is not None:
        discriminator = _instantiate(recipe["discriminator"], "discriminator")
    return generator, discriminator


def build_optimizer(entry):
    """A Keras optimizer from `{"class": "Adam", "config": {...}}`."""
    return keras.optimizers.get({"class_name": entry["class"], "config": entry.get("config", {})})


def build_inpainter(recipe, compile=True, jit_compile=None, step_masks=None, mask_seed=0):
    """Build the recipe's `Inpainter` (compiled with its optimizers by default).

    The networks take the current Keras dtype policy (see `precision_policy`).
    `jit_compile` (default: the recipe's `training.jit_compile`, else False)
    compiles the training step with XLA. `step_masks` (a mask spec) and
    `mask_seed` make the model draw its training masks in the step
    (`Inpainter`).
    """
    generator, discriminator = build_networks(recipe)
    extra = {}
    if step_masks is not None:
        extra = {"step_masks": step_masks, "mask_seed": mask_seed}
    model = _instantiate(
        recipe["inpainter"],
        "inpainter",
        generator=generator,
        discriminator=discriminator,
        **extra,
    )
    if compile:
        optimizers = recipe["optimizers"]
        d_optimizer = None
        if discriminator is not None:
            d_optimizer = build_optimizer(optimizers["discriminator"])
        if jit_compile is None:
            jit_compile = recipe["training"].get("jit_compile", False)
        model.compile(
            g_optimizer=build_optimizer(optimizers["generator"]),
            d_optimizer=d_optimizer,
            jit_compile=jit_compile,
        )
    return model
