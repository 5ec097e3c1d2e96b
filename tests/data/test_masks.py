"""Tests for keras_inpaint.data.masks: shapes, seeds, hole ratios, files, specs, layout."""

import ast
import doctest
import importlib
import inspect
import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from skimage import measure

from keras_inpaint.data import masks
from keras_inpaint.data.masks import draws, kinds, raster

SIZE = 64
BATCH = 8

RANDOM_KINDS = {
    "random_boxes": masks.random_boxes,
    "random_region": masks.random_region,
    "irregular_strokes": masks.irregular_strokes,
    "free_form": masks.free_form,
}
SHAPE_KINDS = ("random_boxes", "irregular_strokes", "free_form")

PACKAGE = "keras_inpaint.data.masks"
# The package's modules, top first: each imports only modules below it.
MODULES = ("spec", "files", "kinds", "fitting", "raster", "draws", "checks")


def hole_counts(mask):
    return np.asarray(mask).reshape(len(mask), -1).sum(axis=1)


def write_png(path, pixels):
    tf.io.write_file(str(path), tf.io.encode_png(np.asarray(pixels, np.uint8)))
    return str(path)


# === Shapes, values, seeds ===


@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_random_kinds_give_binary_float32_batches(kind):
    mask = RANDOM_KINDS[kind](BATCH, SIZE, 48, tf.constant([1, 2]))
    assert mask.shape == (BATCH, SIZE, 48, 1)
    assert mask.dtype == tf.float32
    values = np.unique(mask.numpy())
    assert set(values) <= {0.0, 1.0}
    assert (hole_counts(mask) > 0).all()


@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_same_seed_same_masks_other_seed_other_masks(kind):
    make = RANDOM_KINDS[kind]
    first = make(BATCH, SIZE, SIZE, tf.constant([3, 4])).numpy()
    again = make(BATCH, SIZE, SIZE, (3, 4)).numpy()
    other = make(BATCH, SIZE, SIZE, tf.constant([3, 5], tf.int64)).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # The images of one batch differ from each other too.
    assert not np.array_equal(first[0], first[1])


def test_center_box_matches_numpy():
    expected = np.zeros((128, 128), np.float32)
    expected[32:96, 32:96] = 1
    mask = masks.center_box(3, 128, 128).numpy()
    assert mask.shape == (3, 128, 128, 1)
    for image in mask:
        np.testing.assert_array_equal(image[..., 0], expected)


def test_center_box_custom_sides():
    expected = np.zeros((32, 48), np.float32)
    expected[11:21, 12:36] = 1  # 10 px of 32 from row 11, 0.5 * 48 = 24 px from column 12
    mask = masks.center_box(1, 32, 48, box_height=10, box_width=0.5).numpy()
    np.testing.assert_array_equal(mask[0, ..., 0], expected)


def test_random_boxes_sizes_and_counts():
    mask = masks.random_boxes(
        16, SIZE, SIZE, tf.constant([0, 9]), num_boxes=(1, 1), box_size=(10, 20)
    ).numpy()
    for image in mask[..., 0]:
        rows = np.flatnonzero(image.any(axis=1))
        cols = np.flatnonzero(image.any(axis=0))
        # One solid rectangle, sides within the range.
        assert image.sum() == len(rows) * len(cols)
        assert 10 <= len(rows) <= 20 and 10 <= len(cols) <= 20


# === Hole ratio ===


@pytest.mark.parametrize("kind", SHAPE_KINDS)
@pytest.mark.parametrize(
    "hole_ratio", [(0.0, 0.0), (0.02, 0.025), (0.3, 0.32), (0.75, 0.75), (1, 1)]
)
def test_hole_ratio_is_met_exactly(kind, hole_ratio):
    # One candidate forces the growing / shrinking path for most images.
    mask = RANDOM_KINDS[kind](
        BATCH, SIZE, SIZE, tf.constant([7, 8]), hole_ratio=hole_ratio, num_candidates=1
    )
    counts = hole_counts(mask)
    pixels = SIZE * SIZE
    assert (counts >= math.ceil(hole_ratio[0] * pixels)).all()
    assert (counts <= math.floor(hole_ratio[1] * pixels)).all()
    assert set(np.unique(mask.numpy())) <= {0.0, 1.0}


