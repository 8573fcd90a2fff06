"""Listing input images and writing outputs atomically, never over an input."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from skinseg.atomic import atomic_path
from skinseg.data.io import IMAGE_EXTENSIONS


def list_images(path: str | Path) -> list[Path]:
    """One image file, or the images of a folder (sorted; not recursive).

    Raises:
        FileNotFoundError: nothing there, or a folder without images.
        ValueError: a file that is not an image by its extension.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            raise ValueError(f"{path}: not an image file; expected one of {IMAGE_EXTENSIONS}")
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"input {path} not found")
    files = sorted(
        p
        for p in path.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {path}")
    return files


def check_output_dir(output: Path) -> Path:
    """Create ``output`` and check it is writable.

    Raises:
        PermissionError: it cannot be created or written.
    """
    output = Path(output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(f"cannot create output folder {output}: {exc.strerror}") from exc
    if not os.access(output, os.W_OK):
        raise PermissionError(f"output folder {output} is not writable")
    return output.resolve()


def encode_png(array: np.ndarray) -> bytes:
    """An 8-bit array as PNG bytes: what :func:`write_png` writes, and what the server sends."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(array: np.ndarray, path: Path, protected: set[Path] = frozenset()) -> Path:
    """Write an 8-bit PNG atomically (temporary file in the same folder, then rename).

    Raises:
        ValueError: ``path`` is one of the ``protected`` input files.
    """
    target = Path(path).resolve()
    if target in protected:
        raise ValueError(f"refusing to overwrite input file {target}")
    with atomic_path(target, suffix=".png") as tmp:
        tmp.write_bytes(encode_png(array))
    return target
