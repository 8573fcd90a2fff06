"""skinseg serve: masks over HTTP identical to skinseg predict's, bad inputs refused clearly."""

import io
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skinseg.cli.main import main as cli
from skinseg.data.synthetic import generate_sample

from .browser import running_server, serve_process
from .test_inference import write_inputs

httpx = pytest.importorskip("httpx", reason="the serve tests need httpx")
pytest.importorskip("fastapi", reason="skinseg[serve] not installed")


def make_app(checkpoint: Path, **limits):
    from skinseg.inference.describe import describe_model
    from skinseg.inference.loading import load_predictor
    from skinseg.serve import Limits, ServedModel, create_app

    predictor = load_predictor(checkpoint, "cpu", "32")
    model = ServedModel(predictor, describe_model(checkpoint, predictor))
    return create_app(model, Limits(**limits))


@pytest.fixture(scope="module")
def server(trained_checkpoint):
    with running_server(make_app(trained_checkpoint)) as url:
        yield url


def test_concurrent_clients_get_the_masks_predict_writes(server, trained_checkpoint, tmp_path):
    inputs = tmp_path / "in"
    write_inputs(inputs)
    image, _ = generate_sample(3, 9, (300, 420))
    Image.fromarray(image).save(inputs / "large.jpg", quality=92)
    args = ["predict", "--checkpoint", str(trained_checkpoint), "--input", str(inputs)]
    args += ["--output", str(tmp_path / "out"), "--device", "cpu", "--precision", "32"]
    # One image at a time, as the server predicts (a batch may round a last bit differently).
    assert cli([*args, "--batch-size", "1"]) == 0
    files = sorted(p for p in inputs.iterdir())
    jobs = [f for f in files for _ in range(4)]  # every file from several clients at once

    def post(path: Path) -> tuple[str, bytes, int]:
        with httpx.Client(base_url=server, timeout=60) as client:
            r = client.post("/predict", files={"image": (path.name, path.read_bytes())})
        return path.stem, r.content, r.status_code

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, jobs))
    for stem, body, status in answers:
        assert status == 200, body
        assert body == (tmp_path / "out" / f"{stem}_segmentation.png").read_bytes(), stem


def test_json_answer_describes_the_mask(server, tmp_path):
    image, _ = generate_sample(1, 2, (60, 80))
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    r = httpx.post(
        f"{server}/predict?format=json&overlay_image=true",
        files={"image": ("a.png", buffer.getvalue())},
    )
    assert r.status_code == 200
    out = r.json()
    import base64

    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(out["mask_png_base64"]))))
    assert mask.shape == (60, 80) and out["width"] == 80 and out["height"] == 60
    assert out["area_pixels"] == int((mask > 0).sum())
    if out["area_pixels"]:
        ys, xs = np.nonzero(mask)
        assert out["bbox"] == [xs.min(), ys.min(), xs.max(), ys.max()]
    overlay = Image.open(io.BytesIO(base64.b64decode(out["overlay_png_base64"])))
    assert overlay.size == (80, 60) and overlay.mode == "RGB"
    assert out["model"]["sha256"] == r.headers["x-model-sha256"]


def test_health_and_model(server, trained_checkpoint):
    import hashlib

    sha = hashlib.sha256(trained_checkpoint.read_bytes()).hexdigest()
    assert httpx.get(f"{server}/health").json() == {
        "status": "ok",
        "model": "best.ckpt",
        "sha256": sha,
    }
    info = httpx.get(f"{server}/model").json()
    assert info["sha256"] == sha and info["format"] == "checkpoint"
    assert info["recipe"]["image_size"] == [32, 32]
    assert info["model"]["_target_"] == "skinseg.models.UNet2"
    assert info["training_data"]["dataset"] == "synthetic"


def test_bad_inputs_get_a_status_and_a_reason(trained_checkpoint, tmp_path):
    image, _ = generate_sample(0, 1, (120, 160))
    jpeg = io.BytesIO()
    Image.fromarray(image).save(jpeg, format="JPEG", quality=95)
    jpeg = jpeg.getvalue()
    small = io.BytesIO()
    Image.fromarray(image[:40, :50]).save(small, format="PNG")
    small_jpeg = io.BytesIO()
    Image.fromarray(image[:40, :50]).save(small_jpeg, format="JPEG")
    cut = small_jpeg.getvalue()[: len(small_jpeg.getvalue()) // 2]
    cases = {
        "empty body": ({"content": b""}, 422, "empty request body"),
        "empty file": ({"files": {"image": ("e.png", b"")}}, 422, "empty"),
        "text file": ({"files": {"image": ("notes.txt", b"hello\n" * 50)}}, 415, "not an image"),
        "truncated JPEG": ({"files": {"image": ("t.jpg", cut)}}, 422, "truncated"),
        "wrong field": ({"files": {"file": ("a.png", small.getvalue())}}, 422, "'image'"),
        "text body": (
            {"content": b"x", "headers": {"content-type": "text/plain"}},
            415,
            "text/plain",
        ),
        "too many pixels": ({"files": {"image": ("big.jpg", jpeg)}}, 413, "pixels"),
        "too many bytes": ({"files": {"image": ("big.png", b"\0" * 200_000)}}, 413, "bytes"),
    }
    with running_server(make_app(trained_checkpoint, max_bytes=100_000, max_pixels=10_000)) as url:
        for name, (kwargs, status, words) in cases.items():
            r = httpx.post(f"{url}/predict", **kwargs)
            assert r.status_code == status, (name, r.text)
            assert words.lower() in r.json()["detail"].lower(), (name, r.text)
        r = httpx.post(f"{url}/predict?format=xml", files={"image": ("a.png", small.getvalue())})
        assert r.status_code == 422 and "format" in r.json()["detail"]
        # Within the limits the same server answers: the refusals did not break it.
        r = httpx.post(f"{url}/predict", files={"image": ("a.png", small.getvalue())})
        assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (50, 40)


def test_uploads_never_touch_the_disk(server, tmp_path, monkeypatch):
    import tempfile

    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    image, _ = generate_sample(2, 2, (700, 900))  # over the 1 MiB where forms spool to disk
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="BMP")
    assert len(buffer.getvalue()) > 2**20
    r = httpx.post(f"{server}/predict", files={"image": ("x.bmp", buffer.getvalue())}, timeout=60)
    assert r.status_code == 200
    assert list(spool.iterdir()) == []


