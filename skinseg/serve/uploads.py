"""Turning a request body into an image, in memory: limits, multipart parsing, decoding, and
the HTTP status each kind of bad input gets."""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP

import numpy as np
from PIL import UnidentifiedImageError

from skinseg.data.io import ImageReadError, ImageTooLargeError, decode_image

FIELD = "image"  # the multipart form field that carries the image


@dataclass(frozen=True)
class Limits:
    """What the server accepts: request bytes and image pixels."""

    max_bytes: int = 20 * 2**20
    max_pixels: int = 50_000_000

    def __post_init__(self):
        if self.max_bytes < 1 or self.max_pixels < 1:
            raise ValueError(f"limits must be positive, got {self}")


class UploadError(Exception):
    """A request that cannot be served: its HTTP status and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def too_large(limits: Limits) -> UploadError:
    return UploadError(413, f"request body over the limit of {limits.max_bytes:,} bytes")


def image_bytes(content_type: str, body: bytes) -> tuple[bytes, str]:
    """The image file in a request body, and its name: the ``image`` field of a
    ``multipart/form-data`` body, or the whole body when it is sent as ``image/*`` or
    ``application/octet-stream``.

    Raises:
        UploadError: 422 for an empty body or a form without an ``image`` field, 415 for
            another content type.
    """
    if not body:
        raise UploadError(
            422, f"empty request body; send an image as the multipart/form-data field {FIELD!r}"
        )
    kind = content_type.split(";")[0].strip().lower()
    if kind.startswith("image/") or kind == "application/octet-stream":
        return body, "upload"
    if kind != "multipart/form-data":
        raise UploadError(
            415,
            f"content type {kind or 'none'!r} not accepted; send the image as a "
            f"multipart/form-data field {FIELD!r} (curl -F {FIELD}=@lesion.jpg) or as the "
            "body with an image/* content type",
        )
    header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    if not message.is_multipart():
        raise UploadError(422, "malformed multipart/form-data body (no parts or no boundary)")
    fields = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields.append(name)
        if name == FIELD:
            return part.get_payload(decode=True) or b"", part.get_filename() or "upload"
    raise UploadError(
        422, f"no form field {FIELD!r} with the image; the form has {fields or 'no fields'}"
    )


def decode_upload(data: bytes, name: str, limits: Limits) -> np.ndarray:
    """The upload as an RGB array, exactly as ``skinseg predict`` reads the same file.

    Raises:
        UploadError: 413 over the byte or pixel limit, 415 not an image, 422 empty or
            truncated.
    """
    if len(data) > limits.max_bytes:
        raise too_large(limits)
    try:
        return decode_image(data, name, limits.max_pixels)[0]
    except ImageTooLargeError as exc:
        raise UploadError(413, str(exc)) from exc
    except ImageReadError as exc:
        if isinstance(exc.__cause__, UnidentifiedImageError):
            raise UploadError(
                415, f"{name}: not an image (PNG, JPEG, BMP, TIFF, ... were expected)"
            ) from exc
        raise UploadError(422, str(exc)) from exc
