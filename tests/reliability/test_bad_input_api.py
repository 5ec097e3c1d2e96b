"""Bad input to the Python API: each case works by a documented rule or names the problem and fix.

Case ids (`api-...`) are the rows of docs/RELIABILITY.md's catalogue; the
last test keeps the two in step.
"""

import json
import zipfile

import keras
import numpy as np
import pytest
from bad_input_support import (
    SIZE,
    box_mask,
    case_ids,
    damaged_keras_files,
    documented_case_ids,
    photo,
)
from test_case import tiny_context_encoder

from keras_inpaint import images
from keras_inpaint.inference import Predictor

IMAGE = photo(0)[None]
MASK = box_mask()[None]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny model, its `.keras` file and a Predictor on it, shared by the module."""
    folder = tmp_path_factory.mktemp("api")
    model = tiny_context_encoder(name="tiny")
    model.save(folder / "tiny.keras")
    return {"folder": folder, "model": model, "predictor": Predictor(folder / "tiny.keras")}


def with_nan(array, value=np.nan):
    array = array.astype(np.float32)
    array.flat[5] = value
    return array


# (image, mask, message): each is refused before the model runs.
ARRAY_ERRORS = [
    pytest.param(IMAGE[0], MASK, "Add a batch axis with image[None]", id="api-image-rank-3"),
    pytest.param(IMAGE[None], MASK, "expected (batch, height, width, 3)", id="api-image-rank-5"),
    pytest.param(
        np.concatenate([IMAGE, IMAGE[..., :1]], -1), MASK, "4 channels; expected 3", id="api-rgba"
    ),
    pytest.param(IMAGE[..., :1], MASK, "1 channels; expected 3", id="api-grayscale"),
    pytest.param(IMAGE, MASK.repeat(3, -1), "Use images.binarize_mask", id="api-mask-3-channels"),
    pytest.param(IMAGE, MASK[0], "the mask batch has shape (32, 32, 1)", id="api-mask-rank-3"),
    pytest.param(
        IMAGE,
        MASK[:, :16, :24],
        "the mask is 24x16 but the image is 32x32 (width x height)",
        id="api-mask-size",
    ),
    pytest.param(
        IMAGE.repeat(2, 0), MASK, "2 images but 1 masks; give one mask per image", id="api-batch"
    ),
    pytest.param(
        IMAGE[:, :0, :5],
        MASK[:, :0, :5],
        "the image is empty (5x0, width x height)",
        id="api-empty-image",
    ),
    pytest.param(IMAGE.astype(str), MASK, "expected numbers", id="api-dtype-string"),
    pytest.param(IMAGE > 100, MASK, "the image is boolean", id="api-dtype-bool"),
    pytest.param(
        IMAGE.astype(np.uint16) * 257, MASK, "expected 0..255. Scale it to 8 bits", id="api-uint16"
    ),
    pytest.param(
        IMAGE.astype(np.float32),
        MASK,
        "float images must be in [0, 1]. For 0..255 floats use image.round().astype(np.uint8)",
        id="api-float-0-255",
    ),
    pytest.param(
        IMAGE / 127.5 - 1.0, MASK, "images.model_to_uint8(image)", id="api-float-minus-1-1"
    ),
    pytest.param(with_nan(IMAGE / 255), MASK, "1 NaN or infinite value(s)", id="api-nan-image"),
    pytest.param(
        with_nan(IMAGE / 255, np.inf), MASK, "1 NaN or infinite value(s)", id="api-inf-image"
    ),
    pytest.param(IMAGE, with_nan(MASK), "the mask holds 1 NaN or infinite", id="api-nan-mask"),
]


@pytest.mark.parametrize(("image", "mask", "message"), ARRAY_ERRORS)
def test_predictor_refuses_bad_arrays_with_the_fix(tiny, image, mask, message):
    with pytest.raises(ValueError) as error:
        tiny["predictor"](image, mask)
    assert message in str(error.value)
    assert str(error.value).startswith("inpaint: ")


def test_model_inputs_apply_the_same_rules():
    # `images.model_inputs` is the way into a model's own call; same checks.
    with pytest.raises(ValueError, match="float images must be in"):
        images.model_inputs(IMAGE.astype(np.float32), MASK)
    with pytest.raises(ValueError, match="NaN or infinite"):
        images.model_inputs(IMAGE, with_nan(MASK))


# (image, mask): inputs that work by a rule and must give the plain uint8 case's output.
SAME_AS_UINT8 = [
    pytest.param(IMAGE.astype(np.int64), MASK, id="api-int64-image"),
    pytest.param(IMAGE / 255.0, MASK, id="api-float-0-1"),
    pytest.param(IMAGE, MASK // 255, id="api-mask-0-1"),
    pytest.param(IMAGE, MASK > 0, id="api-mask-bool"),
    pytest.param(IMAGE, (MASK > 0) * np.float32(0.5), id="api-mask-float-nonzero"),
]


@pytest.mark.large
@pytest.mark.parametrize(("image", "mask"), SAME_AS_UINT8)
def test_documented_conversions_match_the_uint8_case(tiny, image, mask):
    expected = tiny["predictor"](IMAGE, MASK)
    np.testing.assert_array_equal(tiny["predictor"](image, mask), expected)


def test_a_mask_without_hole_returns_the_image_bit_exact(tiny):
    """Case `api-no-hole`."""
    out = tiny["predictor"](IMAGE, np.zeros_like(MASK))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, IMAGE)


def test_an_all_hole_mask_is_filled_by_the_model(tiny):
    """Case `api-all-hole`: the model fills the whole image from no context."""
    everything = np.full_like(MASK, 255)
    out = tiny["predictor"](IMAGE, everything)
    direct = tiny["model"](images.model_inputs(IMAGE, everything), training=False)
    expected = images.model_to_uint8(direct).numpy()
    assert out.shape == IMAGE.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1
    assert not np.array_equal(out, IMAGE)


def test_model_inputs_feed_a_model_call_like_the_predictor(tiny):
    """Case `api-model-call`: `model(images.model_inputs(image, mask))` = Predictor's output."""
    masked_image, hole = images.model_inputs(IMAGE / 255.0, MASK)
    assert float(np.abs(masked_image).max()) <= 1.0 and set(np.unique(hole)) == {0.0, 1.0}
    direct = images.model_to_uint8(tiny["model"]((masked_image, hole), training=False)).numpy()
    out = tiny["predictor"](IMAGE, MASK)
    hole_pixels = MASK[..., 0] > 0
    assert np.abs(out[hole_pixels].astype(int) - direct[hole_pixels].astype(int)).max() <= 1


