"""Images as PNG bytes: one (C, H, W) image or a grid of noisy samples, clipped to [0, 1]
for display and upscaled by an integer factor (nearest neighbour, so pixels stay sharp)."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image


def _to_uint8(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) floats → (N, H, W, C) uint8, clipped to [0, 1] for display only."""
    clipped = np.clip(np.nan_to_num(images, nan=0.0), 0.0, 1.0)
    return (clipped.transpose(0, 2, 3, 1) * 255.0 + 0.5).astype(np.uint8)


def grid_png(images: np.ndarray, ncols: int = 4, min_tile: int = 112, pad: int = 4) -> bytes:
    """Tile (N, C, H, W) images (C = 1 or 3) into one PNG, white gaps between tiles.

    Values are clipped to [0, 1] for display; small tiles are upscaled by an integer factor
    (nearest neighbour, so single pixels stay sharp) to at least ``min_tile`` pixels.
    """
    array = np.asarray(images, dtype=np.float32)
    if array.ndim != 4 or array.shape[1] not in (1, 3) or array.shape[0] < 1:
        raise ValueError(f"expected (N, 1|3, H, W) images, got shape {array.shape}")
    count, channels, height, width = array.shape
    tiles = _to_uint8(array)
    factor = max(1, math.ceil(min_tile / max(height, width)))
    if factor > 1:
        tiles = tiles.repeat(factor, axis=1).repeat(factor, axis=2)
    th, tw = height * factor, width * factor
    ncols = max(1, min(ncols, count))
    nrows = math.ceil(count / ncols)
    canvas = np.full((nrows * th + (nrows - 1) * pad, ncols * tw + (ncols - 1) * pad, channels),
                     255, dtype=np.uint8)
    for k in range(count):
        r, c = divmod(k, ncols)
        canvas[r * (th + pad):r * (th + pad) + th, c * (tw + pad):c * (tw + pad) + tw] = tiles[k]
    mode = "L" if channels == 1 else "RGB"
    buffer = io.BytesIO()
    Image.fromarray(canvas[..., 0] if channels == 1 else canvas, mode).save(
        buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def image_png(image: np.ndarray, min_tile: int = 112) -> bytes:
    """One (C, H, W) image in [0, 1] as PNG (upscaled like :func:`grid_png`)."""
    return grid_png(np.asarray(image)[None], ncols=1, min_tile=min_tile)