@pytest.mark.parametrize("kind", SHAPE_KINDS)
def test_masks_already_in_range_are_kept(kind):
    make = RANDOM_KINDS[kind]
    free = make(BATCH, SIZE, SIZE, tf.constant([1, 1])).numpy()
    ratios = hole_counts(free) / SIZE**2
    bounded = make(
        BATCH, SIZE, SIZE, tf.constant([1, 1]), hole_ratio=(ratios.min(), ratios.max())
    ).numpy()
    np.testing.assert_array_equal(bounded, free)


def test_grown_strokes_stay_strokes():
    # Growing to a ratio thickens the strokes around the original ones.
    seed = tf.constant([2, 2])
    thin = masks.free_form(BATCH, SIZE, SIZE, seed, brush_width=(2, 4)).numpy()
    thick = masks.free_form(
        BATCH, SIZE, SIZE, seed, brush_width=(2, 4), hole_ratio=(0.5, 0.55), num_candidates=1
    ).numpy()
    assert (thick >= thin).all()


@pytest.mark.parametrize("hole_ratio", [(0.2, 0.3), (0.05, 0.05), (0.5, 0.6)])
def test_random_region_hole_ratio(hole_ratio):
    mask = masks.random_region(16, SIZE, 80, tf.constant([5, 5]), hole_ratio=hole_ratio)
    counts = hole_counts(mask)
    pixels = SIZE * 80
    assert (counts >= math.ceil(hole_ratio[0] * pixels)).all()
    assert (counts <= math.floor(hole_ratio[1] * pixels)).all()


def test_random_region_is_blobs_not_salt_and_pepper():
    mask = masks.random_region(4, 128, 128, tf.constant([0, 3])).numpy()[..., 0]
    for image in mask:
        labels = measure.label(image, connectivity=1)
        sizes = np.bincount(labels.ravel())[1:]
        # A few blobs of noise cells (about 17 px at 0.06 cells per pixel).
        assert len(sizes) < 60
        assert sizes.max() > 100


# === Strokes ===


def test_free_form_strokes_are_connected():
    mask = masks.free_form(
        BATCH, SIZE, SIZE, tf.constant([4, 4]), num_strokes=(1, 1), num_vertices=(3, 8)
    ).numpy()[..., 0]
    for image in mask:
        assert image.sum() > 0
        assert measure.label(image, connectivity=2).max() == 1


def test_free_form_vertical_stroke_geometry():
    # A zero max_angle walks straight down (the mirrored angle is 2 pi); at
    # 256x256 the brush is exactly brush_width pixels wide.
    mask = masks.free_form(
        4,
        256,
        256,
        tf.constant([0, 1]),
        num_strokes=(1, 1),
        num_vertices=(1, 1),
        length=(40, 40),
        brush_width=(20, 20),
        max_angle=0.0,
    ).numpy()[..., 0]
    for image in mask:
        widths = image.sum(axis=1)
        rows = np.flatnonzero(widths)
        # Rows along the segment hold the pixel centres within 10 px of its axis.
        assert widths.max() in (20, 21)
        assert len(rows) <= 40 + 20 + 1
        cols = np.flatnonzero(image.any(axis=0))
        assert len(cols) == widths.max()


def test_irregular_strokes_nonempty_and_few_pieces():
    mask = masks.irregular_strokes(
        BATCH, SIZE, SIZE, tf.constant([6, 6]), num_shapes=(1, 1)
    ).numpy()[..., 0]
    for image in mask:
        assert image.sum() > 0
        # A line, a circle and an arc: at most a few pieces (the border can
        # cut an arc in two).
        assert measure.label(image, connectivity=2).max() <= 4


