"""Inpaint image files with an exported SavedModel (or a `.keras` model / run directory).

Input rules (arrays and files) are those of `keras_inpaint.images`: uint8
images (floats in [0, 1] are converted), masks nonzero = hole, mask files
white on black. Bad input raises ValueError or FileNotFoundError whose
message names the problem and the fix; docs/RELIABILITY.md lists the cases.

Example:
    >>> from keras_inpaint.inference import inpaint_files
    >>> inpaint_files("runs/quickstart/export/quickstart/1",
    ...               "photo.png", "hole.png", "filled.png")   # doctest: +SKIP
"""

import logging
import re
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import PIL.Image
import tensorflow as tf

from keras_inpaint import images
from keras_inpaint.contract import DEFAULT_MAX_SIDE, IMAGE, INPAINTED, MASK, SIGNATURE
from keras_inpaint.export import SizeRule, export_max_side, load_inpainter, serving_function
from keras_inpaint.op_errors import op_error_message
from keras_inpaint.output_files import check_output, write_bytes
from keras_inpaint.postprocess import poisson_blend

logger = logging.getLogger(__name__)

NO_HOLE_WARNING = (
    "warning: the mask {path} has no hole (no pixel bright on black, none painted on a "
    "transparent layer), so the output is the image unchanged; paint the hole white (or any "
    "bright colour) on black"
)

MODEL_FORMS = "an export version folder (<base>/<name>/<version>), a .keras file or a run directory"


def read_image_file(path, channels):
    """Decode a PNG/JPEG/BMP/GIF file to uint8 `(H, W, channels)`, upright, with clear errors.

    A photo is turned as its EXIF orientation says, as viewers show it
    (`keras_inpaint.images.decode_image_file`).

    Example:
        >>> read_image_file("no_such.png", 3)
        Traceback (most recent call last):
        ...
        FileNotFoundError: image file no_such.png does not exist; give the path of a PNG, JPEG, BMP or GIF file.
    """  # noqa: E501
    return _decode_file(path, lambda data: images.decode_image_file(data, channels))


def read_mask_file(path):
    """Decode a mask file to uint8 `(H, W, 1)`, 1 = hole, upright, with clear errors.

    The one mask-file rule, `keras_inpaint.images.decode_mask_file`: bright
    (any colour) on black, 8 or 16 bits, 0/1 files, strokes painted on a
    transparent layer.

    Example:
        >>> read_mask_file("no_such.png")
        Traceback (most recent call last):
        ...
        FileNotFoundError: mask file no_such.png does not exist; give the path of a PNG, JPEG, BMP or GIF file.
    """  # noqa: E501
    return _decode_file(path, images.decode_mask_file, "mask")


def _decode_file(path, decode, what="image"):
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give the path of a PNG, JPEG, BMP or GIF file.")
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} file {path} does not exist; give the path of a PNG, JPEG, BMP or GIF file."
        )
    try:
        return decode(path.read_bytes()).numpy()
    except tf.errors.InvalidArgumentError as error:
        raise ValueError(
            f"{path} is not a readable image ({op_error_message(error).rstrip('.')}): the file "
            "is truncated, corrupt or not an image. PNG, JPEG, BMP or GIF expected; save it "
            "again or copy it anew."
        ) from None


def _export_versions(path):
    return sorted(
        (int(child.name) for child in path.iterdir() if re.fullmatch(r"\d+", child.name)),
    )


def _check_keras_archive(path):
    # Keras reports a damaged archive as "File not found"; say what is wrong instead.
    problem = None
    try:
        with zipfile.ZipFile(path) as archive:
            if "config.json" not in archive.namelist():
                problem = "it holds no config.json"
            else:
                damaged = archive.testzip()
                problem = f"its member {damaged} is damaged" if damaged else None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
        problem = f"it is not a complete zip archive: {error}"
    if problem:
        raise ValueError(
            f"{path} is not a readable .keras file ({problem}); it is truncated or corrupt: "
            "copy it again, or use the run directory's checkpoints/last.keras."
        )


