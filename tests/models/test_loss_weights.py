"""Each wrapper's `train_step` optimises its paper's weighted loss, weight by weight.

For every zoo wrapper the test computes the loss terms itself on a fixed batch,
from the same pre-step weights, and weighs them with the papers' numbers
written here as literals (not read from the wrapper). With plain SGD (no
momentum) one `train_step` moves the weights by `-lr * gradient`, so the update
it applied must equal `-lr * sum_i w_i * grad(L_i)`. The weights the step
actually used are also recovered from the update by least squares over the
terms' gradients, so a wrong weight is named in the failure, even one as small
as GLCIC's alpha (0.0004).

Papers:
- Context Encoders, https://arxiv.org/abs/1604.07379: 0.999 L_rec + 0.001 L_adv,
  the overlap band weighted 10.
- GLCIC, https://doi.org/10.1145/3072959.3073659: L_MSE + 0.0004 L_adv (phase 3).
- PEPSI, https://arxiv.org/abs/1901.03396: 10 L1 + 0.1 L_adv + 5 (1 - k / k_max) L1_coarse.
- PConv, https://arxiv.org/abs/1804.07723: L_valid + 6 L_hole + 0.05 L_perceptual
  + 120 (L_style_out + L_style_comp) + 0.1 L_tv; seed 001: MSE on [0, 1] pixels.
"""

from typing import NamedTuple

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops
from test_case import random_batch, tiny_context_encoder_center

from keras_inpaint.losses import generator_bce, generator_minimax_bce, hole_l1, valid_l1
from keras_inpaint.losses import total_variation as masked_total_variation
from keras_inpaint.losses.perceptual import gram_matrix
from keras_inpaint.models.context_encoder import (
    ContextEncoderGenerator,
    ContextEncoderInpainter,
)
from keras_inpaint.models.glcic import GLCICDiscriminator, GLCICGenerator, GLCICInpainter
from keras_inpaint.models.patch_gan import PatchGANDiscriminator
from keras_inpaint.models.pconv_unet import PConvInpainter, PConvUNet
from keras_inpaint.models.pepsi import PEPSIGenerator, PEPSIInpainter, REDDiscriminator

# Each test builds a model and runs a training step twice over: about 5 s apiece.
pytestmark = pytest.mark.large

# Plain SGD; the discriminator's rate is small so that, moved first, it does not saturate
# before the generator's step reads it.
LEARNING_RATES = {"generator": 1.0, "discriminator": 0.01}
# The applied update against -lr * the expected gradient: relative error of the whole vector.
UPDATE_RTOL = 1e-4
# Each recovered weight against the paper's.
WEIGHT_RTOL = 1e-2
# Every discriminator loss of the zoo sums its real and fake terms.
DISCRIMINATOR_WEIGHTS = {"real": 1.0, "fake": 1.0}


# === Shared machinery ============================================================================


def sgd(network="generator"):
    return keras.optimizers.SGD(learning_rate=LEARNING_RATES[network], momentum=0.0)


def flat(tensors):
    return np.concatenate([np.ravel(np.asarray(t, np.float64)) for t in tensors])


class TermGradients(NamedTuple):
    """The flat gradient of each loss term, and the variables' values the optimizer steps from.

    `start` is read after the forward passes: spectral normalization writes the
    normalised kernel into its variable during a training call.
    """

    terms: dict
    start: np.ndarray


def term_gradients(terms_fn, variables):
    """`TermGradients` of the scalar terms that `terms_fn()` returns."""
    with tf.GradientTape(persistent=True) as tape:
        terms = terms_fn()
    gradients = {}
    for name, value in terms.items():
        parts = tape.gradient(value, variables)
        # A variable the term does not reach (e.g. a path that only another term uses): 0.
        gradients[name] = flat(
            np.zeros(variable.shape) if part is None else part
            for part, variable in zip(parts, variables, strict=True)
        )
    del tape
    return TermGradients(gradients, flat(variables))