def test_capsule_rasteriser_matches_brute_force():
    rng = np.random.default_rng(0)
    n, count, height, width = 3, 12, 40, 56
    ax, bx = (rng.uniform(-10, width + 10, (n, count)) for _ in range(2))
    ay, by = (rng.uniform(-10, height + 10, (n, count)) for _ in range(2))
    # Some points, some horizontal and vertical segments.
    bx[:, 0], by[:, 0] = ax[:, 0], ay[:, 0]
    by[:, 1] = ay[:, 1]
    bx[:, 2] = ax[:, 2]
    radius = rng.uniform(0, 8, (n, count))
    radius[:, 3] = 30  # wider than the image
    active = rng.uniform(size=(n, count)) < 0.8
    coordinates = {"ax": ax, "ay": ay, "bx": bx, "by": by, "radius": radius}
    capsules = {key: tf.constant(value, tf.float32) for key, value in coordinates.items()}
    capsules["active"] = tf.constant(active)
    actual = raster.fill_capsules(capsules, height, width, None).numpy()[..., 0]

    y, x = np.mgrid[:height, :width].astype(np.float64)
    expected = np.zeros((n, height, width), bool)
    near_edge = np.zeros((n, height, width), bool)
    for image in range(n):
        for c in np.flatnonzero(active[image]):
            a = np.array([ax[image, c], ay[image, c]])
            d = np.array([bx[image, c], by[image, c]]) - a
            t = ((x - a[0]) * d[0] + (y - a[1]) * d[1]) / max(d @ d, 1e-12)
            t = np.clip(t, 0, 1)
            distance = np.hypot(x - a[0] - t * d[0], y - a[1] - t * d[1])
            expected[image] |= distance <= radius[image, c]
            near_edge[image] |= np.abs(distance - radius[image, c]) < 1e-3
    mismatched = (actual > 0.5) != expected
    assert not (mismatched & ~near_edge).any()


# === tf.data and tf.function ===


MAP_SPECS = [
    {"kind": "center_box"},
    {"kind": "random_boxes", "num_boxes": [1, 2], "box_size": [8, 16]},
    {"kind": "random_region"},
    {"kind": "irregular_strokes", "num_shapes": [1, 4]},
    {"kind": "free_form"},
    {"kind": "free_form", "hole_ratio": [0.1, 0.2]},
    {"kind": "random_boxes", "hole_ratio": [0.3, 0.4], "num_candidates": 2},
]


@pytest.mark.large
@pytest.mark.parametrize("spec", MAP_SPECS, ids=lambda spec: spec["kind"])
def test_inside_dataset_map_with_dynamic_batch(spec):
    mask_fn = masks.make_mask_fn(spec)
    images = tf.data.Dataset.range(7).batch(3)  # batches of 3, 3, 1

    def add_mask(index, batch):
        seed = tf.stack([tf.constant(11, tf.int64), index])
        return mask_fn(tf.shape(batch)[0], 32, 32, seed)

    batches = list(images.enumerate().map(add_mask))
    assert [tuple(mask.shape) for mask in batches] == [
        (3, 32, 32, 1),
        (3, 32, 32, 1),
        (1, 32, 32, 1),
    ]
    eager = mask_fn(3, 32, 32, tf.constant([11, 1], tf.int64))
    np.testing.assert_array_equal(batches[1].numpy(), eager.numpy())


@pytest.mark.large
@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_inside_tf_function_with_dynamic_batch(kind):
    make = RANDOM_KINDS[kind]

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int32)])
    def traced(batch_size, seed):
        return make(batch_size, 32, 40, seed, hole_ratio=(0.2, 0.3))

    for batch_size in (2, 5):
        mask = traced(tf.constant(batch_size), tf.constant([1, 2]))
        assert mask.shape == (batch_size, 32, 40, 1)
        eager = make(batch_size, 32, 40, tf.constant([1, 2]), hole_ratio=(0.2, 0.3))
        np.testing.assert_array_equal(mask.numpy(), eager.numpy())


def test_sizes_may_be_constant_tensors():
    mask = masks.free_form(tf.constant(2), tf.constant(24), tf.constant(40, tf.int64), (1, 2))
    assert mask.shape == (2, 24, 40, 1)


def test_static_sizes_are_required_when_traced():
    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
    def traced(height):
        return masks.free_form(2, height, 32, tf.constant([1, 2]))

    with pytest.raises(ValueError, match="height must be known"):
        traced(tf.constant(32))


# === Files ===


