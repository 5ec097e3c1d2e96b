"""keras-inpaint: classic image-inpainting architectures in one Keras 3 codebase.

Conventions used everywhere (see docs/ARCHITECTURE.md): pixels are float32 in
[-1, 1] inside models; masks are float32 `(B, H, W, 1)` with 1 = hole.
"""

__version__ = "0.1.0"