def take_discriminator_step(variables, gradients, weights):
    """Move D's `variables` by `-lr * sum_i weights[i] * gradients[i]`, as its optimizer does."""
    total = sum(weight * gradients.terms[name] for name, weight in weights.items())
    offset = 0
    for variable in variables:
        size = int(np.prod(variable.shape))
        delta = total[offset : offset + size].reshape(variable.shape)
        variable.assign(np.asarray(variable) - LEARNING_RATES["discriminator"] * delta)
        offset += size


def step_updates(model, expected_fn, batch):
    """Run `expected_fn(model)` and then `train_step(batch)` from the same pre-step state.

    `expected_fn` computes the terms' gradients (it may change BatchNorm statistics,
    spectral-norm vectors or random states, as the step does); every variable of
    the model is put back before the step. Returns `(gradients, updates)`: the
    `{"generator"|"discriminator": TermGradients}` of the networks that train and
    each network's update, `flat(after - start)`.
    """
    state = [(variable, np.array(variable)) for variable in model.variables]
    gradients = expected_fn(model)
    for variable, value in state:
        variable.assign(value)
    networks = {"generator": model.generator, "discriminator": model.discriminator}
    networks = {name: net for name, net in networks.items() if net is not None}
    before = {name: flat(net.trainable_variables) for name, net in networks.items()}
    model.train_step(batch)
    updates = {}
    for name, net in networks.items():
        start = gradients[name].start if name in gradients else before[name]
        updates[name] = flat(net.trainable_variables) - start
    return gradients, updates


def assert_update_is_weighted_sum(update, gradients, weights, network):
    """`update == -lr * sum_i weights[i] * gradients[i]`, and each weight recovered."""
    names = list(weights)
    basis = np.stack([gradients.terms[name] for name in names], axis=1)
    applied_gradient = -update / LEARNING_RATES[network]
    expected = basis @ np.array([weights[name] for name in names])
    recovered = np.linalg.lstsq(basis, applied_gradient, rcond=None)[0]
    recovered = {name: float(value) for name, value in zip(names, recovered, strict=True)}
    error = np.linalg.norm(applied_gradient - expected) / np.linalg.norm(expected)
    message = (
        f"{network}: train_step applied the weights {recovered}, the paper's are {weights} "
        f"(relative error of the update {error:.2e})"
    )
    assert error < UPDATE_RTOL, message
    for name in names:
        assert recovered[name] == pytest.approx(weights[name], rel=WEIGHT_RTOL, abs=1e-6), message


def assert_untouched(update, network):
    assert not np.any(update), f"{network} changed in a step that must not train it"


def bce_terms(real_scores, fake_scores):
    """Discriminator BCE as two terms that the step sums (weights 1 and 1)."""
    return {"real": generator_bce(real_scores), "fake": -generator_minimax_bce(fake_scores)}


# === Context Encoder: 0.999 L_rec + 0.001 L_adv, overlap band x10 ================================


def box_batch(boxes, size=32, seed=0):
    """A batch with one rectangular hole per image, `(top, bottom, left, right)` each."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-1, 1, (len(boxes), 4, 4, 3)).astype("float32")
    image = np.asarray(tf.image.resize(coarse, (size, size), method="bilinear"))
    mask = np.zeros((len(boxes), size, size, 1), np.float32)
    for index, (top, bottom, left, right) in enumerate(boxes):
        mask[index, top:bottom, left:right] = 1.0
    return (image * (1.0 - mask), mask), image


def outer_band(boxes, width, size=32):
    """Known pixels within `width` px of each box (a square neighbourhood), image-clipped."""
    band = np.zeros((len(boxes), size, size, 1), np.float32)
    for index, (top, bottom, left, right) in enumerate(boxes):
        band[index, max(top - width, 0) : bottom + width, max(left - width, 0) : right + width] = 1
        band[index, top:bottom, left:right] = 0.0
    return band


def split_l2(image, prediction, hole, band):
    """The overlap L2's hole and band parts, both over `C * (#hole + #band)` per image."""
    squared = ops.square(ops.cast(image, "float32") - prediction)
    count = 3.0 * np.sum(hole + band, axis=(1, 2, 3))
    return {
        "hole": ops.mean(ops.sum(hole * squared, axis=(1, 2, 3)) / count),
        "band": ops.mean(ops.sum(band * squared, axis=(1, 2, 3)) / count),
    }