def test_from_files_any_channels_resized(tmp_path):
    hole = np.zeros((16, 16), np.uint8)
    hole[4:12, 4:12] = 255
    gray = write_png(tmp_path / "gray.png", hole[..., None])
    rgb = write_png(tmp_path / "rgb.png", np.stack([hole] * 3, -1))
    # Alpha is ignored: a fully transparent black pixel is known.
    rgba = write_png(tmp_path / "rgba.png", np.stack([hole] * 3 + [np.zeros_like(hole)], -1))
    ones = write_png(tmp_path / "ones.png", (hole // 255)[..., None])
    jpeg = str(tmp_path / "hole.jpg")
    tf.io.write_file(jpeg, tf.io.encode_jpeg(np.stack([hole] * 3, -1), quality=75))

    mask = masks.from_files([gray, rgb, rgba, ones, jpeg], 32, 32).numpy()
    assert mask.shape == (5, 32, 32, 1) and mask.dtype == np.float32
    expected = np.zeros((32, 32), np.float32)
    expected[8:24, 8:24] = 1
    for image in mask:
        np.testing.assert_array_equal(image[..., 0], expected)


def test_from_files_glob_and_native_size(tmp_path):
    for index in range(3):
        write_png(tmp_path / f"mask_{index}.png", np.full((6, 10, 1), 255 * (index % 2)))
    mask = masks.from_files(str(tmp_path / "*.png"), 6, 10).numpy()
    np.testing.assert_array_equal(hole_counts(mask), [0, 60, 0])
    single = masks.load_mask_file(tmp_path / "mask_1.png")
    assert single.shape == (6, 10, 1)
    assert float(tf.reduce_min(single)) == 1.0


def test_from_files_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(FileNotFoundError, match="missing.png"):
        masks.from_files([str(missing)], 8, 8)
    with pytest.raises(FileNotFoundError, match="nothing"):
        masks.from_files(str(tmp_path / "nothing*.png"), 8, 8)
    text = tmp_path / "notes.png"
    text.write_text("not pixels")
    with pytest.raises(ValueError, match="notes.png is not an image"):
        masks.load_mask_file(text)
    with pytest.raises(ValueError, match="at least one path"):
        masks.from_files([], 8, 8)


def test_files_kind_picks_masks_by_seed(tmp_path):
    for index in range(4):
        pixels = np.zeros((8, 8, 1), np.uint8)
        pixels[: index + 1] = 255  # index + 1 hole rows: the mask is identifiable
        write_png(tmp_path / f"m{index}.png", pixels)
    mask_fn = masks.make_mask_fn({"kind": "files", "pattern": str(tmp_path / "m*.png")})
    mask = mask_fn(32, 16, 16, tf.constant([1, 2])).numpy()
    assert mask.shape == (32, 16, 16, 1)
    rows = hole_counts(mask) // (2 * 16)  # one 8-px row is two 16-px rows
    assert set(rows) == {1, 2, 3, 4}
    np.testing.assert_array_equal(mask, mask_fn(32, 16, 16, tf.constant([1, 2])).numpy())
    assert not np.array_equal(mask, mask_fn(32, 16, 16, tf.constant([1, 3])).numpy())


@pytest.mark.large
def test_files_kind_inside_dataset_map(tmp_path):
    for index in range(3):
        write_png(tmp_path / f"m{index}.png", np.full((8, 8, 1), 255 * (index % 2), np.uint8))
    mask_fn = masks.make_mask_fn({"kind": "files", "pattern": str(tmp_path / "m*.png")})

    def add_mask(index, batch):
        return mask_fn(tf.shape(batch)[0], 16, 16, tf.stack([tf.constant(0, tf.int64), index]))

    batches = list(tf.data.Dataset.range(5).batch(2).enumerate().map(add_mask))
    assert [mask.shape[0] for mask in batches] == [2, 2, 1]
    for mask in batches:
        assert set(hole_counts(mask)) <= {0, 256}


# === Specs ===


@pytest.mark.parametrize(
    "spec",
    [
        '{"kind": "center_box", "box_height": 0.5, "box_width": 16}',
        '{"kind": "random_boxes", "num_boxes": [1, 2], "box_size": [16, 32]}',
        '{"kind": "random_region", "hole_ratio": [0.2, 0.3], "noise_size": 4}',
        '{"kind": "irregular_strokes", "num_shapes": [1, 5], "thickness": [3, 9]}',
        '{"kind": "free_form", "num_strokes": [1, 2], "length": [10, 20], "hole_ratio": null}',
    ],
)
def test_make_mask_fn_from_json(spec):
    mask_fn = masks.make_mask_fn(json.loads(spec))
    mask = mask_fn(4, SIZE, SIZE, tf.constant([0, 1]))
    assert mask.shape == (4, SIZE, SIZE, 1)
    assert hole_counts(mask).min() > 0


def test_every_option_is_checked_when_the_spec_is_read():
    # make_mask_fn has no image size: a bad value of any option of any
    # generated kind is refused there, with the option's name.
    for kind, generator in kinds.GENERATORS.items():
        for name in inspect.signature(generator).parameters:
            if name not in ("batch_size", "height", "width", "seed"):
                with pytest.raises(ValueError, match=name):
                    masks.make_mask_fn({"kind": kind, name: "not a number"})


@pytest.mark.parametrize(
    "spec, error, message",
    [
        ({"kind": "spiral"}, ValueError, "valid kinds: center_box, random_boxes"),
        ({"num_boxes": 2}, ValueError, "unknown mask kind None"),
        ("random_boxes", ValueError, "must be a mapping"),
        ({"kind": "random_boxes", "boxes": 2}, ValueError, "valid options: num_boxes"),
        ({"kind": "files"}, ValueError, "needs a 'pattern'"),
        ({"kind": "files", "pattern": "/nonexistent/*.png"}, FileNotFoundError, "nonexistent"),
        ({"kind": "random_boxes", "num_boxes": [3, 1]}, ValueError, "num_boxes: low 3"),
        ({"kind": "random_boxes", "box_size": [16, 0.5]}, ValueError, "two ints"),
        ({"kind": "free_form", "hole_ratio": [0.2, 1.5]}, ValueError, "hole_ratio must be at most"),
        ({"kind": "free_form", "brush_width": [-1, 3]}, ValueError, "brush_width must be at least"),
        ({"kind": "random_region", "hole_ratio": None}, ValueError, "hole_ratio must be"),
        ({"kind": "random_region", "noise_size": 1.5}, ValueError, "noise_size"),
        ({"kind": "center_box", "box_height": -4}, ValueError, "box_height"),
        ({"kind": "free_form", "num_candidates": 0}, ValueError, "num_candidates"),
    ],
)
def test_make_mask_fn_rejects_bad_specs(spec, error, message):
    with pytest.raises(error, match=message):
        masks.make_mask_fn(spec)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: masks.center_box(2, -64, 64), "height must be positive"),
        (lambda: masks.center_box(0, 64, 64), "batch_size must be positive"),
        (lambda: masks.center_box(2, 64, 64, box_width=65), "box_width 65 is bigger"),
        (lambda: masks.random_boxes(2, 32, 32, (1, 2), box_size=(8, 40)), "box_size 40 is bigger"),
        (lambda: masks.random_boxes(2, 32, 32, (1, 2), num_boxes=(0, 2)), "num_boxes must be"),
        (lambda: masks.free_form(2, 32, 32, (1, 2), hole_ratio=(0.4, 0.3)), "low 0.4 is greater"),
        (lambda: masks.free_form(2, 32, 32, (1, 2), length=(-5, 5)), "length must be at least"),
        (lambda: masks.random_region(2, 4, 4, (1, 2), hole_ratio=(0.2, 0.22)), "no whole number"),
        (lambda: masks.irregular_strokes(2, 32, 32, (1, 2, 3)), "seed must be"),
        (lambda: masks.irregular_strokes(2, 32, 32, (1.0, 2.0)), "seed must be"),
        (lambda: masks.irregular_strokes(2, 32.5, 32, (1, 2)), "height must be an integer"),
    ],
)
def test_bad_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_docstring_examples_run():
    for name in ("", *(f".{module}" for module in MODULES)):
        module = importlib.import_module(f"{PACKAGE}{name}")
        results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert results.attempted > 0, name
        assert results.failed == 0, name