def load_model(model_path):
    """An `Inpainter` from a `.keras` file, a run directory or a preset, with errors naming the fix.

    Unlike `keras_inpaint.export.load_inpainter`, a file that exists but does
    not load (truncated, corrupt, not a `.keras` archive) raises ValueError
    naming the file and what to do.

    Example:
        >>> load_model("no_such.keras")
        Traceback (most recent call last):
        ...
        FileNotFoundError: model path no_such.keras does not exist; pass an export version folder (<base>/<name>/<version>), a .keras file or a run directory.
    """  # noqa: E501
    from keras_inpaint import presets

    if presets.is_preset(model_path):
        return presets.load_inpainter(model_path)
    path = Path(model_path)
    if not path.exists():
        raise FileNotFoundError(f"model path {path} does not exist; pass {MODEL_FORMS}.")
    keras_file = path / "checkpoints" / "last.keras" if path.is_dir() else path
    if keras_file.suffix == ".keras" and keras_file.is_file():
        _check_keras_archive(keras_file)
    try:
        return load_inpainter(path)
    except (ValueError, OSError):
        raise
    except Exception as error:
        # KeyError, TypeError... from a config that names what this version lacks.
        raise ValueError(
            f"{keras_file} does not load ({type(error).__name__}: {error}); it was written by "
            "another keras-inpaint or Keras version, or edited: export it again."
        ) from None


def _load_saved_model(path):
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as error:
        # Protobuf, OpError and OSError alike mean an incomplete or damaged export.
        raise ValueError(
            f"{path} holds a saved_model.pb that does not load ({type(error).__name__}); the "
            "export is incomplete or corrupt: export the model again."
        ) from None
    if SIGNATURE not in loaded.signatures:
        raise ValueError(
            f"{path} is a SavedModel without the {SIGNATURE!r} signature "
            f"(it has {sorted(loaded.signatures) or 'none'}); pass a keras-inpaint export."
        )
    return loaded.signatures[SIGNATURE]


class Predictor:
    """A uint8 image + mask -> uint8 inpainted image function from any saved form.

    Sizes follow the export's size rule (see `keras_inpaint.export.SizeRule`):
    most models take any size; a region generator (Context Encoders' center
    variant) only its own. Inputs follow `keras_inpaint.images`' rules: uint8
    images (integers in 0..255 and floats in [0, 1] are converted, anything
    else is refused), masks nonzero = hole, no NaN or infinity. Known pixels
    are returned unchanged; a mask without a hole returns the image itself, an
    all-hole mask asks the model to fill the whole image.

    Args:
        model_path: a SavedModel export version folder (`<base>/<name>/<version>`),
            a `.keras` file, a training run directory, or a preset (a shipped
            preset's name or a preset folder, see `keras_inpaint.presets`).
        max_side: for `.keras` files, runs and presets, the largest image side accepted
            (an export has its own, chosen when it was written).

    Example:
    ```python
    predictor = Predictor("runs/quickstart/export/quickstart/1")
    filled = predictor(image[None], mask[None])  # uint8 (1, H, W, 3)
    ```
    """

    def __init__(self, model_path, max_side=DEFAULT_MAX_SIDE):
        path = Path(model_path)
        if (path / "saved_model.pb").is_file():
            self._fn = _load_saved_model(path)
            spec = self._fn.structured_input_signature[1][IMAGE]
            self.image_size = tuple(spec.shape[1:3])
            return
        if path.is_dir() and not (path / "checkpoints").is_dir():
            versions = _export_versions(path)
            if versions:
                raise ValueError(
                    f"{path} is an export's model folder; pass one of its versions, e.g. "
                    f"{path / str(versions[-1])}."
                )
        model = load_model(path)
        self._fn = tf.function(serving_function(model, max_side), reduce_retracing=True)
        self.image_size = SizeRule.for_generator(model.generator).signature_size()

    def __call__(self, image, mask):
        """Images `(B, H, W, 3)` and masks `(B, H, W, 1)` (nonzero = hole) -> uint8 images."""
        images.check_image_and_mask(image, mask, where="inpaint")
        image = images.as_uint8_images(image, where="inpaint")
        mask = images.as_hole_masks(mask, where="inpaint")
        if None not in self.image_size and tuple(np.shape(image)[1:3]) != self.image_size:
            raise ValueError(
                f"this model takes {self.image_size[1]}x{self.image_size[0]} images but got "
                f"{np.shape(image)[2]}x{np.shape(image)[1]} (width x height): its generator "
                "predicts a fixed region, so crop a window of that size around the hole (image "
                "and mask alike)."
            )
        inputs = {IMAGE: tf.constant(image, tf.uint8), MASK: tf.constant(mask, tf.uint8)}
        try:
            result = self._fn(**inputs)
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(f"inpaint: {op_error_message(error)}") from None
        return result[INPAINTED].numpy()


