"""Shared checks every zoo entry's tests run, one helper per behaviour, and the tiny
models the tests (and benchmarks/serving_load.py) build: defined here only.

Import from tests as `from test_case import ...` (tests/ is on sys.path
through conftest.py).
"""

import json
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import tensorflow as tf

from keras_inpaint.data import masks
from keras_inpaint.layers.hole_fill import HoleFill
from keras_inpaint.models.context_encoder import (
    ContextEncoderGenerator,
    ContextEncoderInpainter,
    DCGANDiscriminator,
)
from keras_inpaint.models.glcic import GLCICDiscriminator, GLCICGenerator, GLCICInpainter
from keras_inpaint.models.inpainter import Inpainter
from keras_inpaint.models.patch_gan import PatchGANDiscriminator
from keras_inpaint.models.pconv_unet import PConvInpainter, PConvUNet
from keras_inpaint.models.pepsi import PEPSIGenerator, PEPSIInpainter, REDDiscriminator
from keras_inpaint.training.recipes import load_recipe

# What TensorFlow's C++ logging looks like on stderr: none of it may reach a user of the
# command line (tests/test_cli_quiet.py, and every documented command in tests/test_docs.py).
TENSORFLOW_NOISE = re.compile(
    r"E0000|W0000|I0000|oneDNN|cuda|absl::InitializeLog|AVX", re.IGNORECASE
)


def tiny_context_encoder(variant="full", name=None, discriminator=False):
    """A compiled 32x32 Context Encoder with 8 filters per layer (untrained).

    `"full"` predicts the whole image (exports tile it), `"center"` the central
    16x16 (exports keep a fixed size). `discriminator=True` adds a two-layer PatchGAN.
    """
    generator = ContextEncoderGenerator(
        image_size=32,
        variant=variant,
        encoder_filters=[8, 8, 8],
        bottleneck=16,
        decoder_filters=[8, 8, 8] if variant == "full" else [8, 8],
        residual=True,
        fill="known_mean",
    )
    critic = None
    if discriminator:
        critic = PatchGANDiscriminator(image_size=32, filters=8, num_layers=2)
    model = ContextEncoderInpainter(generator, critic, name=name or f"tiny_{variant}")
    model.compile(keras.optimizers.Adam(), keras.optimizers.Adam() if critic else None)
    return model


def tiny_fully_convolutional(name="fcn", size_multiple=4):
    """A fully convolutional generator (two stride-2 convs, so sizes are multiples of 4)."""
    masked_image = keras.Input(shape=(None, None, 3), name="masked_image")
    mask = keras.Input(shape=(None, None, 1), name="mask")
    filled = HoleFill(mode="known_mean", name="hole_fill")([masked_image, mask])
    x = keras.layers.Concatenate(name="with_mask")([filled, mask])
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="down1")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="down2")(x)
    x = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same", name="up1")(x)
    x = keras.layers.Conv2DTranspose(
        3, 3, strides=2, padding="same", activation="tanh", name="up2"
    )(x)
    generator = keras.Model([masked_image, mask], x, name="fcn_generator")
    generator.size_multiple = size_multiple
    return Inpainter(generator, name=name)


def _adam():
    return keras.optimizers.Adam(1e-3)


def _with_discriminator(model_class, generator, discriminator, **kwargs):
    model = model_class(generator, discriminator, **kwargs)
    model.compile(_adam(), _adam())
    return model


def tiny_context_encoder_center(optimizer=None, discriminator_optimizer=None, **inpainter_kwargs):
    """A compiled 32x32 centre Context Encoder (it predicts the central 16x16) with a
    DCGAN critic on that centre. `inpainter_kwargs` go to `ContextEncoderInpainter`
    (e.g. `overlap_width`); both optimizers default to Adam(1e-3)."""
    generator = ContextEncoderGenerator(
        image_size=32,
        variant="center",
        encoder_filters=[8, 8, 8],
        bottleneck=16,
        decoder_filters=[8, 8],
    )
    critic = DCGANDiscriminator(image_size=16, filters=[8, 8])
    model = ContextEncoderInpainter(generator, critic, **inpainter_kwargs)
    model.compile(optimizer or _adam(), discriminator_optimizer or _adam())
    return model


