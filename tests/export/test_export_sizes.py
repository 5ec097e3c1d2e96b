"""Any batch, any size: the size rules of the export, checked against Keras tile by tile."""

import numpy as np
import pytest
import tensorflow as tf
from serving.serving_support import (
    assert_close_and_known_exact,
    keras_reference,
    photo_and_hole,
)

from keras_inpaint.export import SizeRule
from keras_inpaint.export.size_rule import reflect_indices
from keras_inpaint.op_errors import op_error_message


@pytest.fixture(scope="module")
def exports(tiny_exports):
    """`{rule: (keras model, loaded SavedModel)}` (exports made with max_side=300)."""
    return {rule: (model, loaded) for rule, (model, _, loaded) in tiny_exports.items()}


def serve(loaded, image, mask):
    fn = loaded.signatures["serving_default"]
    return fn(image=tf.constant(image), mask=tf.constant(mask))["inpainted"].numpy()


@pytest.mark.large
def test_size_rules_are_read_from_the_generator(exports):
    rules = {rule: SizeRule.for_generator(model.generator) for rule, (model, _) in exports.items()}
    assert rules["tiled"] == SizeRule("tiled", 32, 32)
    assert rules["fixed"] == SizeRule("fixed", 32, 32)
    assert rules["dynamic"] == SizeRule("dynamic", 4, 4)
    assert [rule.example_size() for rule in rules.values()] == [(32, 32), (32, 32), (64, 64)]
    # Warmup images of a fully convolutional model: about 64 px, a multiple of its stride.
    assert SizeRule("dynamic", 24, 10).example_size() == (72, 70)


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_reflect_indices_mirror_like_numpy_for_any_amount_of_padding(size):
    for length in range(size, 4 * size + 3):
        expected = np.pad(np.arange(size), (0, length - size), mode="reflect")
        np.testing.assert_array_equal(reflect_indices(size, length).numpy(), expected)


@pytest.mark.large
def test_tiled_export_matches_keras_tile_by_tile_at_an_odd_size(exports):
    model, loaded = exports["tiled"]
    image, mask = photo_and_hole(2, 50, 77)
    expected = keras_reference(model, image, mask, step=32, tiled=True)
    assert_close_and_known_exact(serve(loaded, image, mask), expected, image, mask)


@pytest.mark.large
def test_dynamic_export_matches_keras_at_an_odd_size(exports):
    model, loaded = exports["dynamic"]
    image, mask = photo_and_hole(3, 50, 77, seed=1)
    expected = keras_reference(model, image, mask, step=4, tiled=False)
    assert_close_and_known_exact(serve(loaded, image, mask), expected, image, mask)


@pytest.mark.large
def test_fixed_export_takes_its_own_size_only(exports):
    model, loaded = exports["fixed"]
    spec = loaded.signatures["serving_default"].structured_input_signature[1]["image"]
    assert spec.shape.as_list() == [None, 32, 32, 3]
    image, mask = photo_and_hole(2, 32, 32, seed=2)
    expected = keras_reference(model, image, mask, step=32, tiled=False)
    assert_close_and_known_exact(serve(loaded, image, mask), expected, image, mask)
    files = [tf.io.encode_png(x).numpy() for x in photo_and_hole(1, 40, 32)[0][0:1]]
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        loaded.signatures["inpaint_bytes"](
            image_bytes=tf.constant(files), mask_bytes=tf.constant(files)
        )
    assert op_error_message(error.value).startswith("this model takes 32x32 images only")


@pytest.mark.large
@pytest.mark.parametrize("rule", ["tiled", "dynamic"])
def test_images_over_max_side_are_refused_and_max_side_itself_passes(exports, rule):
    _, loaded = exports[rule]
    image, mask = photo_and_hole(1, 300, 5)
    assert serve(loaded, image, mask).shape == (1, 300, 5, 3)
    image, mask = photo_and_hole(1, 5, 301)
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        serve(loaded, image, mask)
    assert "at most 300 px on a side (export option max_side)" in op_error_message(error.value)


@pytest.mark.large
@pytest.mark.parametrize("rule", ["tiled", "dynamic"])
def test_tiny_images_and_images_without_a_hole(exports, rule):
    _, loaded = exports[rule]
    image, mask = photo_and_hole(2, 5, 3, seed=3)
    out = serve(loaded, image, mask)
    np.testing.assert_array_equal(out[mask[..., 0] == 0], image[mask[..., 0] == 0])
    image, _ = photo_and_hole(2, 40, 40, seed=4)
    np.testing.assert_array_equal(serve(loaded, image, np.zeros_like(image[..., :1])), image)


@pytest.mark.large
def test_a_mask_of_another_size_is_refused(exports):
    _, loaded = exports["tiled"]
    image, _ = photo_and_hole(1, 40, 40)
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        serve(loaded, image, np.zeros((1, 40, 41, 1), np.uint8))
    assert op_error_message(error.value) == (
        "the mask must have the same batch size, height and width as the image"
    )


@pytest.mark.large
def test_bytes_signature_gives_the_pixels_of_serving_default(exports):
    _, loaded = exports["tiled"]
    first, first_mask = photo_and_hole(1, 50, 77, seed=5)
    second, second_mask = photo_and_hole(1, 33, 20, seed=6)
    # JPEG input is accepted as well; its mask stays PNG (JPEG noise would move holes).
    files = [tf.io.encode_png(first[0]).numpy(), tf.io.encode_jpeg(second[0]).numpy()]
    masks = [tf.io.encode_png(first_mask[0]).numpy(), tf.io.encode_png(second_mask[0]).numpy()]
    out = loaded.signatures["inpaint_bytes"](
        image_bytes=tf.constant(files), mask_bytes=tf.constant(masks)
    )["inpainted_bytes"].numpy()
    assert out.shape == (2,)
    decoded = [tf.io.decode_png(data).numpy() for data in out]
    np.testing.assert_array_equal(decoded[0], serve(loaded, first, first_mask)[0])
    second_decoded = tf.io.decode_jpeg(files[1]).numpy()[None]
    np.testing.assert_array_equal(decoded[1], serve(loaded, second_decoded, second_mask)[0])


@pytest.mark.large
def test_a_hole_across_tile_borders_has_no_seam(exports):
    # A smooth photograph and one hole across the borders of the 32 px tiles at
    # row 32 and column 32. Each tile fills its part from its own surroundings,
    # so without blending the fill jumps at the border; with overlapping tiles
    # blended by triangular weights it changes there no more than inside.
    model, loaded = exports["tiled"]
    y, x = np.mgrid[0:64, 0:64] / 63.0
    image = np.stack([x, y, 0.5 * (x + y)], axis=-1)[None]
    image = np.round(255 * (0.2 + 0.6 * image)).astype(np.uint8)
    mask = np.zeros((1, 64, 64, 1), np.uint8)
    mask[:, 18:46, 18:46] = 255
    filled = serve(loaded, image, mask)[0].astype(float)
    hole = mask[0, ..., 0] > 0
    across = np.abs(np.diff(filled, axis=1)).sum(axis=-1)  # step from column j to j + 1
    down = np.abs(np.diff(filled, axis=0)).sum(axis=-1)
    inside_rows, inside_cols = slice(20, 44), slice(20, 44)
    border_step = max(across[inside_rows, 31].max(), down[31, inside_cols].max())
    other_columns = [j for j in range(20, 43) if j != 31]
    inside_step = max(
        across[inside_rows][:, other_columns].max(), down[other_columns][:, inside_cols].max()
    )
    assert hole[20:44, 20:44].all()
    assert border_step <= inside_step
