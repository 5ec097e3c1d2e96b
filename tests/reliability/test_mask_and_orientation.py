"""Mask files and photo orientation: one mask decoder and EXIF orientation in every entry point.

Every mask case is read by the readers of `keras-inpaint inpaint` and `evaluate --pairs`
(`inference.read_mask_file`, `evaluation.load_pairs`), by training's `"files"` masks
(`data.masks.load_mask_file`) and by a tiny export's `inpaint_bytes` signature, and must
give the hole it was painted with. Photo cases turn a phone JPEG (EXIF orientation 6,
pixels stored on their side) upright in each entry point. Case ids (`mask-...`,
`exif-...`) are the rows of docs/RELIABILITY.md's "Mask files and photo orientation"
table; the last test keeps the two in step.
"""

import io
import logging
import struct

import numpy as np
import pytest
import tensorflow as tf
from bad_input_support import case_ids, documented_case_ids, photo
from PIL import Image, ImageOps
from test_case import tiny_fully_convolutional

from keras_inpaint import evaluation, images, inference
from keras_inpaint.cli import main
from keras_inpaint.data import masks, sources
from keras_inpaint.export import export_saved_model
from keras_inpaint.serving import client

# Not square, so a turned or transposed result cannot pass for upright.
HEIGHT, WIDTH = 24, 32


def painted_hole():
    """The hole every mask case paints: two boxes placed so that no turn maps it onto itself."""
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[4:10, 6:20] = True
    hole[14:20, 20:28] = True
    return hole


HOLE = painted_hole()
PHOTO = photo(0, size=WIDTH)[:HEIGHT]


def png(pixels):
    return tf.io.encode_png(np.asarray(pixels)).numpy()


def jpeg(pixels):
    # Full chroma resolution, as an editor's "best quality" export.
    return tf.io.encode_jpeg(pixels, quality=95, chroma_downsampling=False).numpy()


def paint(colour, background, dtype=np.uint8):
    """Pixels `(H, W, len(colour))`: `colour` on the hole, `background` elsewhere."""
    return np.where(HOLE[..., None], colour, background).astype(dtype)


def transparent_border(rgba):
    """RGBA pixels with their two left columns (outside the hole) made transparent."""
    rgba = rgba.copy()
    rgba[:, :2, 3] = 0
    return rgba


def exif_segment(orientation, little_endian=True):
    """A JPEG APP1 segment holding one EXIF tag: orientation (0x0112, SHORT)."""
    order = "<" if little_endian else ">"
    tiff = (b"II" if little_endian else b"MM") + struct.pack(f"{order}HI", 42, 8)
    tiff += struct.pack(f"{order}HHHIHHI", 1, 0x0112, 3, 1, orientation, 0, 0)
    payload = b"Exif\0\0" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def with_exif(data, orientation, little_endian=True, after_app0=True):
    """JPEG bytes with an EXIF orientation segment, after the JFIF (APP0) segment or before it."""
    assert data[:4] == b"\xff\xd8\xff\xe0"
    cut = 4 + struct.unpack(">H", data[4:6])[0] if after_app0 else 2
    return data[:cut] + exif_segment(orientation, little_endian) + data[cut:]


def phone_jpeg(upright):
    """A phone photo: pixels stored a quarter turn anticlockwise, EXIF orientation 6."""
    return with_exif(jpeg(np.ascontiguousarray(np.rot90(upright, 1))), 6)


def upright_pixels(phone_file):
    """What a viewer shows: the stored pixels (TensorFlow's JPEG decoder) turned clockwise."""
    return np.ascontiguousarray(np.rot90(tf.io.decode_jpeg(phone_file).numpy(), -1))


