"""Robust image loading and saving for the photos people really have.

Everything inside the library works on RGB ``uint8`` arrays of shape H×W×3; this module is the one place
that turns files, PIL images and odd numpy arrays into that form (EXIF rotation applied, grayscale
expanded, 16-bit scaled down, alpha split off and kept) and back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ImageInput = str | os.PathLike | Image.Image | np.ndarray
#: the file extensions taken as images wherever a folder is read (restore, degrade, evaluation, training data)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")


def list_images(folder: str | Path, what: str = "image folder") -> list[Path]:
    """Image files directly inside ``folder`` (sorted), with a clear error naming ``what`` it should have been
    when the folder is missing or holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in the {what} {folder}")
    return files

#: extensions that ``save_image`` may write with an alpha channel
_ALPHA_FORMATS = {".png", ".webp", ".tif", ".tiff"}


class ImageLoadError(ValueError):
    """An input could not be read as an image; the message names the file and what was wrong."""


@dataclass
class LoadedImage:
    """An image as the pipeline uses it.

    Attributes:
        rgb: H×W×3 ``uint8`` RGB pixels, EXIF orientation applied.
        alpha: H×W ``uint8`` alpha channel if the source had one, else ``None``.
        source: the file name (or ``"<PIL image>"`` / ``"<array>"``) for messages.
        was_gray: the source had a single luminance channel.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    source: str
    was_gray: bool = False


def _to_uint8(array: np.ndarray, source: str) -> np.ndarray:
    """Scale any numeric array to ``uint8``: 16-bit by /257, floats in [0, 1] by ×255, others clipped."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16 or (np.issubdtype(array.dtype, np.integer) and array.max(initial=0) > 255):
        return np.clip(np.round(array.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        return np.clip(array, 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        top = 1.0 if float(np.nanmax(array, initial=0.0)) <= 1.0 else 255.0
        return np.clip(np.round(np.nan_to_num(array) * (255.0 / top)), 0, 255).astype(np.uint8)
    raise ImageLoadError(f"{source}: unsupported pixel type {array.dtype}; expected uint8, uint16 or float.")


def _split_array(array: np.ndarray, source: str) -> LoadedImage:
    """Turn an H×W, H×W×1, H×W×3 or H×W×4 array (RGB order) into a :class:`LoadedImage`."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        gray = _to_uint8(array, source)
        return LoadedImage(np.repeat(gray[:, :, None], 3, axis=2), None, source, was_gray=True)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ImageLoadError(f"{source}: expected an H×W, H×W×3 or H×W×4 image, got shape {array.shape}.")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageLoadError(f"{source}: the image is empty (shape {array.shape}).")
    array = _to_uint8(array, source)
    alpha = np.ascontiguousarray(array[:, :, 3]) if array.shape[2] == 4 else None
    return LoadedImage(np.ascontiguousarray(array[:, :, :3]), alpha, source)


def _from_pil(image: Image.Image, source: str) -> LoadedImage:
    """Convert a PIL image of any mode; 16-bit and float modes keep their range before scaling."""
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image)
        if mode == "I" and array.max(initial=0) <= 255:
            array = array.astype(np.uint8)
        elif mode == "I":
            array = array.astype(np.uint16) if array.max(initial=0) <= 65535 else array
        return _split_array(array, source)
    if mode in ("L", "1"):
        return _split_array(np.asarray(image.convert("L")), source)
    if mode == "LA":
        la = np.asarray(image)
        loaded = _split_array(la[:, :, 0], source)
        loaded.alpha = np.ascontiguousarray(la[:, :, 1])
        return loaded
    has_alpha = mode in ("RGBA", "PA") or (mode == "P" and "transparency" in image.info)
    return _split_array(np.asarray(image.convert("RGBA" if has_alpha else "RGB")), source)


def _open_file(path: Path) -> Image.Image:
    """Open and fully decode a file so truncated data fails here, with the file's name in the error."""
    if not path.exists():
        raise ImageLoadError(f"{path}: no such file.")
    if path.is_dir():
        raise ImageLoadError(f"{path}: is a directory, expected an image file.")
    try:
        image = Image.open(path)
        image.load()
    except UnidentifiedImageError as err:
        raise ImageLoadError(f"{path}: not an image file PIL can read (PNG, JPEG, WebP, TIFF, BMP...).") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(f"{path}: the image data is damaged or truncated ({err}).") from err
    return image


def _reload_16bit_png(path: Path, loaded: LoadedImage) -> LoadedImage:
    """PIL reduces 16-bit RGB(A) PNGs to 8 bits by itself; OpenCV keeps 16 bits, so use it when it can."""
    import cv2

    data = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if data is None or data.dtype != np.uint16 or data.ndim != 3:
        return loaded
    data = cv2.cvtColor(data, cv2.COLOR_BGRA2RGBA if data.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return _split_array(data, str(path))


def load_image(image: ImageInput) -> LoadedImage:
    """Load a path, PIL image or numpy array (RGB order) into a :class:`LoadedImage`.

    Raises:
        ImageLoadError: the file is missing, not an image, truncated, or the array has an unusable shape.
    """
    if isinstance(image, Image.Image):
        return _from_pil(image, "<PIL image>")
    if isinstance(image, np.ndarray):
        return _split_array(image, "<array>")
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        pil = _open_file(path)
        loaded = _from_pil(pil, str(path))
        if pil.format == "PNG" and pil.mode in ("RGB", "RGBA") and _png_bit_depth(path) == 16:
            loaded = _reload_16bit_png(path, loaded)
        return loaded
    raise TypeError(f"expected a file path, PIL.Image or numpy array, got {type(image).__name__}.")


def _png_bit_depth(path: Path) -> int:
    """Read the bit depth from a PNG's IHDR chunk (byte 24)."""
    with open(path, "rb") as handle:
        header = handle.read(25)
    return header[24] if len(header) == 25 and header[:8] == b"\x89PNG\r\n\x1a\n" else 8


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """Join RGB (and alpha when given) ``uint8`` arrays into a PIL image."""
    if alpha is None:
        return Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    return Image.fromarray(np.dstack([rgb, alpha]).astype(np.uint8), "RGBA")


def save_image(path: str | os.PathLike, rgb: np.ndarray, alpha: np.ndarray | None = None, quality: int = 95) -> Path:
    """Save RGB ``uint8`` pixels; alpha is kept when the format supports it (PNG, WebP, TIFF)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if alpha is not None and path.suffix.lower() not in _ALPHA_FORMATS:
        alpha = None
    image = to_pil(rgb, alpha)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(path, quality=quality)
    else:
        image.save(path)
    return path