def _not_an_inpainter(folder):
    path = folder / "dense.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)
    return path


def _export_model_folder(folder):
    # What `export` writes is <base>/<name>/<version>/; the model folder is one level up.
    (folder / "exports" / "tiny" / "3").mkdir(parents=True)
    return folder / "exports" / "tiny"


def _broken_saved_model(folder):
    (folder / "broken" / "1").mkdir(parents=True)
    (folder / "broken" / "1" / "saved_model.pb").write_bytes(b"\x00not a protobuf")
    return folder / "broken" / "1"


# (path builder, error type, message): Predictor / load_model on paths that do not hold a model.
MODEL_PATH_ERRORS = [
    pytest.param(
        lambda folder: folder / "nowhere",
        FileNotFoundError,
        "does not exist; pass an export version folder",
        id="api-model-missing",
    ),
    pytest.param(
        lambda folder: damaged_keras_files(folder / "bad", folder / "tiny.keras")["truncated"],
        ValueError,
        "is not a readable .keras file (it is not a complete zip archive",
        id="api-keras-truncated",
    ),
    pytest.param(
        lambda folder: damaged_keras_files(folder / "bad", folder / "tiny.keras")["not_zip"],
        ValueError,
        "truncated or corrupt: copy it again",
        id="api-keras-not-zip",
    ),
    pytest.param(
        lambda folder: damaged_keras_files(folder / "bad", folder / "tiny.keras")["no_config"],
        ValueError,
        "(it holds no config.json)",
        id="api-keras-no-config",
    ),
    pytest.param(
        _not_an_inpainter,
        ValueError,
        "holds a Sequential, not a keras_inpaint Inpainter",
        id="api-keras-not-inpainter",
    ),
    pytest.param(
        _export_model_folder,
        ValueError,
        "is an export's model folder; pass one of its versions",
        id="api-export-model-folder",
    ),
    pytest.param(
        _broken_saved_model,
        ValueError,
        "holds a saved_model.pb that does not load",
        id="api-saved-model-corrupt",
    ),
    pytest.param(
        lambda folder: (folder / "empty_run").mkdir() or folder / "empty_run",
        FileNotFoundError,
        "is not a training run",
        id="api-run-without-checkpoint",
    ),
]