# (mask file bytes, extension): each paints HOLE.
MASK_CASES = [
    pytest.param(png(paint([255, 0, 0], [0, 0, 0])), "png", id="mask-red-strokes"),
    pytest.param(jpeg(paint([0, 0, 255], [0, 0, 0])), "jpg", id="mask-blue-strokes-jpeg"),
    pytest.param(
        png(paint([255, 255, 255, 255], [255, 255, 255, 0])),
        "png",
        id="mask-transparent-layer-white-strokes",
    ),
    pytest.param(
        png(paint([0, 0, 0, 255], [0, 0, 0, 0])), "png", id="mask-transparent-layer-black-strokes"
    ),
    pytest.param(
        png(paint([255, 0, 0, 255], [255, 255, 255, 0])),
        "png",
        id="mask-transparent-layer-red-strokes",
    ),
    pytest.param(
        png(transparent_border(paint([255, 255, 255, 255], [0, 0, 0, 255]))),
        "png",
        id="mask-alpha-white-on-black-transparent-border",
    ),
    pytest.param(png(paint([1], [0], np.uint16)), "png", id="mask-16bit-0-1"),
    pytest.param(png(paint([65535], [0], np.uint16)), "png", id="mask-16bit-0-65535"),
    pytest.param(png(paint([50000, 0, 0], [0, 0, 0], np.uint16)), "png", id="mask-16bit-red"),
    pytest.param(phone_jpeg(paint([255], [0])), "jpg", id="mask-exif-rotated-jpeg"),
]


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A tiny export: its folder, its `inpaint_bytes` and the reference fill of HOLE in PHOTO."""
    base = tmp_path_factory.mktemp("mask_and_orientation")
    folder = export_saved_model(tiny_fully_convolutional(), base, name="fcn", max_side=64)
    loaded = tf.saved_model.load(str(folder))
    serve = loaded.signatures["serving_default"]

    def reference(image, hole):
        mask = tf.constant(hole[None, ..., None], tf.uint8)
        return serve(image=tf.constant(image[None]), mask=mask)["inpainted"].numpy()[0]

    def inpaint_bytes(image_file, mask_file):
        answer = loaded.signatures["inpaint_bytes"](
            image_bytes=tf.constant([image_file]), mask_bytes=tf.constant([mask_file])
        )
        return tf.io.decode_png(answer["inpainted_bytes"][0]).numpy()

    expected = reference(PHOTO, HOLE)
    # The model visibly fills the hole, so an empty hole cannot match.
    assert not np.array_equal(expected[HOLE], PHOTO[HOLE])
    return {"folder": folder, "reference": reference, "bytes": inpaint_bytes, "filled": expected}


def pairs_folder(root, image_file, image_ext, mask_file, mask_ext):
    for sub, data, ext in (("images", image_file, image_ext), ("masks", mask_file, mask_ext)):
        (root / sub).mkdir(parents=True)
        (root / sub / f"p0.{ext}").write_bytes(data)
    return root


@pytest.mark.large
@pytest.mark.parametrize(("mask_file", "ext"), MASK_CASES)
def test_mask_files_give_their_hole_in_every_entry_point(export, tmp_path, mask_file, ext):
    path = tmp_path / f"mask.{ext}"
    path.write_bytes(mask_file)
    expected = HOLE.astype(np.uint8)
    # `inpaint`'s reader.
    np.testing.assert_array_equal(inference.read_mask_file(path)[..., 0], expected)
    # `evaluate --pairs`.
    folder = pairs_folder(tmp_path / "pairs", png(PHOTO), "png", mask_file, ext)
    (pair,) = evaluation.load_pairs(folder)
    np.testing.assert_array_equal(pair.mask[..., 0], expected)
    # Training's "files" masks.
    np.testing.assert_array_equal(masks.load_mask_file(path).numpy()[..., 0], expected)
    # The exported bytes signature fills exactly that hole.
    np.testing.assert_array_equal(export["bytes"](png(PHOTO), mask_file), export["filled"])


@pytest.mark.large
def test_coloured_mask_through_the_command_line(export, tmp_path):
    """Case `mask-red-strokes-cli-inpaint`: the filled PNG is the reference fill of the hole."""
    mask = tmp_path / "red.png"
    mask.write_bytes(png(paint([255, 0, 0], [0, 0, 0])))
    image = tmp_path / "photo.png"
    image.write_bytes(png(PHOTO))
    out = tmp_path / "out.png"
    argv = ["inpaint", "--model", str(export["folder"]), "--image", str(image)]
    assert main([*argv, "--mask", str(mask), "--out", str(out)]) == 0
    np.testing.assert_array_equal(tf.io.decode_png(out.read_bytes()).numpy(), export["filled"])


@pytest.mark.large
def test_a_mask_without_a_hole_warns(export, tmp_path, caplog):
    """Case `mask-no-hole-warning`: `inpaint` and training's masks log it; the image comes back."""
    mask = tmp_path / "black.png"
    mask.write_bytes(png(np.zeros((HEIGHT, WIDTH, 3), np.uint8)))
    image = tmp_path / "photo.png"
    image.write_bytes(png(PHOTO))
    out = tmp_path / "out.png"
    argv = ["inpaint", "--model", str(export["folder"]), "--image", str(image)]
    with caplog.at_level(logging.WARNING, logger="keras_inpaint"):
        assert main([*argv, "--mask", str(mask), "--out", str(out)]) == 0
        assert masks.load_mask_file(mask).numpy().max() == 0
    warned = [r.getMessage() for r in caplog.records if "has no hole" in r.getMessage()]
    # One from `inpaint`, one from the training reader, each naming the file.
    assert len(warned) == 2 and all("black.png has no hole" in w for w in warned), warned
    np.testing.assert_array_equal(tf.io.decode_png(out.read_bytes()).numpy(), PHOTO)