def lesion_file(tmp_path, name="lesion.jpg", size=(90, 120)) -> Path:
    image, _ = generate_sample(4, 4, size)
    path = tmp_path / name
    Image.fromarray(image).save(path)
    return path


def open_page(page, server):
    page.goto(server + "/")
    page.wait_for_function("document.getElementById('model').textContent.includes('sha256')")


def test_serve_page_shows_no_image_before_a_result(server, page):
    open_page(page, server)
    assert page.locator("img").count() == 0  # no broken-image boxes
    assert page.is_visible("#drop") and not page.is_visible("#download")
    assert page.errors == []


def test_serve_page_segments_an_upload(server, page, tmp_path):
    open_page(page, server)
    page.set_input_files("#file", str(lesion_file(tmp_path)))
    page.wait_for_selector("#results:not([hidden])", timeout=30_000)
    size = page.evaluate(
        "['.overlay', '.mask'].map(s => document.querySelector(s))"
        ".map(img => [img.naturalWidth, img.naturalHeight])"
    )
    assert size == [[120, 90], [120, 90]]
    assert page.get_attribute("#download", "download") == "lesion_segmentation.png"
    assert page.text_content(".size") == "120 × 90 px"
    assert "bounding box (x0, y0, x1, y1)" in page.text_content("dl.measures")
    assert "% of the image" in page.text_content(".area") or "no lesion" in page.text_content(
        ".area"
    )
    assert "predicted lesion border" in page.text_content("#results")
    assert page.errors == []


def test_a_refused_upload_leaves_no_result_on_screen(server, page, tmp_path):
    open_page(page, server)
    page.set_input_files("#file", str(lesion_file(tmp_path)))
    page.wait_for_selector("#results:not([hidden])", timeout=30_000)
    page.set_input_files(
        "#file", files=[{"name": "x.txt", "mimeType": "text/plain", "buffer": b"no"}]
    )
    page.wait_for_selector("#status.error")
    assert "415" in page.text_content("#status") and "x.txt" in page.text_content("#status")
    assert page.locator("img:visible").count() == 0 and page.locator("img").count() == 0
    assert not page.is_visible("#download") and not page.is_visible("#results")
    assert all("415" in e for e in page.errors), page.errors  # the refusal, and nothing else


def test_json_overlay_outlines_the_border(server, tmp_path):
    import base64

    from skinseg.data.io import read_image
    from skinseg.serve.app import outlined

    path = lesion_file(tmp_path, size=(120, 160))
    answer = httpx.post(
        f"{server}/predict?format=json&overlay_image=true",
        files={"image": path.open("rb")},
        timeout=60,
    ).json()
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["mask_png_base64"])))) > 0
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["overlay_png_base64"]))))
    image = read_image(path)[0]
    assert np.array_equal(picture, outlined(image, mask.astype(np.uint8)))
    # No fill: away from the border the lesion is the image itself.
    disc = np.zeros((120, 160), np.uint8)
    disc[30:90, 40:120] = 1
    drawn = outlined(image, disc).astype(int)
    assert np.array_equal(drawn[40:80, 50:110], image[40:80, 50:110])
    assert (drawn != image).any(axis=2).sum() > 200  # the border is drawn


def test_docs_page_works_offline_and_posts_an_image(server, page, tmp_path):
    outside = []

    def only_local(route):
        if route.request.url.startswith(server):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    page.route("**/*", only_local)
    page.goto(server + "/docs")
    page.wait_for_selector("#operations-default-predict_predict_post", timeout=30_000)
    page.click("#operations-default-predict_predict_post .opblock-summary")
    page.click("#operations-default-predict_predict_post .try-out__btn")
    page.set_input_files(
        "#operations-default-predict_predict_post input[type=file]", str(lesion_file(tmp_path))
    )
    with page.expect_response(lambda r: "/predict" in r.url) as answer:
        page.click("#operations-default-predict_predict_post .execute")
    response = answer.value
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    # Swagger UI shows the answer: the mask, at the image's size.
    shown = "#operations-default-predict_predict_post .live-responses-table img"
    page.wait_for_function(f"document.querySelector('{shown}')?.naturalWidth > 0")
    assert page.eval_on_selector(shown, "i => [i.naturalWidth, i.naturalHeight]") == [120, 90]
    assert outside == [] and page.errors == []


def test_serve_without_the_extra_says_what_to_install(monkeypatch, capsys, trained_checkpoint):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now raises ImportError
    assert cli(["serve", "--checkpoint", str(trained_checkpoint)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'skinseg[serve]'" in err[0]


@pytest.mark.slow
def test_serve_command_starts_and_answers(trained_checkpoint):
    with serve_process(trained_checkpoint, timeout=120) as (url, _):
        assert httpx.get(f"{url}/health", timeout=10).json()["status"] == "ok"