# === Package layout ===


def package_modules_imported(source):
    """The modules of the masks package that `source` imports."""
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the package uses absolute imports"
            if node.module == PACKAGE:
                imported.update(alias.name for alias in node.names)
            elif node.module.startswith(f"{PACKAGE}."):
                imported.add(node.module.split(".")[3])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(f"{PACKAGE}."):
                    imported.add(alias.name.split(".")[3])
    return imported


def test_modules_import_only_modules_below_them():
    folder = Path(masks.__file__).parent
    assert {path.stem for path in folder.glob("*.py")} == {"__init__", *MODULES}
    for level, name in enumerate(MODULES):
        source = (folder / f"{name}.py").read_text()
        assert ast.get_docstring(ast.parse(source)), f"{name}.py has no docstring"
        imported = package_modules_imported(source)
        assert imported <= set(MODULES[level + 1 :]), (name, imported)
    # The check sees an upward import.
    assert package_modules_imported(f"from {PACKAGE} import spec") == {"spec"}
    assert package_modules_imported(f"from {PACKAGE}.kinds import free_form") == {"kinds"}


def test_package_keeps_its_public_names():
    assert sorted(masks.__all__) == [
        "MASK_KINDS",
        "center_box",
        "free_form",
        "from_files",
        "irregular_strokes",
        "load_mask_file",
        "make_mask_fn",
        "random_boxes",
        "random_region",
    ]
    # Error messages list the kinds in this order; a new kind comes before "files".
    assert masks.MASK_KINDS[:5] == (
        "center_box",
        "random_boxes",
        "random_region",
        "irregular_strokes",
        "free_form",
    )
    assert masks.MASK_KINDS == (*kinds.GENERATORS, "files", "mixture")
    for name in masks.__all__:
        assert hasattr(masks, name), name


