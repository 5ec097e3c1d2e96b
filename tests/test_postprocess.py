"""Poisson blending: the equation it solves and the properties that follow from it."""

import numpy as np
import pytest

from keras_inpaint.postprocess import poisson_blend


def ramp(height=32, width=40, batch=None):
    """An integer image linear in x and y (different slopes per channel), inside 0..255."""
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack([2 * xs + 3 * ys + 10, 4 * xs + ys, 200 - 2 * xs - 2 * ys], axis=-1)
    image = image.astype(np.uint8)
    return image if batch is None else np.repeat(image[None], batch, axis=0)


def smooth(height=48, width=48, seed=0):
    ys, xs = np.mgrid[0:height, 0:width] / 48.0
    phases = np.random.default_rng(seed).uniform(0, np.pi, 3)
    channels = [128 + 60 * np.sin(2.0 * xs + 1.5 * ys + phase) for phase in phases]
    return np.round(np.stack(channels, axis=-1)).astype(np.uint8)


def box_mask(shape, top, left, bottom, right):
    mask = np.zeros(shape + (1,), np.uint8)
    mask[..., top:bottom, left:right, :] = 255
    return mask


def naive_residual(known, guide, hole, result):
    """max |sum_q (f_p - f_q) - sum_q v_pq| over hole pixels, written as plain loops."""
    height, width = hole.shape
    worst = 0.0
    for y, x in zip(*np.nonzero(hole), strict=True):
        lhs = np.zeros(known.shape[-1])
        rhs = np.zeros(known.shape[-1])
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            qy, qx = y + dy, x + dx
            if not (0 <= qy < height and 0 <= qx < width):
                continue
            lhs += result[y, x] - (result[qy, qx] if hole[qy, qx] else known[qy, qx])
            if hole[qy, qx]:
                rhs += guide[y, x] - guide[qy, qx]
            else:
                by, bx = y - dy, x - dx
                if 0 <= by < height and 0 <= bx < width and hole[by, bx]:
                    rhs += guide[by, bx] - guide[y, x]
        worst = max(worst, np.abs(lhs - rhs).max())
    return worst


def test_result_solves_the_documented_equation():
    rng = np.random.default_rng(1)
    known = rng.uniform(-1, 1, (12, 14, 3))
    guide = rng.uniform(-1, 1, (12, 14, 3))
    hole = np.zeros((12, 14), bool)
    hole[0:5, 3:9] = True  # touches the top border
    hole[7:11, 10:14] = True  # touches the right border
    hole[6, 2] = True  # a one-pixel hole
    result = poisson_blend(known, guide, hole, value_range=(-1e9, 1e9))
    assert result.dtype == known.dtype
    assert naive_residual(known, guide, hole, result) < 1e-9


def test_known_pixels_are_unchanged():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    inpainted = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    mask = (rng.uniform(size=(3, 32, 32, 1)) < 0.3).astype(np.uint8)
    result = poisson_blend(image, inpainted, mask)
    assert result.dtype == np.uint8 and result.shape == image.shape
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(result[known], image[known])


@pytest.mark.parametrize("offset", [40, -35])
def test_constant_offset_is_removed_exactly_for_an_image_linear_across_the_seam(offset):
    image = ramp(batch=2)
    mask = box_mask((2, 32, 40), 8, 10, 24, 30)
    mask[1] = box_mask((32, 40), 0, 25, 14, 40)  # a hole on the corner: Neumann borders
    hole = mask[..., 0] > 0
    inpainted = image.astype(int)
    inpainted[hole] += offset
    result = poisson_blend(image, inpainted.astype(np.uint8), mask)
    np.testing.assert_array_equal(result, image)


