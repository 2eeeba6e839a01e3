"""Reading images safely (uploads and files) and turning them into model inputs.

Accepted: PNG and JPEG, at most :data:`MAX_UPLOAD_BYTES` bytes and :data:`MAX_PIXELS`
pixels (decompression bombs are refused before decoding). Any mode (palette, 16-bit,
CMYK, alpha) is converted to 8-bit L or RGB; alpha is composited on white.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ucan_core.errors import UcanError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


MAX_PIXELS = 4096 * 4096


FORMATS = ("PNG", "JPEG")


def decode_image(data: bytes, name: str = "image") -> Image.Image:
    """Decode PNG/JPEG bytes into an 8-bit L or RGB image, or raise UcanError."""
    if not data:
        raise UcanError(f"{name} is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UcanError(f"{name} is {len(data) / 2**20:.1f} MB; the limit is "
                        f"{MAX_UPLOAD_BYTES >> 20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS:
                raise UcanError(f"{name} is {image.format or 'not an image'}; use PNG or JPEG")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise UcanError(f"{name} is {width}×{height} pixels; the limit is "
                                f"{MAX_PIXELS:,} pixels")
            image.load()
    except UcanError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UcanError(f"{name} is not a readable PNG or JPEG image ({type(error).__name__})") from None
    return to_8bit(image)


def to_8bit(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit L or RGB (alpha composited on white)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if array.max() > 255 else 255.0
        return Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        return Image.fromarray(np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("L", "RGB"):
        return image
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGB")


def read_image(path: str | Path) -> Image.Image:
    """Read and validate an image file."""
    path = Path(path)
    if not path.is_file():
        raise UcanError(f"image not found: {path}")
    if path.stat().st_size > MAX_UPLOAD_BYTES:
        raise UcanError(f"{path.name} is larger than {MAX_UPLOAD_BYTES >> 20} MB")
    return decode_image(path.read_bytes(), path.name)


def to_tensor(image: Image.Image, shape: tuple[int, int, int] | None = None) -> torch.Tensor:
    """C×H×W float tensor in [0, 1]; with ``shape`` (C, H, W), converted and resized to it
    (grey→RGB by repetition, RGB→grey by luminance, bilinear resize with antialiasing)."""
    if shape is not None:
        channels, height, width = shape
        image = image.convert("L" if channels == 1 else "RGB")
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=None)
    array = np.asarray(image, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[None]
    else:
        array = array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))