# === Rasteriser paths ===


def capsule_brute_force(coordinates, active, height, width):
    """Pixels within each active capsule's radius, and those within 1e-3 of its edge."""
    y, x = np.mgrid[:height, :width].astype(np.float64)
    n, count = active.shape
    inside = np.zeros((n, height, width), bool)
    near_edge = np.zeros((n, height, width), bool)
    for image in range(n):
        for c in np.flatnonzero(active[image]):
            ax, ay, bx, by, radius = (coordinates[key][image, c] for key in coordinates)
            dx, dy = bx - ax, by - ay
            t = np.clip(((x - ax) * dx + (y - ay) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
            distance = np.hypot(x - ax - t * dx, y - ay - t * dy)
            inside[image] |= distance <= radius
            near_edge[image] |= np.abs(distance - radius) < 1e-3
    return inside, near_edge


def test_capsules_painted_in_chunks_match_brute_force(monkeypatch):
    # Chunks of two images for five images (the last chunk is partial), a
    # width that is a whole number of 16-px blocks (spans reach the row's end),
    # vertical, horizontal and point capsules, capsules beyond the image.
    rng = np.random.default_rng(3)
    n, count, height, width = 5, 10, 24, 48
    monkeypatch.setattr(raster, "CHUNK_PIXELS", 2 * height * width)
    coordinates = {
        "ax": rng.uniform(-10, width + 10, (n, count)),
        "ay": rng.uniform(-10, height + 10, (n, count)),
        "bx": rng.uniform(-10, width + 10, (n, count)),
        "by": rng.uniform(-10, height + 10, (n, count)),
        "radius": rng.uniform(0, 5, (n, count)),
    }
    coordinates["bx"][:, 0] = coordinates["ax"][:, 0]  # vertical
    coordinates["by"][:, 1] = coordinates["ay"][:, 1]  # horizontal
    coordinates["bx"][:, 2] = coordinates["ax"][:, 2]  # point
    coordinates["by"][:, 2] = coordinates["ay"][:, 2]
    coordinates["ax"][:, 3], coordinates["bx"][:, 3] = width - 3.5, width + 5.0  # to the edge
    active = rng.uniform(size=(n, count)) < 0.9
    active[3] = False  # an image with nothing to paint
    # float32 geometry, as the rasteriser sees it
    coordinates = {key: value.astype(np.float32) for key, value in coordinates.items()}
    capsules = {key: tf.constant(value) for key, value in coordinates.items()}
    capsules["active"] = tf.constant(active)
    actual = raster.fill_capsules(capsules, height, width, None).numpy()
    assert actual.shape == (n, height, width, 1)
    assert set(np.unique(actual)) <= {0.0, 1.0}
    expected, near_edge = capsule_brute_force(
        {key: value.astype(np.float64) for key, value in coordinates.items()},
        active,
        height,
        width,
    )
    mismatched = (actual[..., 0] > 0.5) != expected
    assert not (mismatched & ~near_edge).any()
    assert 0.05 < actual.mean() < 0.8
    assert actual[3].sum() == 0
    assert actual[:, :, -1].sum() > 0  # something reached the last column


def test_arcs_use_as_few_segments_as_needed():
    segments = draws.arc_segments(256)
    arcs = draws.draw_arcs(64, tf.constant([1, 2]), 3, 256, 256, 3.0, 15.0, segments)
    used = arcs["used"].numpy().reshape(64, 3, segments)
    ax, ay, bx, by = (
        arcs[key].numpy().reshape(64, 3, segments) for key in ("ax", "ay", "bx", "by")
    )
    steps = used.sum(axis=-1)
    assert steps.min() >= 1 and steps.max() <= segments
    assert steps.mean() < 0.6 * segments  # short and small arcs need few
    # Used segments come first and form a chain; unused ones sit at the end point.
    assert (np.diff(used.astype(int), axis=-1) <= 0).all()
    np.testing.assert_allclose(ax[..., 1:], bx[..., :-1], atol=1e-4)
    np.testing.assert_allclose(ay[..., 1:], by[..., :-1], atol=1e-4)
    np.testing.assert_allclose(bx[~used], ax[~used], atol=1e-3)
    np.testing.assert_allclose(by[~used], ay[~used], atol=1e-3)


def test_top_pixels_take_ties_in_raster_order():
    # A flat field: every pixel ties, the first `count` in raster order win.
    field = tf.zeros([3, 5, 7, 1])
    counts = tf.constant([0, 12, 35])
    mask = raster.top_pixels(field, counts).numpy()[..., 0]
    for image, count in zip(mask, [0, 12, 35], strict=True):
        np.testing.assert_array_equal(image.ravel(), np.arange(35) < count)


def test_several_boxes_give_binary_masks():
    mask = masks.random_boxes(
        BATCH, SIZE, SIZE, tf.constant([4, 2]), num_boxes=(3, 5), box_size=(20, 40)
    ).numpy()
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert (hole_counts(mask) >= 20 * 20).all()


def test_mixture_cycles_or_draws_its_components():
    box = {"kind": "center_box", "box_height": 8, "box_width": 8}
    full = {"kind": "center_box", "box_height": 16, "box_width": 16}
    cycle = masks.make_mask_fn({"kind": "mixture", "components": [box, full], "cycle": True})
    drawn = cycle(4, 16, 16, tf.constant([0, 1])).numpy()
    assert [int(m.sum()) for m in drawn] == [64, 256, 64, 256]
    mixed = masks.make_mask_fn({"kind": "mixture", "components": [box, full]})
    sums = [int(m.sum()) for m in mixed(64, 16, 16, tf.constant([3, 4])).numpy()]
    assert set(sums) == {64, 256}  # both components are drawn
    again = [int(m.sum()) for m in mixed(64, 16, 16, tf.constant([3, 4])).numpy()]
    assert sums == again


def test_mixture_keeps_each_components_hole_ratio():
    spec = {
        "kind": "mixture",
        "cycle": True,
        "components": [
            {"kind": "free_form", "hole_ratio": [0.05, 0.2]},
            {"kind": "random_boxes", "hole_ratio": [0.4, 0.6]},
        ],
    }
    drawn = masks.make_mask_fn(spec)(6, 64, 64, tf.constant([5, 6])).numpy()
    ratios = drawn.mean(axis=(1, 2, 3))
    assert np.all((ratios[0::2] >= 0.05) & (ratios[0::2] <= 0.2))
    assert np.all((ratios[1::2] >= 0.4) & (ratios[1::2] <= 0.6))


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"kind": "mixture"}, "needs 'components'"),
        ({"kind": "mixture", "components": []}, "needs 'components'"),
        ({"kind": "mixture", "components": [{"kind": "mixture", "components": []}]}, "cannot"),
        ({"kind": "mixture", "components": [{"kind": "nope"}]}, "unknown mask kind 'nope'"),
        ({"kind": "mixture", "components": [{"kind": "free_form"}], "weights": 1}, "weights"),
    ],
)
def test_mixture_spec_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        masks.make_mask_fn(spec)