@pytest.mark.parametrize(("make_path", "error_type", "message"), MODEL_PATH_ERRORS)
def test_model_paths_without_a_model_name_the_fix(tiny, tmp_path, make_path, error_type, message):
    (tmp_path / "tiny.keras").write_bytes((tiny["folder"] / "tiny.keras").read_bytes())
    path = make_path(tmp_path)
    with pytest.raises(error_type) as error:
        Predictor(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_the_damaged_keras_files_are_really_damaged(tiny, tmp_path):
    # Guards the cases above: the good file loads, each damaged one is not a valid archive.
    files = damaged_keras_files(tmp_path, tiny["folder"] / "tiny.keras")
    assert zipfile.is_zipfile(tiny["folder"] / "tiny.keras")
    assert not zipfile.is_zipfile(files["not_zip"])
    assert "config.json" not in zipfile.ZipFile(files["no_config"]).namelist()


def _folder_spec(path):
    return {"source": {"type": "folder", "path": str(path)}, "masks": {"kind": "center_box"}}


def _build(spec):
    from keras_inpaint.data import build_dataset

    return build_dataset(spec, SIZE, 2, split="train")


def _recipe(name):
    from keras_inpaint.training import load_recipe

    return load_recipe(name)


def _bad_json_recipe(tmp_path):
    path = tmp_path / "recipe.json"
    path.write_text('{"name": "mine", ')
    return _recipe(str(path))


def _vgg(weights):
    from keras_inpaint.losses.perceptual import VGG16Features

    return VGG16Features(weights=weights)


def _vgg_imagenet_missing(tmp_path, monkeypatch):
    from keras_inpaint.losses import perceptual

    # Only an empty cache is searched, whatever this machine's ~/.keras holds.
    monkeypatch.setattr(perceptual, "keras_cache_candidates", lambda: [tmp_path / "models"])
    return _vgg("imagenet")


def _vgg_corrupt(tmp_path):
    path = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    path.write_bytes(b"\x89HDF\r\n" + bytes(100))
    return _vgg(str(path))


def _file(tmp_path):
    (tmp_path / "photos.png").write_bytes(b"")
    return tmp_path / "photos.png"


# (call(tmp_path, monkeypatch), error type, message).
DATA_AND_TRAINING_ERRORS = [
    pytest.param(
        lambda tmp_path, _: _recipe("center128"),
        ValueError,
        "did you mean context_encoder/center_128?",
        id="api-unknown-recipe",
    ),
    pytest.param(
        lambda tmp_path, _: _bad_json_recipe(tmp_path),
        ValueError,
        "is not valid JSON",
        id="api-recipe-bad-json",
    ),
    pytest.param(
        lambda tmp_path, _: _build("builtin_64_box"),
        ValueError,
        "did you mean builtin_64_boxes",
        id="api-unknown-data-spec",
    ),
    pytest.param(
        lambda tmp_path, _: _build({"source": {"type": "builtin"}, "masks": {"kind": "boxes"}}),
        ValueError,
        "unknown mask kind 'boxes'; valid kinds:",
        id="api-unknown-mask-kind",
    ),
    pytest.param(
        lambda tmp_path, _: _build(
            {"source": {"type": "tfds", "name": "cifar100000"}, "masks": {"kind": "center_box"}}
        ),
        ValueError,
        "unknown tfds dataset 'cifar100000'. Did you mean cifar100",
        id="api-unknown-tfds",
    ),
    pytest.param(
        lambda tmp_path, _: _build(_folder_spec(tmp_path)),
        ValueError,
        "holds no images; accepted extensions",
        id="api-empty-folder",
    ),
    pytest.param(
        lambda tmp_path, _: _build(_folder_spec(tmp_path / "nowhere")),
        FileNotFoundError,
        "does not exist",
        id="api-missing-folder",
    ),
    pytest.param(
        lambda tmp_path, _: _build(_folder_spec(_file(tmp_path))),
        NotADirectoryError,
        "is a file, not a folder",
        id="api-folder-is-a-file",
    ),
    pytest.param(
        _vgg_imagenet_missing,
        FileNotFoundError,
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 (58 MB) on a machine with network",
        id="api-vgg-not-in-cache",
    ),
    pytest.param(
        lambda tmp_path, _: _vgg(str(tmp_path / "vgg.h5")),
        FileNotFoundError,
        "vgg.h5 does not exist; pass the path of vgg16_weights_tf_dim_ordering",
        id="api-vgg-missing-file",
    ),
    pytest.param(
        lambda tmp_path, _: _vgg_corrupt(tmp_path),
        ValueError,
        "does not load (OSError",
        id="api-vgg-corrupt-file",
    ),
]


@pytest.mark.parametrize(("call", "error_type", "message"), DATA_AND_TRAINING_ERRORS)
def test_data_and_training_inputs_name_the_fix(tmp_path, monkeypatch, call, error_type, message):
    with pytest.raises(error_type) as error:
        call(tmp_path, monkeypatch)
    assert message in str(error.value)


def test_unknown_names_point_at_the_listing(tmp_path):
    with pytest.raises(ValueError, match="`keras-inpaint zoo` lists the recipes"):
        _recipe("center128")
    with pytest.raises(ValueError, match="data_pipelines/README.md"):
        _build("builtin_64_box")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(_folder_spec(tmp_path / "photos")))
    (tmp_path / "photos").mkdir()
    with pytest.raises(ValueError, match=r"\.jpg, \.jpeg, \.png, \.bmp"):
        _build(str(spec))


WORKS_BY_RULE = ["api-no-hole", "api-all-hole", "api-model-call"]


def test_docs_table_lists_every_api_case():
    tested = case_ids(ARRAY_ERRORS, SAME_AS_UINT8, MODEL_PATH_ERRORS, DATA_AND_TRAINING_ERRORS)
    tested |= set(WORKS_BY_RULE)
    assert documented_case_ids("api") == tested