def _tiny_context_encoder_alexnet():
    """The AlexNet encoder at its smallest size (96 px, a 1x1 pool5), PatchGAN critic."""
    generator = ContextEncoderGenerator(
        image_size=96,
        encoder="alexnet",
        variant="full",
        encoder_filters=[8, 8, 8, 8, 8],
        bottleneck=8,
    )
    critic = PatchGANDiscriminator(image_size=96, filters=8, num_layers=2)
    return _with_discriminator(ContextEncoderInpainter, generator, critic)


def _tiny_patch_gan():
    return tiny_context_encoder(discriminator=True)


def _tiny_glcic():
    generator = GLCICGenerator(
        image_size=32, base_filters=8, dilation_rates=[1, 2, 4, 8], skip_connections=True
    )
    critic = GLCICDiscriminator(
        image_size=32, local_size=16, global_filters=[8, 16, 16], local_filters=[8, 16], fc_units=32
    )
    return _with_discriminator(GLCICInpainter, generator, critic, tc=0, td=0)


def _tiny_pepsi(**options):
    def build():
        generator = PEPSIGenerator(image_size=32, filters=4, dilation_rates=[1, 2, 2, 4], **options)
        critic = REDDiscriminator(
            image_size=32, filters=[8, 8, 16], separable=options.get("separable", False)
        )
        return _with_discriminator(PEPSIInpainter, generator, critic, coarse_decay_steps=10)

    return build


def _tiny_pconv_unet():
    generator = PConvUNet(
        preset="cifar_net2",
        encoder_filters=[4, 4, 8, 8, 8, 8, 8, 8],
        decoder_filters=[8, 8, 8, 8, 8, 4, 4],
    )
    model = PConvInpainter(generator, objective="l2", vgg_weights=None)
    model.compile(_adam())
    return model


# Every wrapper of the zoo, tiny: `{name: (builder, image size)}`.
TINY_WRAPPERS = {
    "context_encoder_center": (tiny_context_encoder_center, 32),
    "context_encoder_alexnet": (_tiny_context_encoder_alexnet, 96),
    "patch_gan": (_tiny_patch_gan, 32),
    "glcic": (_tiny_glcic, 32),
    "pepsi": (_tiny_pepsi(), 32),
    "pepsi_diet": (_tiny_pepsi(rate_adaptive=True), 32),
    "pepsi_depthwise": (_tiny_pepsi(separable=True), 32),
    "pconv_unet": (_tiny_pconv_unet, 32),
}