@pytest.mark.parametrize("kind", ["irregular_strokes", "free_form"])
@pytest.mark.parametrize("size, hole_ratio", [(64, None), (256, None), (64, (0.3, 0.35))])
def test_capsule_row_windows_lose_no_rows(monkeypatch, kind, size, hole_ratio):
    # The kinds bound the rows a capsule crosses (and widen the bound for a
    # growth); painting every capsule over the whole height gives the same masks.
    options = {"hole_ratio": hole_ratio, "num_candidates": 1}
    windowed = RANDOM_KINDS[kind](BATCH, size, size, tf.constant([8, 1]), **options).numpy()
    fill_capsules = raster.fill_capsules

    def whole_height(capsules, height, width, grow, rows):
        return fill_capsules(capsules, height, width, grow, None)

    monkeypatch.setattr(raster, "fill_capsules", whole_height)
    whole = RANDOM_KINDS[kind](BATCH, size, size, tf.constant([8, 1]), **options).numpy()
    np.testing.assert_array_equal(windowed, whole)


def test_capsule_row_groups_must_cover_the_capsules():
    dot = {key: tf.constant([[4.0, 5.0]]) for key in ("ax", "ay", "bx", "by", "radius")}
    dot["active"] = tf.constant([[True, True]])
    with pytest.raises(ValueError, match="do not cover the 2 capsules"):
        raster.fill_capsules(dot, 9, 9, None, ((1, 3),))


