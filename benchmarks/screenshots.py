"""The README's screenshots of the review page and the serve page, from a finished run.

    python -m benchmarks.screenshots RUN_DIR [--output docs/images]

RUN_DIR is a training run with ``calibration.full_resolution_test=true`` (its
``test_per_image.csv`` and ``checkpoints/best.ckpt``). Needs the serve extra, playwright and
Debian's chromium. Writes ``review.png`` and ``serve.png``, a 900-pixel-wide view each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM_ARGS, chromium_path, running_server  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from skinseg.data.synthetic import generate_sample
    from skinseg.inference.describe import describe_model
    from skinseg.inference.loading import load_predictor
    from skinseg.review import write_review
    from skinseg.serve import ServedModel, create_app

    args.output.mkdir(parents=True, exist_ok=True)
    checkpoint = args.run / "checkpoints" / "best.ckpt"
    with tempfile.TemporaryDirectory() as tmp:
        page_path = write_review(args.run, Path(tmp) / "review.html")
        upload = Path(tmp) / "lesion.jpg"
        Image.fromarray(generate_sample(5, 2024, (288, 384))[0]).save(upload, quality=92)
        predictor = load_predictor(checkpoint, "cpu")
        app = create_app(ServedModel(predictor, describe_model(checkpoint, predictor)))
        with sync_playwright() as p, running_server(app) as url:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 900, "height": 640})
            page.goto(page_path.as_uri())
            page.wait_for_timeout(500)
            page.screenshot(path=str(args.output / "review.png"))
            page.goto(url + "/")
            page.set_input_files("#file", str(upload))
            page.wait_for_selector("#results:not([hidden])")
            page.wait_for_timeout(300)
            page.screenshot(path=str(args.output / "serve.png"))
            browser.close()
    for name in ("review.png", "serve.png"):
        path = args.output / name
        Image.open(path).convert("P", palette=Image.Palette.ADAPTIVE, colors=128).save(
            path, optimize=True
        )
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
