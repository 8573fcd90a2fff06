"""The FastAPI application: ``POST /predict``, ``GET /health``, ``GET /model``, ``GET /`` and
``GET /docs`` (Swagger UI served from the installed ``swagger-ui-bundle``: no CDN)."""

from __future__ import annotations

import base64
import threading
from importlib import resources

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

from skinseg.inference.files import encode_png
from skinseg.inference.predictor import Predictor
from skinseg.recipe import PREDICTION_COLOUR, outlines
from skinseg.serve.uploads import FIELD, Limits, UploadError, decode_upload, image_bytes, too_large

PREDICTION_HEX = "#" + "".join(f"{c:02x}" for c in PREDICTION_COLOUR)
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6" '
    f'fill="none" stroke="{PREDICTION_HEX}" stroke-width="2"/></svg>'
).encode()
DOCS_ASSETS = "/docs-assets"

# What /predict reads, for the OpenAPI page (the body is read by hand, under its byte limit,
# so FastAPI cannot infer it): a multipart form with the image, or the image as the body.
PREDICT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    FIELD: {
                        "type": "string",
                        "format": "binary",
                        "description": "the image file (PNG, JPEG, BMP, TIFF, ...)",
                    }
                },
                "required": [FIELD],
            }
        },
        "image/*": {"schema": {"type": "string", "format": "binary"}},
    },
}


def swagger_assets():
    """The folder of Swagger UI's scripts and styles, from the ``swagger-ui-bundle`` package
    (part of the ``serve`` extra); None where it is not installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    return swagger_ui_path


def outlined(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with the predicted lesion's border drawn, as on the review page."""
    return outlines(image, [(mask, PREDICTION_COLOUR)])


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
        docs_url=None,
        redoc_url=None,
    )
    sha = str(model.info.get("sha256", ""))
    page = resources.files("skinseg.serve").joinpath("page.html").read_text("utf-8")
    page = page.replace("__PREDICTION__", PREDICTION_HEX)
    assets = swagger_assets()
    if assets is not None:
        from fastapi.staticfiles import StaticFiles

        app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if assets is None:
            return HTMLResponse(
                "<p>The API page needs Swagger UI's files: pip install swagger-ui-bundle-v2 "
                '(part of the serve extra). The schema is at <a href="/openapi.json">'
                "/openapi.json</a>.</p>",
                status_code=503,
            )
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="skinseg: API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
        )

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
        openapi_extra={"requestBody": PREDICT_BODY},
        responses={
            200: {"content": {"image/png": {}, "application/json": {}}},
            413: {"description": "over the byte or pixel limit"},
            415: {"description": "not an image"},
            422: {"description": "empty, truncated, or no 'image' form field"},
        },
    )
    async def predict(
        request: Request,
        format: str = Query("png", description="png: the mask file; json: the mask and its box"),
        overlay_image: bool = Query(False, description="json only: add the outlined image"),
    ):
        """The lesion mask of an image: a 0/255 PNG of the image's size, or with
        ``format=json`` the mask as base64 PNG with its area, bounding box and the model's
        hash (``overlay_image=true`` adds the image with the lesion's border drawn, as base64
        PNG). The bounding box is ``[x0, y0, x1, y1]`` in pixels, inclusive."""
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
            picture = encode_png(outlined(image, mask))
            out["overlay_png_base64"] = base64.b64encode(picture).decode("ascii")
        return JSONResponse(out, headers=headers)

    return app