def test_exif_orientations_match_an_image_viewer():
    """Case `exif-orientations-match-pil`: orientations 1-8, both byte orders, as PIL shows them."""
    blocks = np.random.default_rng(3).integers(0, 256, (3, 4, 3), np.uint8)
    # 8-pixel blocks of one colour: JPEG keeps them, so decoders agree within a few levels.
    stored = jpeg(np.kron(blocks, np.ones((8, 8, 1), np.uint8)))
    for orientation in range(1, 9):
        for little_endian, after_app0 in ((True, True), (False, False)):
            data = with_exif(stored, orientation, little_endian, after_app0)
            assert int(images.exif_orientation(data)) == orientation
            viewer = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
            decoded = images.decode_image_file(data).numpy()
            assert decoded.shape == viewer.shape, orientation
            assert np.abs(decoded.astype(int) - viewer).max() <= 16, orientation
    # No EXIF, a PNG, or a damaged tag: left as stored.
    assert int(images.exif_orientation(stored)) == 1
    assert int(images.exif_orientation(png(PHOTO))) == 1
    assert int(images.exif_orientation(with_exif(stored, 9))) == 1
    truncated = with_exif(stored, 6)[:60]
    assert int(images.exif_orientation(truncated)) == 6
    assert int(images.exif_orientation(truncated[:30])) == 1


@pytest.mark.large
def test_rotated_photo_through_the_command_line(export, tmp_path):
    """Case `exif-rotated-jpeg-inpaint`: the hole drawn on the upright photo is filled there."""
    phone = phone_jpeg(PHOTO)
    image = tmp_path / "phone.jpg"
    image.write_bytes(phone)
    mask = tmp_path / "mask.png"
    mask.write_bytes(png(HOLE[..., None].astype(np.uint8) * 255))
    out = tmp_path / "out.png"
    argv = ["inpaint", "--model", str(export["folder"]), "--image", str(image)]
    assert main([*argv, "--mask", str(mask), "--out", str(out)]) == 0
    upright = upright_pixels(phone)
    filled = tf.io.decode_png(out.read_bytes()).numpy()
    np.testing.assert_array_equal(filled, export["reference"](upright, HOLE))
    np.testing.assert_array_equal(filled[~HOLE], upright[~HOLE])


def test_rotated_photo_in_evaluate_pairs(tmp_path):
    """Case `exif-rotated-jpeg-evaluate`: the pair is upright, mask and image alike."""
    phone = phone_jpeg(PHOTO)
    mask_file = phone_jpeg(paint([255], [0]))
    (pair,) = evaluation.load_pairs(pairs_folder(tmp_path, phone, "jpg", mask_file, "jpg"))
    np.testing.assert_array_equal(pair.image, upright_pixels(phone))
    np.testing.assert_array_equal(pair.mask[..., 0], HOLE)


def test_rotated_photo_in_training_folders(tmp_path):
    """Case `exif-rotated-jpeg-training`: folder sources yield the photo upright."""
    phone = phone_jpeg(PHOTO)
    (tmp_path / "phone.jpg").write_bytes(phone)
    (image,) = list(sources.folder_images(str(tmp_path)))
    np.testing.assert_array_equal(image.numpy(), upright_pixels(phone))


@pytest.mark.large
def test_rotated_photo_through_the_exported_bytes_signature(export):
    """Case `exif-rotated-jpeg-inpaint-bytes`: turned upright inside the SavedModel's graph."""
    phone = phone_jpeg(PHOTO)
    mask_file = png(HOLE[..., None].astype(np.uint8) * 255)
    upright = upright_pixels(phone)
    np.testing.assert_array_equal(
        export["bytes"](phone, mask_file), export["reference"](upright, HOLE)
    )


def test_rotated_photo_in_the_serving_client(tmp_path):
    """Case `exif-rotated-jpeg-client`: `client.read_image` gives the upright pixels."""
    path = tmp_path / "phone.jpg"
    path.write_bytes(phone_jpeg(PHOTO))
    pixels = client.read_image(path)
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    # PIL's JPEG decoder, not TensorFlow's: equal within a few levels.
    assert np.abs(pixels.astype(int) - upright_pixels(path.read_bytes())).mean() < 2


TESTED = case_ids(MASK_CASES) | {
    "mask-red-strokes-cli-inpaint",
    "mask-no-hole-warning",
    "exif-orientations-match-pil",
    "exif-rotated-jpeg-inpaint",
    "exif-rotated-jpeg-evaluate",
    "exif-rotated-jpeg-training",
    "exif-rotated-jpeg-inpaint-bytes",
    "exif-rotated-jpeg-client",
}


def test_docs_table_lists_every_mask_and_orientation_case():
    assert documented_case_ids("mask") | documented_case_ids("exif") == TESTED