def context_encoder_expected(batch, hole, band, crop):
    """Gradients of the discriminator's and generator's terms, in the step's order."""
    (masked_image, mask), image = batch

    def expected(model):
        def real_fake(prediction):
            if crop is None:
                return image, model.compose(prediction, masked_image, mask)
            return image[:, crop:-crop, crop:-crop], prediction

        prediction = ops.stop_gradient(model.generator([masked_image, mask], training=True))
        real, fake = real_fake(prediction)
        d_gradients = term_gradients(
            lambda: bce_terms(
                model.discriminator(real, training=True), model.discriminator(fake, training=True)
            ),
            model.discriminator.trainable_variables,
        )
        # The generator's step reads the discriminator that its own step has just moved.
        take_discriminator_step(
            model.discriminator.trainable_variables, d_gradients, DISCRIMINATOR_WEIGHTS
        )

        def generator_terms():
            prediction = model.generator([masked_image, mask], training=True)
            real, fake = real_fake(prediction)
            terms = split_l2(real, prediction, hole, band)
            terms["adv"] = generator_bce(model.discriminator(fake, training=True))
            return terms

        g_gradients = term_gradients(generator_terms, model.generator.trainable_variables)
        return {"discriminator": d_gradients, "generator": g_gradients}

    return expected


def assert_context_encoder_step(model, batch, hole, band, crop=None):
    gradients, updates = step_updates(
        model, context_encoder_expected(batch, hole, band, crop), batch
    )
    assert_update_is_weighted_sum(
        updates["discriminator"], gradients["discriminator"], DISCRIMINATOR_WEIGHTS, "discriminator"
    )
    paper = {"hole": 0.999, "band": 0.999 * 10.0, "adv": 0.001}
    assert_update_is_weighted_sum(updates["generator"], gradients["generator"], paper, "generator")


def test_context_encoder_full_image_outer_overlap_band_and_adversarial_weights():
    keras.utils.set_random_seed(1)
    generator = ContextEncoderGenerator(
        image_size=32,
        variant="full",
        encoder_filters=[8, 8, 8],
        bottleneck=16,
        decoder_filters=[8, 8, 8],
    )
    discriminator = PatchGANDiscriminator(image_size=32, filters=8, num_layers=2)
    model = ContextEncoderInpainter(generator, discriminator)  # reference code: 4 px band
    model.compile(sgd(), sgd("discriminator"))
    boxes = [(8, 20, 10, 26), (2, 14, 16, 30)]
    batch = box_batch(boxes)
    (_, mask), _ = batch
    assert_context_encoder_step(model, batch, mask, outer_band(boxes, width=4))


def test_context_encoder_centre_inner_overlap_band_and_adversarial_weights():
    keras.utils.set_random_seed(2)
    model = tiny_context_encoder_center(
        sgd(), sgd("discriminator"), overlap_width=3, overlap_side="inside"
    )
    batch = box_batch([(8, 24, 8, 24)] * 2)
    # The hole is the predicted 16x16 centre; its 3-px inner border is the band.
    band = np.ones((2, 16, 16, 1), np.float32)
    band[:, 3:-3, 3:-3] = 0.0
    assert_context_encoder_step(model, batch, 1.0 - band, band, crop=8)


# === GLCIC: L_MSE, then D alone, then L_MSE + 0.0004 L_adv =======================================


def tiny_glcic():
    keras.utils.set_random_seed(3)
    generator = GLCICGenerator(image_size=32, base_filters=8, dilation_rates=[1, 2, 4, 8])
    discriminator = GLCICDiscriminator(
        image_size=32, local_size=16, global_filters=[8, 16, 16], local_filters=[8, 16], fc_units=32
    )
    model = GLCICInpainter(generator, discriminator, tc=1, td=1, seed=5)
    model.compile(sgd(), sgd("discriminator"))
    return model


def hole_mse(image, prediction, mask):
    squared = mask * ops.square(ops.cast(image, "float32") - prediction)
    return ops.mean(ops.sum(squared, axis=(1, 2, 3)) / (3.0 * ops.sum(mask, axis=(1, 2, 3))))


