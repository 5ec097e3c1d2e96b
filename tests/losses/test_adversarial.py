import math

import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.losses import (
    discriminator_bce,
    discriminator_hinge,
    generator_bce,
    generator_hinge,
    generator_minimax_bce,
)

REAL = np.array([[0.8], [0.6]], "float32")
FAKE = np.array([[0.3], [0.1]], "float32")


def logit(p):
    return np.log(p / (1 - p)).astype("float32")


def test_discriminator_bce_by_hand():
    expected = -np.mean(np.log(REAL)) - np.mean(np.log(1 - FAKE))
    np.testing.assert_allclose(float(discriminator_bce(REAL, FAKE)), expected, rtol=1e-6)


def test_discriminator_bce_one_sided_label_smoothing():
    smoothed = 0.9 * np.log(REAL) + 0.1 * np.log(1 - REAL)
    expected = -np.mean(smoothed) - np.mean(np.log(1 - FAKE))
    loss = discriminator_bce(REAL, FAKE, real_label=0.9)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-6)


def test_generator_bce_is_non_saturating():
    np.testing.assert_allclose(float(generator_bce(FAKE)), -np.mean(np.log(FAKE)), rtol=1e-6)


def test_generator_minimax_bce_by_hand():
    expected = np.mean(np.log(1 - FAKE))
    np.testing.assert_allclose(float(generator_minimax_bce(FAKE)), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "loss_fn",
    [
        lambda from_logits, r, f: discriminator_bce(r, f, from_logits=from_logits),
        lambda from_logits, r, f: discriminator_bce(r, f, from_logits, real_label=0.9),
        lambda from_logits, r, f: generator_bce(f, from_logits=from_logits),
        lambda from_logits, r, f: generator_minimax_bce(f, from_logits=from_logits),
    ],
)
def test_bce_from_logits_matches_probabilities(loss_fn):
    from_probabilities = loss_fn(False, REAL, FAKE)
    from_logits = loss_fn(True, logit(REAL), logit(FAKE))
    np.testing.assert_allclose(float(from_logits), float(from_probabilities), rtol=1e-5)


def test_bce_averages_patch_scores():
    real = np.random.default_rng(0).uniform(0.05, 0.95, (2, 14, 14, 1)).astype("float32")
    fake = np.random.default_rng(1).uniform(0.05, 0.95, (2, 14, 14, 1)).astype("float32")
    expected = -np.mean(np.log(real)) - np.mean(np.log(1 - fake))
    np.testing.assert_allclose(float(discriminator_bce(real, fake)), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "loss_fn",
    [
        lambda r, f: discriminator_bce(r, f),
        lambda r, f: discriminator_bce(r, f, real_label=0.9),
        lambda r, f: generator_bce(f),
        lambda r, f: generator_minimax_bce(f),
    ],
)
def test_bce_is_finite_for_scores_of_exactly_zero_and_one(loss_fn):
    for real_value, fake_value in [(0.0, 1.0), (1.0, 0.0)]:
        real = tf.Variable(np.full((2, 1), real_value, "float32"))
        fake = tf.Variable(np.full((2, 1), fake_value, "float32"))
        with tf.GradientTape() as tape:
            loss = loss_fn(real, fake)
        gradients = tape.gradient(loss, [real, fake])
        assert np.isfinite(float(loss))
        for gradient in gradients:
            assert gradient is None or np.all(np.isfinite(gradient.numpy()))


def test_worst_case_bce_is_bounded_by_epsilon():
    # D sure of the wrong answer: each term is -log(epsilon).
    loss = discriminator_bce(np.zeros((2, 1)), np.ones((2, 1)))
    np.testing.assert_allclose(float(loss), -2 * math.log(1e-7), rtol=1e-4)


def test_discriminator_hinge_by_hand():
    real = np.array([[2.0], [0.5], [-1.0]], "float32")
    fake = np.array([[-3.0], [0.0], [1.0]], "float32")
    # relu(1 - real) = 0, 0.5, 2; relu(1 + fake) = 0, 1, 2.
    expected = (0 + 0.5 + 2) / 3 + (0 + 1 + 2) / 3
    np.testing.assert_allclose(float(discriminator_hinge(real, fake)), expected, rtol=1e-6)


def test_generator_hinge_by_hand():
    fake = np.array([[-3.0], [0.0], [1.5]], "float32")
    np.testing.assert_allclose(float(generator_hinge(fake)), 0.5, rtol=1e-6)


def test_hinge_gradients():
    real = tf.Variable([[2.0], [0.5]])
    fake = tf.Variable([[-3.0], [0.0]])
    with tf.GradientTape(persistent=True) as tape:
        d_loss = discriminator_hinge(real, fake)
        g_loss = generator_hinge(fake)
    # Scores beyond the margin get no gradient; the others get -1/N (real), +1/N (fake).
    np.testing.assert_allclose(tape.gradient(d_loss, real).numpy(), [[0.0], [-0.5]])
    np.testing.assert_allclose(tape.gradient(d_loss, fake).numpy(), [[0.0], [0.5]])
    np.testing.assert_allclose(tape.gradient(g_loss, fake).numpy(), [[-0.5], [-0.5]])


@pytest.mark.parametrize(
    "loss_fn",
    [
        discriminator_bce,
        lambda r, f: generator_bce(f),
        lambda r, f: generator_minimax_bce(f),
        discriminator_hinge,
        lambda r, f: generator_hinge(f),
    ],
)
def test_adversarial_losses_run_inside_tf_function(loss_fn):
    graph_loss = tf.function(loss_fn)(REAL, FAKE)
    np.testing.assert_allclose(float(graph_loss), float(loss_fn(REAL, FAKE)), rtol=1e-6)
