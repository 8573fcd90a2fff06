"""The FastAPI application: ``POST /predict``, ``GET /health``, ``GET /model`` and ``GET /``."""

from __future__ import annotations

import base64
import threading
from importlib import resources

import numpy as np
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from skinseg.inference.files import encode_png
from skinseg.inference.predictor import Predictor
from skinseg.recipe import PREDICTION_COLOUR, overlay
from skinseg.serve.uploads import Limits, UploadError, decode_upload, image_bytes, too_large

ICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6" '
    b'fill="none" stroke="#e69f00" stroke-width="2"/></svg>'
)


class ServedModel:
    """A predictor and what it says about itself, shared by all requests: one image at a time,
    from decoding to the mask. A prediction uses every core already; running several at once
    would only make them compete, and each mask is computed alone, as ``skinseg predict
    --batch-size 1`` computes it, whatever else arrives."""

    def __init__(self, predictor: Predictor, info: dict):
        self.predictor, self.info = predictor, info
        self._lock = threading.Lock()

    def segment(self, data: bytes, name: str, limits: Limits) -> tuple[np.ndarray, np.ndarray]:
        """The upload decoded, and its {0, 1} mask at its own size as ``skinseg predict``
        makes it.

        Raises:
            UploadError: the upload is refused (see :func:`decode_upload`).
        """
        with self._lock:
            image = decode_upload(data, name, limits)
            probs = self.predictor.predict([image])[0]
            return image, self.predictor.to_mask(probs)


def describe_mask(mask: np.ndarray) -> dict:
    """The lesion's area (pixels, fraction of the image) and bounding box ``[x0, y0, x1, y1]``
    (inclusive; null when nothing was found)."""
    ys, xs = np.nonzero(mask)
    box = None if xs.size == 0 else [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]
    return {
        "width": int(mask.shape[1]),
        "height": int(mask.shape[0]),
        "area_pixels": int(xs.size),
        "area_fraction": float(xs.size / mask.size),
        "bbox": box,
    }


async def read_body(request: Request, limits: Limits) -> bytes:
    """The request body, refused (413) as soon as it passes the byte limit: never more than
    the limit in memory, nothing on disk."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_bytes + 64 * 1024:
        raise too_large(limits)  # the form's own headers get 64 KiB of slack
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_bytes + 64 * 1024:
            raise too_large(limits)
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(model: ServedModel, limits: Limits = Limits()) -> FastAPI:
    app = FastAPI(
        title="skinseg",
        summary="Skin-lesion segmentation of dermoscopic images",
        version=str(model.info.get("sha256", ""))[:12],
    )
    sha = str(model.info.get("sha256", ""))
    page = resources.files("skinseg.serve").joinpath("page.html").read_text("utf-8")

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, exc: UploadError):
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": model.info.get("file"), "sha256": sha}

    @app.get("/model")
    def model_info() -> dict:
        return model.info

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(ICON, media_type="image/svg+xml")

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.post(
        "/predict",
        responses={
            200: {"content": {"image/png": {}, "application/json": {}}},
            413: {"description": "over the byte or pixel limit"},
            415: {"description": "not an image"},
            422: {"description": "empty, truncated, or no 'image' form field"},
        },
    )
    async def predict(request: Request, format: str = "png", overlay_image: bool = False):
        """The lesion mask of an image: a 0/255 PNG of the image's size, or with
        ``format=json`` the mask as base64 PNG with its area, bounding box and the model's
        hash (``overlay_image=true`` adds the overlay as base64 PNG)."""
        if format not in ("png", "json"):
            raise UploadError(422, f"format must be 'png' or 'json', got {format!r}")
        body = await read_body(request, limits)
        data, name = image_bytes(request.headers.get("content-type", ""), body)
        image, mask = await run_in_threadpool(model.segment, data, name, limits)
        png = encode_png(mask * 255)
        headers = {"X-Model-SHA256": sha}
        if format == "png":
            return Response(png, media_type="image/png", headers=headers)
        out = {
            "file": name,
            **describe_mask(mask),
            "mask_png_base64": base64.b64encode(png).decode("ascii"),
            "model": {"file": model.info.get("file"), "sha256": sha},
        }
        if overlay_image:
            picture = encode_png(overlay(image, mask, PREDICTION_COLOUR))
            out["overlay_png_base64"] = base64.b64encode(picture).decode("ascii")
        return JSONResponse(out, headers=headers)

    return app