def test_colour_shift_on_a_smooth_image_is_corrected_to_the_boundary():
    image = smooth()
    mask = box_mask((48, 48), 14, 12, 34, 36)
    hole = mask[..., 0] > 0
    inpainted = image.astype(int)
    inpainted[hole] += np.array([30, -25, 20])
    inpainted = np.clip(inpainted, 0, 255).astype(np.uint8)
    before = np.abs(inpainted.astype(int) - image).max()
    after = np.abs(poisson_blend(image, inpainted, mask).astype(int) - image).max()
    assert before >= 25 and after <= 2


def test_a_fill_that_already_satisfies_the_equation_is_unchanged():
    image = ramp()
    mask = box_mask((32, 40), 5, 5, 20, 33)
    np.testing.assert_array_equal(poisson_blend(image, image, mask), image)
    exact = ramp().astype(np.float64) / 127.5 - 1.0
    result = poisson_blend(exact, exact, mask)
    np.testing.assert_allclose(result, exact, atol=1e-10)


def test_only_the_known_pixels_of_image_and_the_hole_of_inpainted_are_read():
    image = smooth(seed=3)
    mask = box_mask((48, 48), 10, 10, 30, 30)
    hole = mask[..., 0] > 0
    rng = np.random.default_rng(4)
    inpainted = rng.integers(0, 256, image.shape, dtype=np.uint8)
    reference = poisson_blend(image, inpainted, mask)
    masked_input = np.where(hole[..., None], 0, image).astype(np.uint8)
    other_known = np.where(hole[..., None], inpainted, 255 - image).astype(np.uint8)
    np.testing.assert_array_equal(poisson_blend(masked_input, other_known, mask), reference)


def test_single_images_masks_and_dtypes():
    image = smooth()
    mask = box_mask((48, 48), 4, 4, 20, 20)
    inpainted = np.full_like(image, 250)
    batched = poisson_blend(image[None], inpainted[None], mask[None])[0]
    for mask_form in (mask, mask[..., 0], mask[..., 0] > 0, (mask > 0).astype(np.float32)):
        np.testing.assert_array_equal(poisson_blend(image, inpainted, mask_form), batched)
    floats = poisson_blend(image / 127.5 - 1.0, inpainted.astype(np.float32) / 127.5 - 1.0, mask)
    assert floats.dtype == np.float32 and floats.min() >= -1.0 and floats.max() <= 1.0


def test_no_hole_and_all_hole():
    image = smooth()
    inpainted = 255 - image
    nothing = np.zeros((48, 48), bool)
    np.testing.assert_array_equal(poisson_blend(image, inpainted, nothing), image)
    np.testing.assert_array_equal(poisson_blend(image, inpainted, ~nothing), inpainted)


def test_overshoot_is_clipped_to_the_pixel_range():
    image = np.zeros((16, 16, 3), np.uint8)
    image[:, :8] = 255
    mask = box_mask((16, 16), 4, 4, 12, 12)
    inpainted = image.copy()
    inpainted[4:12, 4:12] = np.where(np.arange(8)[None, :, None] % 2, 255, 0)
    unclipped = poisson_blend(image.astype(float), inpainted.astype(float), mask, (-1e9, 1e9))
    assert unclipped.min() < -0.5 and unclipped.max() > 255.5  # the solution overshoots
    result = poisson_blend(image, inpainted, mask)
    np.testing.assert_array_equal(result, np.clip(np.round(unclipped), 0, 255).astype(np.uint8))


@pytest.mark.parametrize(
    "image_shape, inpainted_shape, mask_shape, message",
    [
        ((8, 8, 3), (8, 9, 3), (8, 8), "same shape"),
        ((8, 8, 3), (8, 8, 3), (8, 8, 3), "channels"),
        ((2, 8, 8, 3), (2, 8, 8, 3), (1, 8, 8, 1), "does not match"),
        ((8, 3), (8, 3), (8,), "same shape"),
    ],
)
def test_bad_shapes_are_explained(image_shape, inpainted_shape, mask_shape, message):
    with pytest.raises(ValueError, match=message):
        poisson_blend(np.zeros(image_shape), np.zeros(inpainted_shape), np.zeros(mask_shape))
