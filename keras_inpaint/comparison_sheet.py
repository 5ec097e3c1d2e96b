"""A picture of an evaluation: masked input | each method | ground truth, one row per image.

Example:
    >>> from keras_inpaint.baselines import BASELINES
    >>> from keras_inpaint.comparison_sheet import comparison_sheet
    >>> comparison_sheet(pairs, {"mean": BASELINES["mean"]}, "sheet.png")  # doctest: +SKIP
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from keras_inpaint.output_files import atomic_output  # noqa: E402

HOLE_COLOUR = np.array([255, 0, 255], np.uint8)


def select_pairs(report, pairs, how="worst", metric="hole_psnr", per_method=1):
    """The pairs where each method did worst (or best) on `metric`, in a stable order."""
    if how not in ("worst", "best"):
        raise ValueError(f"how must be 'worst' or 'best'; got {how!r}")
    by_name = {pair.name: pair for pair in pairs}
    chosen = []
    for method in report["summary"]:
        rows = [r for r in report["rows"] if r["method"] == method and np.isfinite(r[metric])]
        rows.sort(key=lambda row: row[metric], reverse=how == "best")
        for row in rows[:per_method]:
            if by_name[row["image"]] not in chosen:
                chosen.append(by_name[row["image"]])
    return chosen


def comparison_sheet(pairs, methods, path, scores=None, metric="hole_psnr"):
    """Draw the sheet and save it as PNG.

    Args:
        pairs: the `Pair`s to show, one row each.
        methods: dict name -> uint8 method, as for `evaluate_pairs`.
        path: output PNG path, written atomically (`keras_inpaint.output_files`).
        scores: optional report rows; each tile is then titled with `metric`.
        metric: the metric shown in tile titles.
    """
    if not pairs:
        raise ValueError("comparison_sheet needs at least one pair")
    lookup = {(r["image"], r["method"]): r[metric] for r in (scores or [])}
    columns = ["masked input", *methods, "ground truth"]
    figure, axes = plt.subplots(
        len(pairs), len(columns), figsize=(2.2 * len(columns), 2.4 * len(pairs)), squeeze=False
    )
    for row, pair in enumerate(pairs):
        masked = pair.image.copy()
        masked[pair.mask[..., 0] > 0] = HOLE_COLOUR
        tiles = [masked]
        tiles += [np.asarray(m(pair.image[None], pair.mask[None]))[0] for m in methods.values()]
        tiles.append(pair.image)
        for column, (title, tile) in enumerate(zip(columns, tiles, strict=True)):
            axis = axes[row][column]
            axis.imshow(tile)
            axis.set_xticks([])
            axis.set_yticks([])
            label = title if row == 0 else ""
            if (pair.name, title) in lookup:
                label = f"{label}\n{metric} {lookup[(pair.name, title)]:.2f}".strip()
            axis.set_title(label, fontsize=8)
        axes[row][0].set_ylabel(pair.name, fontsize=8)
    figure.tight_layout()
    try:
        # Atomic, so a failed save never leaves a half-written sheet in place of the last one.
        with atomic_output(path) as partial:
            figure.savefig(partial, dpi=100, format="png")
    finally:
        plt.close(figure)
    return Path(path)