def test_random_region_upscales_as_tensorflows_bicubic_resize():
    noise = tf.random.stateless_uniform([2, 5, 7, 1], [1, 2])
    expected = tf.image.resize(noise, [80, 96], method="bicubic").numpy()
    np.testing.assert_array_equal(raster.resize_bicubic(noise, 80, 96).numpy(), expected)


def test_grown_capsules_windows_widen_with_the_growth():
    # Short capsules whose rows the bound holds exactly; each growth takes
    # another of the widened windows (or the whole height) and loses no row.
    rng = np.random.default_rng(4)
    n, count, size = 4, 6, 96
    ay = rng.uniform(20, 70, (n, count))
    coordinates = {
        "ax": rng.uniform(0, size, (n, count)),
        "ay": ay,
        "bx": rng.uniform(0, size, (n, count)),
        "by": ay + rng.uniform(-4, 4, (n, count)),
        "radius": rng.uniform(1, 3, (n, count)),
    }
    capsules = {key: tf.constant(value, tf.float32) for key, value in coordinates.items()}
    capsules["active"] = tf.ones([n, count], bool)
    rows = ((count, math.floor(4 * 2 + 2 * 3) + 2),)
    for grow in ([0.5, 3.9, -2.0, 0.0], [12.0, 1.0, 2.0, 3.0], [30.0, 0.0, 0.0, 0.0]):
        grow = tf.constant(grow)
        windowed = raster.fill_capsules(capsules, size, size, grow, rows).numpy()
        whole = raster.fill_capsules(capsules, size, size, grow, None).numpy()
        np.testing.assert_array_equal(windowed, whole)


@pytest.mark.parametrize("kind", SHAPE_KINDS)
def test_refitting_keeps_the_masks_in_range(kind):
    # One candidate per image: the masks above the median ratio fit and are
    # kept as drawn; the others are grown into the range.
    make = RANDOM_KINDS[kind]
    free = make(BATCH, SIZE, SIZE, tf.constant([2, 9])).numpy()
    ratios = hole_counts(free) / SIZE**2
    hole_ratio = (float(np.median(ratios)), float(ratios.max()))
    fitted = make(
        BATCH, SIZE, SIZE, tf.constant([2, 9]), hole_ratio=hole_ratio, num_candidates=1
    ).numpy()
    kept = ratios >= hole_ratio[0]
    assert 0 < kept.sum() < BATCH
    np.testing.assert_array_equal(fitted[kept], free[kept])
    assert not np.array_equal(fitted[~kept], free[~kept])
