"""Start a training run from another run's generator weights (Liu et al.'s second stage)."""

from pathlib import Path

import keras


def resolve_checkpoint(source):
    """A run directory (its `checkpoints/last.keras`) or a `.keras` file -> the file's path."""
    path = Path(source)
    if path.is_dir():
        path = path / "checkpoints" / "last.keras"
    if path.suffix != ".keras" or not path.is_file():
        raise FileNotFoundError(
            f"{path} is neither a training run directory (with checkpoints/last.keras) nor "
            "a .keras file."
        )
    return path


def load_generator_weights(generator, source):
    """Copy the generator weights of a saved Inpainter into `generator`, layer by layer.

    Args:
        generator: the network to fill (e.g. a fresh `PConvUNet`).
        source: a training run directory (its `checkpoints/last.keras`) or a
            `.keras` file of an Inpainter (its generator is used) or of a
            generator, e.g. the stage-one run of `pconv_unet/places2_512_stage1`.

    Raises:
        FileNotFoundError: no run directory or `.keras` file at `source`.
        ValueError: the saved generator's layers or weight shapes differ.

    Example:
    ```python
    generator = PConvUNet(preset="liu_512")
    load_generator_weights(generator, "runs/pconv_unet/places2_512_stage1")
    ```
    """
    # compile=False: only the weights are needed, not the optimizer or the loss network.
    saved = keras.saving.load_model(resolve_checkpoint(source), compile=False, safe_mode=True)
    saved = getattr(saved, "generator", saved)
    for layer in generator.layers:
        if not layer.weights:
            continue
        try:
            saved_layer = saved.get_layer(layer.name)
        except ValueError:
            raise ValueError(
                f"{source}: its generator has no layer {layer.name!r}; initial weights must "
                "come from a run of the same architecture."
            ) from None
        expected = [tuple(w.shape) for w in layer.weights]
        found = [tuple(w.shape) for w in saved_layer.weights]
        if expected != found:
            raise ValueError(
                f"{source}: layer {layer.name!r} has weights of shapes {found}, this generator "
                f"needs {expected}; initial weights must come from the same architecture."
            )
        layer.set_weights(saved_layer.get_weights())