def glcic_expected(batch, phase):
    (masked_image, mask), image = batch

    def expected(model):
        gradients = {}
        if phase >= 2:
            # The fakes are the generator's inference output; real patches are drawn at random.
            fake = model.compose(
                model.generator([masked_image, mask], training=False), masked_image, mask
            )
            real_patch = model.real_patch_mask(image, mask)
            gradients["discriminator"] = term_gradients(
                lambda: bce_terms(
                    model.discriminator([image, real_patch], training=True),
                    model.discriminator([fake, mask], training=True),
                ),
                model.discriminator.trainable_variables,
            )
            take_discriminator_step(
                model.discriminator.trainable_variables,
                gradients["discriminator"],
                DISCRIMINATOR_WEIGHTS,
            )

        def generator_terms():
            prediction = model.generator([masked_image, mask], training=True)
            terms = {"mse": hole_mse(image, prediction, mask)}
            if phase == 3:
                composite = model.compose(prediction, masked_image, mask)
                fake_scores = model.discriminator([composite, mask], training=True)
                terms["adv"] = generator_minimax_bce(fake_scores)
            return terms

        if phase != 2:
            gradients["generator"] = term_gradients(
                generator_terms, model.generator.trainable_variables
            )
        return gradients

    return expected


def test_glcic_phase_1_trains_the_generator_on_the_hole_mse_alone():
    model = tiny_glcic()
    batch = random_batch(2, 32, seed=1)
    gradients, updates = step_updates(model, glcic_expected(batch, phase=1), batch)
    assert_update_is_weighted_sum(
        updates["generator"], gradients["generator"], {"mse": 1.0}, "generator"
    )
    assert_untouched(updates["discriminator"], "discriminator")


def test_glcic_phase_2_trains_the_discriminator_alone_on_unweighted_bce():
    model = tiny_glcic()
    model.step_counter.assign(1)
    batch = random_batch(2, 32, seed=2)
    gradients, updates = step_updates(model, glcic_expected(batch, phase=2), batch)
    assert_update_is_weighted_sum(
        updates["discriminator"], gradients["discriminator"], DISCRIMINATOR_WEIGHTS, "discriminator"
    )
    assert_untouched(updates["generator"], "generator")


def test_glcic_phase_3_weighs_the_adversarial_term_by_alpha():
    model = tiny_glcic()
    model.step_counter.assign(2)
    batch = random_batch(2, 32, seed=3)
    gradients, updates = step_updates(model, glcic_expected(batch, phase=3), batch)
    assert_update_is_weighted_sum(
        updates["discriminator"], gradients["discriminator"], DISCRIMINATOR_WEIGHTS, "discriminator"
    )
    g_weights = {"mse": 1.0, "adv": 0.0004}
    assert_update_is_weighted_sum(
        updates["generator"], gradients["generator"], g_weights, "generator"
    )


# === PEPSI: 10 L1 + 0.1 L_adv + 5 (1 - k / k_max) L1_coarse ======================================


def mean_l1(image, prediction):
    return ops.mean(ops.abs(ops.cast(image, "float32") - ops.cast(prediction, "float32")))


def pepsi_expected(batch):
    (masked_image, mask), image = batch

    def expected(model):
        fake = ops.stop_gradient(
            model.compose(model.generator([masked_image, mask], training=True), masked_image, mask)
        )

        def discriminator_terms():
            real_scores = model.discriminator(image, training=True)
            fake_scores = model.discriminator(fake, training=True)
            return {
                "real": ops.mean(ops.relu(1.0 - real_scores)),
                "fake": ops.mean(ops.relu(1.0 + fake_scores)),
            }

        d_gradients = term_gradients(discriminator_terms, model.discriminator.trainable_variables)
        take_discriminator_step(
            model.discriminator.trainable_variables, d_gradients, DISCRIMINATOR_WEIGHTS
        )

        def generator_terms():
            coarse, prediction = model.generator.training_model([masked_image, mask], training=True)
            composite = model.compose(prediction, masked_image, mask)
            return {
                "l1": mean_l1(image, prediction),
                "adv": -ops.mean(model.discriminator(composite, training=False)),
                "coarse": mean_l1(image, coarse),
            }

        g_gradients = term_gradients(generator_terms, model.generator.trainable_variables)
        return {"discriminator": d_gradients, "generator": g_gradients}

    return expected


