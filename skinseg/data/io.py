"""Reading dermoscopy images and lesion masks into NumPy arrays, whatever their format.

Images come back as ``uint8 (H, W, 3)`` RGB and masks as ``uint8 (H, W)`` in {0, 1}. Anything
that can be converted safely is converted and reported in the returned notes; anything that
cannot is raised as :class:`ImageReadError` naming the file.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = (".bmp", ".jpg", ".jpeg", ".png", ".tif", ".tiff")
JPEG_EXTENSIONS = (".jpg", ".jpeg")
# Large ISIC originals are about 30 Mpx; allow well beyond that, refuse decompression bombs.
Image.MAX_IMAGE_PIXELS = 200_000_000


class ImageReadError(ValueError):
    """A file could not be decoded as an image."""


class ImageTooLargeError(ImageReadError):
    """An image with more pixels than the caller allows."""


def _decode(source, name: str, max_pixels: int | None = None) -> Image.Image:
    """Open and decode ``source`` (a path or a binary file object) now, so that truncated files
    fail here, not in a worker later; ``name`` is what messages call it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(source)
            if max_pixels is not None and img.width * img.height > max_pixels:
                raise ImageTooLargeError(
                    f"{name}: {img.width}x{img.height} pixels is more than the "
                    f"{max_pixels:,} allowed"
                )
            img.load()
    except ImageTooLargeError:
        raise
    except Exception as exc:  # PIL raises many types: OSError, SyntaxError, ValueError, ...
        raise ImageReadError(f"{name}: cannot decode image ({type(exc).__name__}: {exc})") from exc
    return img


def _open(path: Path) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: file is empty")
    return _decode(path, str(path))


def _to_8bit(arr: np.ndarray) -> np.ndarray:
    """Scale integer images of more than 8 bits (16-bit PNG/TIFF) to 0..255."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        hi = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        return np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
    hi = 65535 if arr.max(initial=0) > 255 else 255
    return (arr.astype(np.float64) * (255.0 / hi) + 0.5).astype(np.uint8)


def read_image(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """Read an image file as every skinseg command reads it: RGB, EXIF orientation applied.

    Grayscale, RGBA (alpha dropped), palette, CMYK and 16-bit images are converted to 8-bit RGB
    and each conversion is named in the notes, so that a caller can report what was changed
    (``skinseg predict`` logs them).

    Example:
        ``image, notes = read_image("lesion.jpg")``: ``image.shape == (H, W, 3)``, ``notes``
        e.g. ``["EXIF orientation applied"]`` or ``[]``.

    Returns:
        ``(image, notes)``: ``image`` uint8 (H, W, 3); ``notes`` a list of str, empty when
        the file was 8-bit RGB already.

    Raises:
        ImageReadError: the file is missing, empty, truncated or not an image.
    """
    return _rgb(_open(Path(path)))


def decode_image(
    data: bytes, name: str = "upload", max_pixels: int | None = None
) -> tuple[np.ndarray, list[str]]:
    """An image file's bytes (an upload) as :func:`read_image` reads the file: same array.

    Raises:
        ImageTooLargeError: more than ``max_pixels`` pixels (checked before decoding).
        ImageReadError: empty, truncated or not an image.
    """
    if not data:
        raise ImageReadError(f"{name}: file is empty")
    return _rgb(_decode(io.BytesIO(data), name, max_pixels))


def _rgb(img: Image.Image) -> tuple[np.ndarray, list[str]]:
    notes = []
    if img.getexif().get(0x0112, 1) != 1:
        img = ImageOps.exif_transpose(img)
        notes.append("EXIF orientation applied")
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8).copy(), notes
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = _to_8bit(np.asarray(img))
        notes.append(f"{mode} (high bit depth grayscale) converted to 8-bit RGB")
        return np.repeat(arr[..., None], 3, axis=2), notes
    notes.append(f"{mode} converted to RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")  # drop alpha (not composited: dermoscopy has no transparency)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy(), notes


def read_mask(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """Read a binary lesion mask as ``uint8 (H, W)`` in {0, 1}.

    Binary masks may use any two levels ``{0, v}`` (0/255, 0/1, ...). JPEG masks, whose
    compression blurs the two levels, are thresholded at half range (128 for 8-bit) and noted.

    Raises:
        ImageReadError: unreadable file, or a non-JPEG mask with more than two levels.
    """
    path = Path(path)
    img = _open(path)
    notes = []
    if img.mode not in ("1", "L", "P", "I;16", "I;16B", "I;16L", "I", "F"):
        notes.append(f"{img.mode} mask converted to single channel")
    if img.mode == "P":
        img = img.convert("L")
    arr = np.asarray(img)
    if arr.ndim == 3:  # RGB(A) mask: lesion wherever any colour channel is set
        arr = arr[..., :3].max(axis=2)
    arr = _to_8bit(arr) if arr.dtype != np.uint8 else arr
    if path.suffix.lower() in JPEG_EXTENSIONS:
        binary = arr >= 128
        if len(np.unique(arr)) > 2:
            notes.append("JPEG mask thresholded at 128")
        return binary.astype(np.uint8), notes
    levels = np.unique(arr)
    if len(levels) > 2 or (len(levels) == 2 and levels[0] != 0):
        shown = ", ".join(str(int(v)) for v in levels[:6]) + (" ..." if len(levels) > 6 else "")
        raise ImageReadError(
            f"{path}: mask is not binary: {len(levels)} levels ({shown}); "
            "expected 0 for background and one other value for lesion"
        )
    return (arr > 0).astype(np.uint8), notes
