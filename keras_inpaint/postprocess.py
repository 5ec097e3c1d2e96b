"""Post-processing of inpainted images: Poisson blending of the filled region.

GLCIC (Iizuka et al. 2017, https://doi.org/10.1145/3072959.3073659, section
3.4) blends its completions into their surroundings to remove the colour
seams a network leaves at the border of the hole. `poisson_blend` solves
Pérez et al.'s Poisson equation ("Poisson Image Editing", SIGGRAPH 2003,
https://doi.org/10.1145/882262.882269) over the hole: the known pixels are
the Dirichlet boundary and the inpainted image's gradients the guidance
field. It is an optional step after any model (the `inpaint` command and the
evaluation offer it), on numpy arrays, with scipy's sparse LU solver.

Example:
    >>> import numpy as np
    >>> from keras_inpaint.postprocess import poisson_blend
    >>> image = np.tile(np.arange(0, 64, 2, dtype=np.uint8), (32, 1))[..., None].repeat(3, -1)
    >>> mask = np.zeros((32, 32, 1), np.uint8)
    >>> mask[8:24, 8:24] = 1
    >>> offset = np.where(mask > 0, image + 40, image).astype(np.uint8)  # right shape, wrong level
    >>> bool((poisson_blend(image, offset, mask) == image).all())
    True
"""

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

_NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def poisson_blend(image, inpainted, mask, value_range=None):
    """Blend the hole of `inpainted` into the known pixels of `image` (Poisson image editing).

    For every hole pixel `p` with 4-neighbours `N_p` inside the image, the
    result `f` solves

        sum_{q in N_p} (f_p - f_q) = sum_{q in N_p} v_pq,   f_q = image_q for known q,

    a sparse symmetric positive definite system solved once per image for
    the three channels. The guidance `v_pq` is the inpainted image's gradient
    `g_p - g_q` between hole pixels. Across the seam (`q` known) the inpainted
    image's own jump `g_p - image_q` is exactly the discontinuity to remove,
    so the gradient there is taken from the inpainted side: the inpainted
    image is extended linearly past the hole, `v_pq = g_p' - g_p` with
    `p' = 2p - q` the next pixel inward (0 when `p'` is not a hole pixel).
    Consequences, each tested: known pixels are returned unchanged; a fill
    that is right up to a constant offset (any colour shift) loses the
    offset, exactly when the true image is linear across the seam and up to
    its second differences there otherwise; a fill that already satisfies
    the equation (e.g. the true pixels of an image linear across the seam) is
    returned unchanged. Only the hole pixels of `inpainted` and the known
    pixels of `image` are read, so `image` may be the masked input and
    `inpainted` the model's composite or its raw output.

    A hole touching the image border has no condition beyond the border
    (Neumann). An image whose every pixel is a hole has no boundary to
    blend with and is returned as `inpainted`; one without a hole as `image`.

    Args:
        image: the original pixels, `(B, H, W, C)` or `(H, W, C)`; hole
            pixels are ignored.
        inpainted: the completed image, same shape.
        mask: `(B, H, W, 1)`, `(B, H, W)`, `(H, W, 1)` or `(H, W)`; nonzero =
            hole (the project's convention: uint8 0/255, 0/1, bool or float).
        value_range: `(low, high)` the result is clipped to; default
            `(0, 255)` for integer `inpainted` (the result is rounded) and
            `(-1, 1)`, the models' pixel range, for floats.

    Returns:
        An array shaped and typed like `inpainted`.
    """
    image = np.asarray(image)
    inpainted = np.asarray(inpainted)
    mask = np.asarray(mask)
    if image.shape != inpainted.shape or image.ndim not in (3, 4):
        raise ValueError(
            "poisson_blend: `image` and `inpainted` must both be (B, H, W, C) or (H, W, C) "
            f"arrays of the same shape; got {image.shape} and {inpainted.shape}."
        )
    single = image.ndim == 3
    if mask.ndim == image.ndim:
        if mask.shape[-1] != 1:
            raise ValueError(
                f"poisson_blend: the mask has {mask.shape[-1]} channels; expected 1 (or none)."
            )
        mask = mask[..., 0]
    if mask.shape != image.shape[:-1]:
        raise ValueError(
            f"poisson_blend: the mask's shape {mask.shape} does not match the images' "
            f"{image.shape[:-1]} (height and width, with the batch axis if any)."
        )
    integer = np.issubdtype(inpainted.dtype, np.integer)
    if value_range is None:
        value_range = (0, 255) if integer else (-1.0, 1.0)
    if single:
        image, inpainted, mask = image[None], inpainted[None], mask[None]
    blended = np.stack(
        [
            _blend_one(known.astype(np.float64), guide.astype(np.float64), hole != 0)
            for known, guide, hole in zip(image, inpainted, mask, strict=True)
        ]
    )
    blended = np.clip(blended, *value_range)
    if integer:
        blended = np.round(blended)
    blended = blended.astype(inpainted.dtype)
    return blended[0] if single else blended


def _blend_one(known, guide, hole):
    """Solve the Poisson equation over `hole` for one `(H, W, C)` float64 image."""
    count = int(hole.sum())
    if count == 0:
        return known
    if count == hole.size:
        return guide
    height, width = hole.shape
    index = np.full(hole.shape, -1, np.int64)
    index[hole] = np.arange(count)
    ys, xs = np.nonzero(hole)  # raster order, the order of `index`
    diagonal = np.zeros(count)
    rhs = np.zeros((count, known.shape[-1]))
    rows, cols = [], []

    def inside(y, x):
        return (y >= 0) & (y < height) & (x >= 0) & (x < width)

    for dy, dx in _NEIGHBOURS:
        qy, qx = ys + dy, xs + dx
        present = np.nonzero(inside(qy, qx))[0]
        qy, qx = qy[present], qx[present]
        diagonal[present] += 1.0
        in_hole = hole[qy, qx]
        # Both pixels unknown: coupled, guided by the inpainted gradient.
        p, qy_h, qx_h = present[in_hole], qy[in_hole], qx[in_hole]
        rows.append(p)
        cols.append(index[qy_h, qx_h])
        rhs[p] += guide[ys[p], xs[p]] - guide[qy_h, qx_h]
        # Known neighbour: its value is the boundary condition; the gradient across
        # the seam comes from the next pixel inward, when that one is in the hole.
        p, qy_k, qx_k = present[~in_hole], qy[~in_hole], qx[~in_hole]
        rhs[p] += known[qy_k, qx_k]
        by, bx = ys[p] - dy, xs[p] - dx
        inward = inside(by, bx)
        inward[inward] = hole[by[inward], bx[inward]]
        p, by, bx = p[inward], by[inward], bx[inward]
        rhs[p] += guide[by, bx] - guide[ys[p], xs[p]]
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    matrix = sparse.csc_matrix(
        (
            np.concatenate([diagonal, -np.ones(len(rows))]),
            (np.concatenate([np.arange(count), rows]), np.concatenate([np.arange(count), cols])),
        ),
        shape=(count, count),
    )
    result = known.copy()
    result[ys, xs] = splu(matrix).solve(rhs)
    return result