@pytest.mark.parametrize("step, coarse_weight", [(1, 5.0 * (1 - 1 / 4)), (6, 0.0)])
def test_pepsi_weights_and_coarse_decay(step, coarse_weight):
    keras.utils.set_random_seed(4)
    generator = PEPSIGenerator(image_size=32, filters=4, dilation_rates=[1, 2, 2, 4])
    discriminator = REDDiscriminator(image_size=32, filters=[8, 8, 16])
    model = PEPSIInpainter(generator, discriminator, coarse_decay_steps=4)
    model.compile(sgd(), sgd("discriminator"))
    model.step_counter.assign(step)
    batch = random_batch(2, 32, seed=4)
    gradients, updates = step_updates(model, pepsi_expected(batch), batch)
    assert_update_is_weighted_sum(
        updates["discriminator"], gradients["discriminator"], DISCRIMINATOR_WEIGHTS, "discriminator"
    )
    g_weights = {"l1": 10.0, "adv": 0.1, "coarse": coarse_weight}
    assert_update_is_weighted_sum(
        updates["generator"], gradients["generator"], g_weights, "generator"
    )


# === PConv: L_valid + 6 L_hole + 0.05 L_perc + 120 L_style + 0.1 L_tv; seed 001's MSE ===========


def tiny_pconv(objective):
    keras.utils.set_random_seed(5)
    generator = PConvUNet(
        preset="cifar_net2",
        encoder_filters=[4, 4, 8, 8, 8, 8, 8, 8],
        decoder_filters=[8, 8, 8, 8, 8, 4, 4],
    )
    model = PConvInpainter(generator, objective=objective, vgg_weights=None)
    model.compile(sgd())
    return model


def pconv_expected(batch, objective):
    (masked_image, mask), image = batch

    def liu_terms(model, prediction):
        composite = model.compose(prediction, masked_image, mask)
        vgg = model.vgg_features()
        true, out, comp = vgg(image), vgg(prediction), vgg(composite)

        def feature_l1(pred, target):
            return sum(
                ops.mean(ops.abs(p - ops.stop_gradient(t)))
                for p, t in zip(pred, target, strict=True)
            )

        def gram_l1(pred, target):
            return sum(
                ops.mean(ops.abs(gram_matrix(p) - gram_matrix(ops.stop_gradient(t))))
                for p, t in zip(pred, target, strict=True)
            )

        return {
            "valid": valid_l1(image, prediction, mask),
            "hole": hole_l1(image, prediction, mask),
            "perceptual_out": feature_l1(out, true),
            "perceptual_comp": feature_l1(comp, true),
            "style_out": gram_l1(out, true),
            "style_comp": gram_l1(comp, true),
            "tv": masked_total_variation(composite, mask),
        }

    def terms(model):
        prediction = model.generator([masked_image, mask], training=True)
        if objective == "l2":
            return {"mse": ops.mean(ops.square(prediction - image))}
        return liu_terms(model, prediction)

    def expected(model):
        variables = model.generator.trainable_variables
        return {"generator": term_gradients(lambda: terms(model), variables)}

    return expected


def test_pconv_liu_loss_weights():
    model = tiny_pconv("liu")
    batch = random_batch(2, 32, seed=5)
    gradients, updates = step_updates(model, pconv_expected(batch, "liu"), batch)
    weights = {
        "valid": 1.0,
        "hole": 6.0,
        "perceptual_out": 0.05,
        "perceptual_comp": 0.05,
        "style_out": 120.0,
        "style_comp": 120.0,
        "tv": 0.1,
    }
    assert_update_is_weighted_sum(
        updates["generator"], gradients["generator"], weights, "generator"
    )


def test_pconv_seed_l2_objective_is_the_mse_of_unit_range_pixels():
    model = tiny_pconv("l2")
    batch = random_batch(2, 32, seed=6)
    gradients, updates = step_updates(model, pconv_expected(batch, "l2"), batch)
    # ((p - y) / 2)^2: pixels in [-1, 1] mapped to seed 001's [0, 1].
    assert_update_is_weighted_sum(
        updates["generator"], gradients["generator"], {"mse": 0.25}, "generator"
    )
