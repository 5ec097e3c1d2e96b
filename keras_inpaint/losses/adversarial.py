"""GAN losses of the zoo: binary cross-entropy (Context Encoders, GLCIC) and hinge (PEPSI).

Scores may have any shape (one per image, or a PatchGAN / RED grid per image);
every loss is the mean over all scores, i.e. the mean over the batch of each
image's mean. BCE losses take probabilities (a sigmoid output, the papers'
discriminators) or, with `from_logits=True`, raw scores; probabilities are
clipped to [epsilon, 1] before the log so that scores of exactly 0 or 1 give
finite losses and gradients. Scores are cast to float32 so that
mixed-precision discriminators get full-precision losses.

Example:
    >>> import numpy as np
    >>> from keras_inpaint.losses import discriminator_hinge
    >>> float(discriminator_hinge(np.ones((2, 1)), -np.ones((2, 1))))
    0.0
"""

import keras
from keras import ops


def _as_float32(scores):
    return ops.cast(ops.convert_to_tensor(scores), "float32")


def _log_d(scores, from_logits):
    """log D: the log-probability that the discriminator says "real"."""
    scores = _as_float32(scores)
    if from_logits:
        return ops.log_sigmoid(scores)
    return ops.log(ops.clip(scores, keras.backend.epsilon(), 1.0))


def _log_one_minus_d(scores, from_logits):
    """log(1 - D): the log-probability that the discriminator says "fake"."""
    scores = _as_float32(scores)
    if from_logits:
        return ops.log_sigmoid(-scores)
    return ops.log(ops.clip(1.0 - scores, keras.backend.epsilon(), 1.0))


def discriminator_bce(real_scores, fake_scores, from_logits=False, real_label=1.0):
    """Discriminator binary cross-entropy: real images labelled `real_label`, fakes 0.

    Goodfellow et al.'s GAN objective as used by Context Encoders
    (https://arxiv.org/abs/1604.07379) and GLCIC
    (https://doi.org/10.1145/3072959.3073659):

        L_D = -mean[ a * log D(x) + (1 - a) * log(1 - D(x)) ] - mean[ log(1 - D(G(z))) ]

    with a = `real_label`. The two terms are summed, not averaged. `real_label`
    below 1 (e.g. 0.9) is one-sided label smoothing (Salimans et al. 2016,
    used by the GLCIC seed): only the real targets are softened.

    Args:
        real_scores: D's outputs on real images (or regions), any shape.
        fake_scores: D's outputs on generated images, any shape.
        from_logits: True if the scores are raw logits, False for probabilities.
        real_label: target for real images, 1.0 without smoothing.

    Returns:
        Scalar float32 loss.

    Example:
        >>> import numpy as np
        >>> loss = discriminator_bce(np.full((2, 1), 0.5), np.full((2, 1), 0.5))
        >>> round(float(loss), 4)  # 2 * log(2)
        1.3863
    """
    real_term = real_label * _log_d(real_scores, from_logits) + (1.0 - real_label) * (
        _log_one_minus_d(real_scores, from_logits)
    )
    fake_term = _log_one_minus_d(fake_scores, from_logits)
    return -ops.mean(real_term) - ops.mean(fake_term)


def generator_bce(fake_scores, from_logits=False):
    """Non-saturating generator loss: -mean(log D(G(z))).

    Goodfellow et al. 2014, section 3: maximising log D(G(z)) instead of
    minimising log(1 - D(G(z))) keeps gradients strong while D rejects the
    fakes. Context Encoders' reference code and the GLCIC seed use it.

    Args:
        fake_scores: D's outputs on generated images, any shape.
        from_logits: True if the scores are raw logits, False for probabilities.

    Returns:
        Scalar float32 loss.

    Example:
        >>> import numpy as np
        >>> round(float(generator_bce(np.full((2, 1), 0.5))), 4)  # log(2)
        0.6931
    """
    return -ops.mean(_log_d(fake_scores, from_logits))


def generator_minimax_bce(fake_scores, from_logits=False):
    """Saturating (minimax) generator loss: mean(log(1 - D(G(z)))).

    The generator's side of the original GAN game, min_G E[log(1 - D(G(z)))],
    as written in the GLCIC paper (https://doi.org/10.1145/3072959.3073659).
    It is negative and decreases towards -inf as D is fooled; its gradient
    vanishes when D confidently rejects the fakes, which `generator_bce` avoids.

    Args:
        fake_scores: D's outputs on generated images, any shape.
        from_logits: True if the scores are raw logits, False for probabilities.

    Returns:
        Scalar float32 loss.

    Example:
        >>> import numpy as np
        >>> round(float(generator_minimax_bce(np.full((2, 1), 0.5))), 4)  # log(1/2)
        -0.6931
    """
    return ops.mean(_log_one_minus_d(fake_scores, from_logits))


def discriminator_hinge(real_scores, fake_scores):
    """Hinge discriminator loss: mean(relu(1 - D(x))) + mean(relu(1 + D(G(z)))).

    Used by PEPSI (Sagong et al., CVPR 2019, https://arxiv.org/abs/1901.03396)
    with its RED discriminator, which outputs raw (unbounded) scores.

    Args:
        real_scores: D's raw scores on real images, any shape.
        fake_scores: D's raw scores on generated images, any shape.

    Returns:
        Scalar float32 loss.

    Example:
        >>> import numpy as np
        >>> float(discriminator_hinge(np.zeros((2, 1)), np.zeros((2, 1))))
        2.0
    """
    real_scores = _as_float32(real_scores)
    fake_scores = _as_float32(fake_scores)
    return ops.mean(ops.relu(1.0 - real_scores)) + ops.mean(ops.relu(1.0 + fake_scores))


def generator_hinge(fake_scores):
    """Hinge generator loss: -mean(D(G(z))).

    PEPSI (https://arxiv.org/abs/1901.03396): `L_G = ... - lambda_adv * E[D(fake)]`.

    Args:
        fake_scores: D's raw scores on generated images, any shape.

    Returns:
        Scalar float32 loss.

    Example:
        >>> import numpy as np
        >>> float(generator_hinge(np.array([[1.0], [3.0]])))
        -2.0
    """
    return -ops.mean(_as_float32(fake_scores))
