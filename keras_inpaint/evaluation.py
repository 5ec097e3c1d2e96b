"""Scoring inpainting methods on the same batches: PSNR, SSIM, L1, L2, whole image and hole.

Example:
    >>> from keras_inpaint.baselines import mean_fill
    >>> from keras_inpaint.data import build_dataset
    >>> from keras_inpaint.evaluation import compare_methods
    >>> batches = build_dataset("builtin_64_boxes", 64, 8, split="heldout").take(1)
    >>> table = compare_methods({"mean_fill": mean_fill}, batches)
    >>> sorted(table["mean_fill"])[:2]
    ['hole_l1', 'hole_l2']
"""

from keras_inpaint.metrics import image_quality_metrics


def compare_methods(methods, batches):
    """Score each method on every batch of `((masked_image, mask), image)`.

    Args:
        methods: dict name -> callable `(masked_image, mask) -> composite`
            (a trained `Inpainter` called on `(masked_image, mask)` works via
            `lambda x, m: model((x, m), training=False)`).
        batches: iterable of `((masked_image, mask), image)` batches.

    Returns:
        dict name -> {metric name: mean over images}; hole metrics skip
        images without a hole.
    """
    metrics = {name: image_quality_metrics() for name in methods}
    for (masked_image, mask), image in batches:
        for name, method in methods.items():
            composite = method(masked_image, mask)
            for metric in metrics[name]:
                metric.update_state(image, composite, mask)
    return {
        name: {metric.name: float(metric.result()) for metric in method_metrics}
        for name, method_metrics in metrics.items()
    }
