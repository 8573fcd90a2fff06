"""skinseg review: the HTML page of an evaluation, checked in a real headless browser."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skinseg.cli.main import main as cli
from skinseg.data.synthetic import generate_sample
from skinseg.recipe import PREDICTION_COLOUR, TRUTH_COLOUR


def write_evaluation_inputs(root: Path, n: int = 12, size=(60, 80)) -> Path:
    """Images, truths and shifted predictions: a range of scores to review."""
    rng = np.random.default_rng(0)
    for name in ("images", "masks", "pred"):
        (root / name).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        image, mask = generate_sample(i, 7, size)
        Image.fromarray(image).save(root / "images" / f"c{i:04d}.jpg")
        Image.fromarray(mask * 255).save(root / "masks" / f"c{i:04d}_segmentation.png")
        pred = np.roll(mask, int(rng.integers(0, size[1] // 3)), axis=1)
        Image.fromarray(pred * 255).save(root / "pred" / f"c{i:04d}_segmentation.png")
    return root


def evaluate(root: Path, *extra: str) -> Path:
    out = root / "eval"
    args = ["evaluate", "--predictions", str(root / "pred"), "--masks", str(root / "masks")]
    args += ["--images", str(root / "images"), "--output", str(out), *extra]
    assert cli(args) == 0
    return out


def page_rows(html: str) -> list[dict]:
    found = re.search(
        r'<script id="review-data" type="application/json">(.*?)</script>', html, re.S
    )
    return json.loads(found.group(1))["rows"]


def test_evaluate_review_writes_page_and_pictures(tmp_path):
    out = evaluate(write_evaluation_inputs(tmp_path), "--review")
    html = (out / "review.html").read_text(encoding="utf-8")
    rows = page_rows(html)
    assert len(rows) == 12 and {r["id"] for r in rows} == {f"c{i:04d}" for i in range(12)}
    assert "<script src" not in html and "http" not in html.split("<script")[0]  # no CDN
    for colour in (TRUTH_COLOUR, PREDICTION_COLOUR):
        assert "#" + "".join(f"{c:02x}" for c in colour) in html
    assert html.count('class="bar"') == 20
    for r in rows:
        thumb, full = Image.open(out / r["thumbs"][0]), Image.open(out / r["fulls"][0])
        assert full.size == (80, 60) and max(thumb.size) == 160
        assert Image.open(out / r["plain"]).size == (80, 60)
    # The outlines are drawn in both colours on the full-size picture of a partial overlap.
    worst = min(rows, key=lambda r: r["jaccard"])
    full = np.asarray(Image.open(out / worst["fulls"][0])).astype(int)
    for colour in (TRUTH_COLOUR, PREDICTION_COLOUR):
        assert (np.abs(full - colour).sum(axis=2) < 60).sum() > 20, colour


def test_the_model_card_picture_shows_the_worst_images(tmp_path):
    from benchmarks.zoo import failure_picture
    from skinseg.evaluation import read_per_image

    out = evaluate(write_evaluation_inputs(tmp_path))
    scores = {r["id"]: r["jaccard"] for r in read_per_image(out / "per_image.csv")}
    picture = tmp_path / "card" / "failures.jpg"
    worst = failure_picture(out, picture, count=3, width=120)
    assert worst == sorted(scores, key=scores.get)[:3]
    # Two tiles a row (the third beside a blank), each 120 wide with a caption above the image.
    assert Image.open(picture).size == (240, 2 * (90 + 20))
    assert list(picture.parent.iterdir()) == [picture]  # written atomically, no temporary left


def test_review_of_runs_below_a_folder(tmp_path):
    """A cross-validation: one table per fold, each row named by its run."""
    from skinseg.training.run import train

    from .training_helpers import compose_config

    for fold in (0, 1):
        train(
            compose_config(
                [
                    "data.num_folds=2",
                    f"data.fold={fold}",
                    "logger=none",
                    "calibration.full_resolution_test=true",
                ],
                tmp_path / "cv" / f"fold{fold}",
            )
        )
    assert cli(["review", str(tmp_path / "cv")]) == 0
    rows = page_rows((tmp_path / "cv" / "review.html").read_text(encoding="utf-8"))
    assert {r["run"] for r in rows} == {"fold0", "fold1"}
    assert len({r["key"] for r in rows}) == len(rows)
    one = tmp_path / "cv" / "fold0"
    assert cli(["review", str(one)]) == 0  # a single run
    assert len(page_rows((one / "review.html").read_text())) == len(
        (one / "test_per_image.csv").read_text().splitlines()[1:]
    )


def test_review_errors_name_the_problem_and_write_nothing(tmp_path, capsys):
    assert cli(["review", str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli(["review", str(tmp_path / "empty")]) == 2
    assert "per_image.csv" in capsys.readouterr().err
    old = tmp_path / "old"
    old.mkdir()
    (old / "per_image.csv").write_text("id,jaccard,dice\na,0.5,0.6\n")
    assert cli(["review", str(old)]) == 2
    assert "run `skinseg evaluate`" in capsys.readouterr().err
    out = evaluate(write_evaluation_inputs(tmp_path / "data", n=3))
    (tmp_path / "data" / "pred" / "c0001_segmentation.png").unlink()
    assert cli(["review", str(out)]) == 2
    err = capsys.readouterr().err
    assert "1 file(s)" in err and "c0001_segmentation.png" in err
    assert not (out / "review.html").exists() and not (out / "review_files").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_review_page_in_a_browser(tmp_path, page):
    out = evaluate(write_evaluation_inputs(tmp_path), "--review")
    rows = page_rows((out / "review.html").read_text(encoding="utf-8"))
    page.goto((out / "review.html").as_uri())
    body = page.locator("#rows tbody tr")
    assert body.count() == 12

    def visible_ids():
        return page.eval_on_selector_all(
            "#rows tbody tr:not([hidden])", "trs => trs.map(t => t.children[1].textContent)"
        )

    by_jaccard = [r["id"] for r in sorted(rows, key=lambda r: (r["jaccard"], rows.index(r)))]
    assert visible_ids() == by_jaccard  # worst first
    page.click("th[data-key=id]")
    assert visible_ids() == sorted(by_jaccard)
    page.click("th[data-key=id]")
    assert visible_ids() == sorted(by_jaccard, reverse=True)
    page.fill("#filter-min", "0.5")
    page.dispatch_event("#filter-min", "input")
    kept = {r["id"] for r in rows if r["jaccard"] >= 0.5}
    assert set(visible_ids()) == kept and 0 < len(kept) < 12
    assert f"showing {len(kept)} of 12" in page.text_content("#shown")
    page.click("#filter-reset")
    assert len(visible_ids()) == 12
    bar = page.locator("#histogram .bar").nth(19)  # 0.95-1.00
    bar.dispatch_event("click")
    assert set(visible_ids()) == {r["id"] for r in rows if r["jaccard"] >= 0.95}
    page.click("#filter-reset")
    page.locator("#rows tbody tr").first.click()
    page.wait_for_function("document.querySelector('#viewer-pictures img')?.naturalWidth > 0")
    assert page.evaluate("document.getElementById('viewer').open")
    by_id_down = sorted(by_jaccard, reverse=True)
    assert page.text_content("#viewer-title") == by_id_down[0]  # still sorted by id, down
    shown_src = page.get_attribute("#viewer-pictures img", "src")
    assert "/full/" in shown_src
    page.keyboard.press("ArrowRight")
    assert page.text_content("#viewer-title") == by_id_down[1]
    page.click("#viewer-next")
    assert page.text_content("#viewer-title") == by_id_down[2]
    page.keyboard.press("ArrowLeft")
    assert page.text_content("#viewer-title") == by_id_down[1]
    page.keyboard.press("o")  # outlines off: the plain image
    assert "/plain/" in page.get_attribute("#viewer-pictures img", "src")
    page.wait_for_function("document.querySelector('#viewer-pictures img')?.naturalWidth > 0")
    page.click("#viewer-outlines")
    assert "/full/" in page.get_attribute("#viewer-pictures img", "src")
    page.keyboard.press("Escape")
    assert not page.evaluate("document.getElementById('viewer').open")
    first_thumb = page.locator("#rows tbody tr img").first
    assert first_thumb.evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.errors == []


def test_review_filters_by_diagnosis(ph2_root, tmp_path, page):
    from skinseg.data.layouts import LAYOUTS

    pred = tmp_path / "pred"
    pred.mkdir()
    for sample in LAYOUTS["ph2"].catalog(ph2_root).all_samples():
        mask = np.asarray(Image.open(sample.mask))
        Image.fromarray(np.roll(mask, 3, axis=0)).save(pred / f"{sample.id}_segmentation.png")
    out = tmp_path / "eval"
    args = ["evaluate", "--predictions", str(pred), "--data", "ph2", "--root", str(ph2_root)]
    assert cli([*args, "--output", str(out), "--review"]) == 0
    page.goto((out / "review.html").as_uri())
    assert page.is_visible("#diagnosis-filter")
    page.select_option("#filter-diagnosis", "melanoma")
    shown = page.eval_on_selector_all(
        "#rows tbody tr:not([hidden])", "trs => trs.map(t => t.children[2].textContent)"
    )
    assert shown == ["melanoma"] * 4
    assert page.errors == []


@pytest.mark.slow
def test_review_of_2000_images_stays_responsive(tmp_path, page):
    import time

    out = evaluate(write_evaluation_inputs(tmp_path, n=2000, size=(48, 64)), "--review")
    start = time.perf_counter()
    page.goto((out / "review.html").as_uri())
    page.wait_for_function("document.querySelectorAll('#rows tbody tr').length === 2000")
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    page.click("th[data-key=dice]")
    page.wait_for_function("document.querySelector('th[data-key=dice]').ariaSort === 'ascending'")
    sorted_s = time.perf_counter() - start
    requested = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/thumbs/')).length"
    )
    assert loaded < 5 and sorted_s < 2, (loaded, sorted_s)
    assert requested < 200  # lazy: the thumbnails out of view are not fetched
    assert page.errors == []


def write_small_lesions(root: Path, n: int = 4, size=(300, 400)) -> Path:
    """Large frames with a small lesion each, and predictions that over-segment some."""
    for name in ("images", "masks", "pred"):
        (root / name).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        image = np.full((*size, 3), 200, np.uint8)
        mask = np.zeros(size, np.uint8)
        y, x = 40 + 50 * i, 60 + 70 * i
        mask[y : y + 16, x : x + 20] = 1
        image[mask.astype(bool)] = (90, 60, 40)
        pred = np.zeros_like(mask)
        pred[y - 2 * i : y + 16 + 2 * i, x - 2 * i : x + 20 + 2 * i] = 1  # grows with i
        Image.fromarray(image).save(root / "images" / f"s{i}.png")
        Image.fromarray(mask * 255).save(root / "masks" / f"s{i}_segmentation.png")
        Image.fromarray(pred * 255).save(root / "pred" / f"s{i}_segmentation.png")
    return root


def test_thumbnails_are_centred_on_the_lesion(tmp_path):
    out = evaluate(write_small_lesions(tmp_path), "--review")
    rows = {r["id"]: r for r in page_rows((out / "review.html").read_text(encoding="utf-8"))}
    for i in range(4):
        r = rows[f"s{i}"]
        truth = np.asarray(Image.open(tmp_path / "masks" / f"s{i}_segmentation.png")) > 0
        pred = np.asarray(Image.open(tmp_path / "pred" / f"s{i}_segmentation.png")) > 0
        ys, xs = np.nonzero(truth | pred)
        x0, y0, x1, y1 = r["crop"]
        assert x0 <= xs.min() and y0 <= ys.min() and x1 > xs.max() and y1 > ys.max()
        assert (x1 - x0) * (y1 - y0) < 0.05 * 400 * 300  # the lesion, not the frame
        thumb = np.asarray(Image.open(out / r["thumbs"][0])).astype(int)
        # Both outlines visible in it (where they coincide, the prediction's is on top).
        for colour in (TRUTH_COLOUR, PREDICTION_COLOUR)[i == 0 :]:
            assert (np.abs(thumb - colour).sum(axis=2) < 80).sum() > 20, (i, colour)
        assert r["area_ratio"] == pytest.approx(pred.sum() / truth.sum())
        assert r["pass"] == int(r["jaccard"] >= 0.65)


def test_empty_masks_show_the_whole_frame():
    from skinseg.review.render import area_ratio, lesion_box

    empty = np.zeros((30, 40), np.uint8)
    assert lesion_box([empty, empty]) == (0, 0, 40, 30)
    assert area_ratio(empty, empty) == 1.0 and area_ratio(empty + 1, empty) is None


def test_review_header_names_the_model_and_the_intervals(tmp_path):
    root = write_evaluation_inputs(tmp_path, n=4)
    out = tmp_path / "eval"
    args = ["evaluate", "--model", "isic2017", "--images", str(root / "images")]
    assert cli([*args, "--masks", str(root / "masks"), "--output", str(out), "--review"]) == 0
    html = (out / "review.html").read_text(encoding="utf-8")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"]["file"] == "isic2017.safetensors"
    assert summary["model"]["sha256"][:16] in html and "threshold 0.5" in html
    assert "TTA" in html and "post-processing" in html and "4 images" in html
    lo, hi = summary["interval"]["jaccard"]
    assert f"{summary['jaccard']:.4f} <small>[{lo:.3f}, {hi:.3f}]</small>" in html


def test_review_of_a_run_without_a_table_names_the_setting(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}")
    assert cli(["review", str(run)]) == 2
    assert "calibration.full_resolution_test=true" in capsys.readouterr().err


def test_comparison_page_lists_both_models_per_image(tmp_path, page):
    root = write_evaluation_inputs(tmp_path)
    first = evaluate(root)  # shifted predictions
    second = tmp_path / "perfect"
    args = ["evaluate", "--predictions", str(root / "masks"), "--masks", str(root / "masks")]
    assert cli([*args, "--images", str(root / "images"), "--output", str(second)]) == 0
    assert cli(["review", str(first), str(second)]) == 0
    path = second / "compare.html"
    rows = page_rows(path.read_text(encoding="utf-8"))
    assert len(rows) == 12
    for r in rows:
        assert r["jaccard_2"] == 1.0 and r["difference"] == pytest.approx(1 - r["jaccard_1"])
        assert len(r["thumbs"]) == 2 and len(r["fulls"]) == 2
    page.goto(path.as_uri())
    header = page.eval_on_selector_all("#header th", "ths => ths.map(t => t.textContent)")
    assert header[:3] == ["picture (1)", "picture (2)", "id"]
    assert "Jaccard (1)" in header and "Jaccard (2)" in header
    ids = page.eval_on_selector_all(
        "#rows tbody tr", "trs => trs.map(t => t.children[2].textContent)"
    )
    by_difference = sorted(rows, key=lambda r: (r["difference"], rows.index(r)))
    assert ids == [r["id"] for r in by_difference]  # sorted by the difference
    first_row = page.eval_on_selector_all(
        "#rows tbody tr:first-child td", "tds => tds.map(t => t.textContent)"
    )
    j1 = header.index("Jaccard (1)")
    assert first_row[j1] == f"{by_difference[0]['jaccard_1']:.4f}"
    assert first_row[header.index("Jaccard (2)")] == "1.0000"
    assert "better (2) / worse / same" in page.text_content("table.summary")
    page.locator("#rows tbody tr").first.click()
    assert page.locator("#viewer-pictures img").count() == 2
    assert page.errors == []


def test_comparison_refuses_evaluations_of_other_images(tmp_path, capsys):
    a = evaluate(write_evaluation_inputs(tmp_path / "a", n=2))
    b = evaluate(write_small_lesions(tmp_path / "b", n=2))
    assert cli(["review", str(a), str(b)]) == 2
    assert "share no image" in capsys.readouterr().err
    assert not (b / "compare.html").exists()