def _model_max_side(model_path):
    """`(max_side, what sets it)` of `Predictor(model_path)`, known without loading it.

    max_side is None for an export that does not record its own (older releases).
    """
    path = Path(model_path)
    if (path / "saved_model.pb").is_file():
        return export_max_side(path), "export option max_side"
    return DEFAULT_MAX_SIDE, "the default max_side; an export of it can take more"


def _check_image_side(image_path, max_side, where):
    """Refuse an image over `max_side` on a side from its header, before decoding its pixels.

    `where` names the setting, in the words of the export's own check.
    """
    if max_side is None:
        return
    try:
        # Over 89 million pixels PIL warns on stderr; the limit below decides instead.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PIL.Image.DecompressionBombWarning)
            with PIL.Image.open(image_path) as picture:
                width, height = picture.size
    except PIL.Image.DecompressionBombError as error:
        raise ValueError(
            f"{image_path} is far too large ({error}): this model takes images of at most "
            f"{max_side} px on a side ({where}); crop or downscale the image and its mask."
        ) from None
    except (OSError, ValueError, SyntaxError):
        # Not an image PIL reads: the decoder's own message comes next.
        return
    if max(width, height) > max_side:
        raise ValueError(
            f"{image_path} is {width}x{height} (width x height): this model takes images of "
            f"at most {max_side} px on a side ({where}); crop or downscale the image and its mask."
        )


def _check_files(model_path, image_path, mask_path, out_path):
    """Every check that needs no decoded pixels and no model, so they fail at once."""
    if out_path.suffix.lower() != ".png":
        raise ValueError(
            f"the output {out_path} would hold PNG data; name it with a .png extension."
        )
    if out_path.is_dir():
        raise ValueError(f"the output {out_path} is a folder; give a file name ending in .png.")
    check_output(out_path, {"the image": image_path, "the mask": mask_path}, "the output")
    if Path(image_path).is_file() and not Path(mask_path).exists():
        raise FileNotFoundError(
            f"mask file {mask_path} does not exist; give the path of a PNG, JPEG, BMP or GIF "
            "file, white where the image is to be filled."
        )
    _check_image_side(image_path, *_model_max_side(model_path))


def inpaint_files(model_path, image_path, mask_path, out_path, blend=False):
    """Read an image and a mask file (white = hole), inpaint, write a PNG; returns the pixels.

    The mask file rule is `keras_inpaint.images.decode_mask_file` (bright on
    black, or a 0/1 file; a mask without a hole logs a warning). Both files
    are turned upright by their EXIF orientation. The output is always PNG,
    so `out_path` must end in `.png`. `blend=True` adds Poisson blending of
    the filled region into its surroundings (GLCIC's post-processing,
    `keras_inpaint.postprocess`).

    Before any pixel is decoded or the model loads, the output is checked
    (not the image or the mask, also through links; its folder writable) and
    the image's header against the model's `max_side`. The PNG is written
    atomically (`keras_inpaint.output_files`): a failure leaves an earlier
    `out_path` as it was.
    """
    out_path = Path(out_path)
    _check_files(model_path, image_path, mask_path, out_path)
    image = read_image_file(image_path, channels=3)
    hole = read_mask_file(mask_path)
    if not hole.any():
        logger.warning(NO_HOLE_WARNING.format(path=mask_path))
    # Checked before the model loads, so a wrong mask fails at once.
    images.check_image_and_mask(image[None], hole[None], where=f"{image_path} and {mask_path}")
    inpainted = Predictor(model_path)(image[None], hole[None])[0]
    if blend:
        inpainted = poisson_blend(image, inpainted, hole)
    write_bytes(out_path, tf.io.encode_png(inpainted).numpy())
    return inpainted