def random_batch(batch_size, size, seed=0, mask_fn=None):
    """A `((masked_image, mask), image)` batch of smooth random images and box masks."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-1, 1, (batch_size, 4, 4, 3)).astype("float32")
    image = tf.image.resize(coarse, (size, size), method="bilinear")
    mask_fn = mask_fn or (
        lambda b, h, w, s: masks.random_boxes(b, h, w, s, box_size=(size // 4, size // 2))
    )
    mask = mask_fn(batch_size, size, size, tf.constant([seed, 1]))
    return (image * (1.0 - mask), mask), image


def assert_config_round_trip(network):
    """`from_config(get_config())` rebuilds a network with the same parameter count."""
    rebuilt = type(network).from_config(network.get_config())
    assert rebuilt.count_params() == network.count_params()
    assert json.loads(json.dumps(network.get_config())) is not None


def assert_keras_round_trip(model, inputs, tmp_path):
    """Save as `.keras`, reload with `safe_mode=True`, and get the same outputs."""
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    expected = keras.ops.convert_to_numpy(model(inputs, training=False))
    actual = keras.ops.convert_to_numpy(restored(inputs, training=False))
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    return restored


def snapshot(variables):
    return [np.array(variable) for variable in variables]


def changed(before, variables):
    return any(
        not np.array_equal(old, np.array(new)) for old, new in zip(before, variables, strict=True)
    )


def assert_fit_step_trains(model, batch, expect_discriminator=True):
    """One `fit` step keeps every logged loss finite and moves G (and D) weights."""
    generator_before = snapshot(model.generator.trainable_variables)
    discriminator = model.discriminator
    discriminator_before = snapshot(discriminator.trainable_variables) if discriminator else []
    history = model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{name} is not finite: {values}"
    assert changed(generator_before, model.generator.trainable_variables)
    if expect_discriminator:
        assert changed(discriminator_before, discriminator.trainable_variables)
    return history


def assert_export_matches(model, batch, tmp_path):
    """Export, reload in a fresh Python process, and get the model's uint8 composite (±1)."""
    from keras_inpaint import images
    from keras_inpaint.export import export_saved_model

    (masked_image, mask), image = batch
    image_uint8 = images.model_to_uint8(image).numpy()
    mask_uint8 = (mask.numpy() * 255).astype(np.uint8)
    export_dir = export_saved_model(model, tmp_path / "exports", name="model")
    hole = mask.numpy()
    model_input = images.uint8_to_model(image_uint8) * (1.0 - hole)
    expected = images.model_to_uint8(model((model_input, hole), training=False)).numpy()
    expected = np.where(hole > 0, expected, image_uint8)
    np.save(tmp_path / "image.npy", image_uint8)
    np.save(tmp_path / "mask.npy", mask_uint8)
    script = textwrap.dedent(
        f"""
        import numpy as np, tensorflow as tf
        fn = tf.saved_model.load({str(export_dir)!r}).signatures["serving_default"]
        out = fn(image=tf.constant(np.load({str(tmp_path / "image.npy")!r})),
                 mask=tf.constant(np.load({str(tmp_path / "mask.npy")!r})))
        np.save({str(tmp_path / "out.npy")!r}, out["inpainted"].numpy())
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    actual = np.load(tmp_path / "out.npy")
    assert actual.dtype == np.uint8 and actual.shape == image_uint8.shape
    assert np.abs(actual.astype(int) - expected.astype(int)).max() <= 1
    np.testing.assert_array_equal(actual[hole[..., 0] == 0], image_uint8[hole[..., 0] == 0])
    return export_dir


_TWO_CPUS_PRELUDE = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
sys.path.insert(0, "tests")


def strategies():
    # Seeded alike, so both modes start from the same weights.
    for mode in ("single", "mirrored"):
        keras.utils.set_random_seed(1)
        if mode == "mirrored":
            yield mode, tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        else:
            yield mode, tf.distribute.get_strategy()
"""


def run_on_two_cpus(body):
    """Run `body` in a fresh Python with two logical CPU devices; return its `results` dict.

    Logical devices must be set before TensorFlow starts, hence the subprocess.
    `body` may use `strategies()` (yields `("single", default)` then
    `("mirrored", MirroredStrategy)`, reseeding before each) and must fill a
    JSON-able dict named `results`.
    """
    script = _TWO_CPUS_PRELUDE + textwrap.dedent(body) + "\nprint(json.dumps(results))\n"
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def write_photos(folder, count=12, size=40, heldout=4):
    """PNG photographs of gradients, stripes and discs, plus train/val lists."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size] / size
    names = []
    for index in range(count):
        colour = rng.uniform(0, 1, 3)
        kind = index % 3
        if kind == 0:
            base = x * rng.uniform(0.3, 1) + y * rng.uniform(0.3, 1)
        elif kind == 1:
            base = 0.5 + 0.5 * np.sin(2 * np.pi * (x * rng.integers(2, 5) + y))
        else:
            base = ((x - 0.5) ** 2 + (y - 0.5) ** 2 < rng.uniform(0.05, 0.15)).astype(float)
        pixels = np.clip(base[..., None] * colour * 255, 0, 255).astype(np.uint8)
        name = f"photo_{index:02d}.png"
        tf.io.write_file(str(folder / name), tf.io.encode_png(pixels))
        names.append(name)
    (folder / "train.txt").write_text("\n".join(names[:-heldout]) + "\n")
    (folder / "val.txt").write_text("\n".join(names[-heldout:]) + "\n")
    return folder


def tiny_recipe(folder, epochs=1, steps=2, batch_size=4, **training):
    """The default recipe (context_encoder/builtin_64) shrunk to a few thousand weights,
    saved as `folder/tiny_64.json`; `training` adds keys to its training section (e.g.
    `precision`)."""
    recipe = load_recipe("context_encoder/builtin_64")
    recipe["name"] = "tests/tiny_64"
    recipe["generator"]["config"].update(
        encoder_filters=[4, 4, 4, 4], bottleneck=8, decoder_filters=[4, 4, 4, 4]
    )
    recipe["discriminator"]["config"].update(filters=4)
    recipe["training"] = {
        "batch_size": batch_size,
        "epochs": epochs,
        "steps_per_epoch": steps,
        "validation_batches": 1,
        **training,
    }
    path = folder / "tiny_64.json"
    path.write_text(json.dumps(recipe))
    return path
