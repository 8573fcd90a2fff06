"""predict, evaluate, export and report: the commands users run after training."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from skinseg.cli.main import main as cli
from skinseg.data.synthetic import generate_sample
from skinseg.inference import load_predictor
from skinseg.inference.loading import CheckpointError, save_net_checkpoint
from skinseg.models import GRID, MODELS
from skinseg.recipe import fill_holes, largest_component


def fake_checkpoint(path: Path, name: str, image_size=(32, 32), **recipe) -> Path:
    """A checkpoint in the layout training writes, for an untrained tiny model."""
    torch.manual_seed(0)
    cls = MODELS[name]
    net = cls(base_width=4, depth=2).eval()
    config = {"_target_": f"skinseg.models.{cls.__name__}", "base_width": 4, "depth": 2}
    recipe = {
        "image_size": list(image_size),
        "mean": [0.5] * 3,
        "std": [0.25] * 3,
        "threshold": 0.5,
        **recipe,
    }
    return save_net_checkpoint(net, {**config, "in_channels": 3}, recipe, path)


def write_inputs(folder: Path) -> dict[str, tuple[int, int]]:
    """Images in every mode users have: RGB JPEG, grayscale, RGBA, palette, 16-bit, BMP, TIFF."""
    folder.mkdir(parents=True, exist_ok=True)
    image, _ = generate_sample(0, 1, (75, 101))
    pil = Image.fromarray(image)
    pil.save(folder / "rgb.jpg")
    pil.convert("L").save(folder / "gray.png")
    pil.convert("RGBA").save(folder / "rgba.png")
    pil.convert("P").save(folder / "palette.png")
    Image.fromarray(image[..., 0].astype(np.uint16) * 257).save(folder / "deep16.png")
    pil.save(folder / "bitmap.bmp")
    pil.save(folder / "scan.tif")
    return {p.stem: (75, 101) for p in folder.iterdir()}


def check_masks(out: Path, expected: dict[str, tuple[int, int]]) -> None:
    for stem, (h, w) in expected.items():
        mask = Image.open(out / f"{stem}_segmentation.png")
        assert mask.mode == "L" and mask.size == (w, h), stem
        assert set(np.unique(np.asarray(mask))) <= {0, 255}


def test_predict_folder_all_modes(trained_checkpoint, tmp_path):
    expected = write_inputs(tmp_path / "in")
    code = cli(
        [
            "predict",
            "--checkpoint",
            str(trained_checkpoint),
            "--input",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "out"),
            "--overlay",
            "--probabilities",
            "--batch-size",
            "3",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    check_masks(tmp_path / "out", expected)
    assert (tmp_path / "out" / "rgb_overlay.png").is_file()
    assert Image.open(tmp_path / "out" / "rgb_probability.png").mode == "L"
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left


def test_predict_large_image_and_exif(tmp_path):
    ckpt = fake_checkpoint(tmp_path / "m.ckpt", "unet")
    big = np.zeros((4500, 6000, 3), np.uint8)
    big[1000:3000, 2000:4000] = 120
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=80)
    rotated = Image.fromarray(np.zeros((30, 50, 3), np.uint8))
    exif = rotated.getexif()
    exif[0x0112] = 6
    rotated.save(tmp_path / "exif.jpg", exif=exif)
    out = tmp_path / "out"
    assert (
        cli(
            [
                "predict",
                "--checkpoint",
                str(ckpt),
                "--input",
                str(tmp_path),
                "--output",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    check_masks(out, {"big": (4500, 6000), "exif": (50, 30)})


def test_predict_refuses_to_overwrite_inputs(tmp_path):
    ckpt = fake_checkpoint(tmp_path / "m.ckpt", "unet")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "a_segmentation.png")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "a.png")
    before = (tmp_path / "a_segmentation.png").read_bytes()
    code = cli(
        [
            "predict",
            "--checkpoint",
            str(ckpt),
            "--input",
            str(tmp_path),
            "--output",
            str(tmp_path),
            "--device",
            "cpu",
        ]
    )
    assert code == 2
    assert (tmp_path / "a_segmentation.png").read_bytes() == before


def test_predict_errors(tmp_path, capsys):
    ckpt = fake_checkpoint(tmp_path / "m.ckpt", "unet")
    (tmp_path / "empty").mkdir()
    assert (
        cli(
            [
                "predict",
                "--checkpoint",
                str(ckpt),
                "--input",
                str(tmp_path / "empty"),
                "--output",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "no images" in capsys.readouterr().err
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.png")
    (tmp_path / "file").write_text("not a folder")
    assert (
        cli(
            [
                "predict",
                "--checkpoint",
                str(ckpt),
                "--input",
                str(tmp_path / "x.png"),
                "--output",
                str(tmp_path / "file" / "sub"),
            ]
        )
        == 2
    )
    assert "cannot create output folder" in capsys.readouterr().err
    assert (
        cli(
            [
                "predict",
                "--checkpoint",
                str(tmp_path / "none.ckpt"),
                "--input",
                str(tmp_path / "x.png"),
                "--output",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "not found" in capsys.readouterr().err


def test_crafted_checkpoint_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    torch.save({"state_dict": {}, "skinseg": Payload()}, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="refused"):
        load_predictor(tmp_path / "evil.ckpt", "cpu")
    assert not marker.exists()


def test_checkpoint_with_foreign_target_refused(tmp_path):
    ckpt = fake_checkpoint(tmp_path / "m.ckpt", "unet")
    data = torch.load(ckpt, weights_only=True)
    data["skinseg"]["net_config"]["_target_"] = "os.system"
    torch.save(data, ckpt)
    with pytest.raises(CheckpointError, match="not a skinseg model"):
        load_predictor(ckpt, "cpu")


def test_recipe_travels_in_checkpoint(tmp_path):
    ckpt = fake_checkpoint(
        tmp_path / "m.ckpt",
        "unet",
        image_size=(40, 48),
        tta=True,
        largest_component=True,
        threshold=0.3,
    )
    recipe = load_predictor(ckpt, "cpu").recipe
    assert recipe.image_size == (40, 48) and recipe.tta and recipe.largest_component
    assert recipe.threshold == 0.3


def export_differences(ckpt: Path, inputs: Path, tmp_path: Path, *extra: str) -> dict:
    """Export ``ckpt`` to ONNX and TorchScript, predict ``inputs`` with each and with the
    checkpoint itself (``extra`` options), and return per format and mask the fraction of its
    pixels that differ from the checkpoint's."""
    outs = {}
    for fmt, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
        model = tmp_path / f"model{suffix}"
        assert (
            cli(["export", "--checkpoint", str(ckpt), "--format", fmt, "--output", str(model)]) == 0
        )
        outs[fmt] = tmp_path / f"out_{fmt}"
        assert (
            cli(
                [
                    "predict",
                    "--checkpoint",
                    str(model),
                    "--input",
                    str(inputs),
                    "--output",
                    str(outs[fmt]),
                ]
            )
            == 0
        )
    reference = tmp_path / "out_ckpt"
    args = [
        "predict",
        "--checkpoint",
        str(ckpt),
        "--input",
        str(inputs),
        "--output",
        str(reference),
    ]
    assert cli([*args, *extra]) == 0
    differences = {}
    for mask in reference.glob("*_segmentation.png"):
        ref = np.asarray(Image.open(mask))
        for fmt, out in outs.items():
            differences[fmt, mask.name] = (np.asarray(Image.open(out / mask.name)) != ref).mean()
    return differences


@pytest.mark.parametrize("name", sorted(GRID))  # the built-in families (width, depth)
def test_exports_predict_same_masks(name, tmp_path):
    ckpt = fake_checkpoint(tmp_path / "m.ckpt", name, tta=True)
    write_inputs(tmp_path / "in")
    for (fmt, mask), differing in export_differences(ckpt, tmp_path / "in", tmp_path).items():
        assert differing < 1e-4, f"{fmt} differs on {mask}"


def test_onnx_without_recipe_refused(tmp_path):
    (tmp_path / "x.onnx").write_bytes(b"garbage")
    with pytest.raises(CheckpointError):
        load_predictor(tmp_path / "x.onnx", "cpu")


def test_evaluate_agrees_with_isic_scorer(tmp_path):
    scoring = pytest.importorskip("isic_challenge_scoring.segmentation")
    rng = np.random.default_rng(0)
    truth, pred = tmp_path / "truth", tmp_path / "pred"
    truth.mkdir()
    pred.mkdir()
    for i in range(12):
        h, w = rng.integers(20, 60, 2)
        t = rng.random((h, w)) < rng.random()
        p = t ^ (rng.random((h, w)) < 0.2 * rng.random())
        if i == 0:
            t[:] = p[:] = False  # both empty
        if i == 1:
            t[:] = False
        if i == 2:
            p[:] = False
        sid = f"ISIC_{i:07d}"
        Image.fromarray(t.astype(np.uint8) * 255).save(truth / f"{sid}_segmentation.png")
        Image.fromarray(p.astype(np.uint8) * 255).save(pred / f"{sid}_segmentation.png")
    out = tmp_path / "eval"
    assert (
        cli(["evaluate", "--predictions", str(pred), "--masks", str(truth), "--output", str(out)])
        == 0
    )
    ours = json.loads((out / "summary.json").read_text())
    theirs = scoring.SegmentationScore.from_dir(truth, pred).macro_average.to_dict()
    for key in ("jaccard", "dice", "threshold_jaccard", "accuracy", "sensitivity", "specificity"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key
    rows = (out / "per_image.csv").read_text().splitlines()
    assert rows[0].startswith("id,jaccard") and len(rows) == 13


def test_evaluate_checkpoint_on_folder(trained_checkpoint, tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(3):
        image, mask = generate_sample(i, 5, (50, 70))
        Image.fromarray(image).save(images / f"c{i}.jpg")
        Image.fromarray(mask * 255).save(masks / f"c{i}_segmentation.png")
    out = tmp_path / "eval"
    assert (
        cli(
            [
                "evaluate",
                "--checkpoint",
                str(trained_checkpoint),
                "--images",
                str(images),
                "--masks",
                str(masks),
                "--output",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 3 and 0 <= summary["jaccard"] <= 1
    assert len(list((out / "predictions").glob("*_segmentation.png"))) == 3


def test_evaluate_reports_missing_predictions(tmp_path, capsys):
    (tmp_path / "truth").mkdir()
    (tmp_path / "pred").mkdir()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "truth" / "a_segmentation.png")
    assert (
        cli(
            [
                "evaluate",
                "--predictions",
                str(tmp_path / "pred"),
                "--masks",
                str(tmp_path / "truth"),
                "--output",
                str(tmp_path / "e"),
            ]
        )
        == 2
    )
    assert "1 prediction(s) missing" in capsys.readouterr().err


def test_postprocessing():
    mask = np.zeros((10, 10), np.uint8)
    mask[1:6, 1:6] = 1
    mask[3, 3] = 0  # a hole
    mask[8, 8] = 1  # a speck
    kept = largest_component(mask)
    assert kept[8, 8] == 0 and kept[1, 1] == 1
    filled = fill_holes(kept)
    assert filled[3, 3] == 1 and filled.sum() == 25


def test_report_on_a_sweep(tmp_path):
    for i, (model, loss, iou) in enumerate(
        [("unet", "bce", 0.8), ("unet", "bce", 0.7), ("segnet", "dice", 0.6)]
    ):
        run = tmp_path / str(i)
        run.mkdir()
        metrics = {
            "status": "completed",
            "model": model,
            "loss": loss,
            "seed": i,
            "test": {
                "test/iou": iou,
                "test/jaccard": iou,
                "test/dice": iou,
                "test/threshold_jaccard": iou,
            },
            "best_val": {"val/iou": iou},
            "parameters": 1000,
            "wall_time_s": 10,
            "history": [{"epoch": e, "val/iou": iou * (e + 1) / 3} for e in range(3)],
        }
        (run / "metrics.json").write_text(json.dumps(metrics))
    assert cli(["report", str(tmp_path)]) == 0
    table = (tmp_path / "results.md").read_text()
    assert "0.7500 ± 0.0707" in table and "**unet**" in table
    assert (tmp_path / "val_iou_curves.png").stat().st_size > 10_000
    assert (tmp_path / "test_iou_grid.png").stat().st_size > 10_000
    assert "unet,bce,2,0" in (tmp_path / "results.csv").read_text()


def test_bf16_prediction_close_to_fp32(tmp_path):
    ckpt = fake_checkpoint(tmp_path / "m.ckpt", "unet")
    image, _ = generate_sample(3, 2, (64, 80))
    p32 = load_predictor(ckpt, "cpu", "32").predict([image])[0]
    p16 = load_predictor(ckpt, "cpu", "bf16").predict([image])[0]
    assert np.abs(p32 - p16).max() < 0.05
    with pytest.raises(ValueError, match="precision"):
        load_predictor(ckpt, "cpu", "fp8")


def test_report_reads_curves_from_tensorboard_events(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from skinseg.report import load_runs

    run = tmp_path / "0"
    writer = SummaryWriter(str(run / "tensorboard" / "model=unet"))
    for step, value in enumerate([0.3, 0.5, 0.6]):
        writer.add_scalar("val/iou", value, step * 10)
    writer.close()
    (run / "metrics.json").write_text(
        json.dumps({"status": "completed", "model": "unet", "loss": "bce", "test": {}})
    )
    history = load_runs(tmp_path)[0]["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert [round(h["val/iou"], 3) for h in history] == [0.3, 0.5, 0.6]


def test_evaluate_gives_seeded_intervals_and_rows_per_diagnosis(ph2_root, tmp_path, capsys):
    from skinseg.data.layouts import LAYOUTS

    pred = tmp_path / "pred"
    pred.mkdir()
    for k, sample in enumerate(LAYOUTS["ph2"].catalog(ph2_root).all_samples()):
        mask = np.asarray(Image.open(sample.mask))
        Image.fromarray(np.roll(mask, k % 4, axis=1)).save(pred / f"{sample.id}_segmentation.png")

    def summary_of(out, *extra):
        args = ["evaluate", "--predictions", str(pred), "--data", "ph2", "--root", str(ph2_root)]
        assert cli([*args, "--output", str(out), *extra]) == 0
        return json.loads((out / "summary.json").read_text()), capsys.readouterr().out

    summary, printed = summary_of(tmp_path / "a")
    for score in ("jaccard", "dice", "sensitivity"):
        lo, hi = summary["interval"][score]
        assert lo <= summary[score] <= hi and lo < hi
    assert summary["bootstrap"] == {"level": 0.95, "resamples": 2000, "seed": 0}
    groups = summary["by_diagnosis"]
    assert set(groups) == {"common_nevus", "atypical_nevus", "melanoma"}
    assert sum(g["images"] for g in groups.values()) == summary["images"] == 12
    for g in groups.values():
        lo, hi = g["interval"]["jaccard"]
        assert lo <= g["jaccard"] <= hi
    assert "melanoma" in printed
    assert f"{summary['jaccard']:.4f} [{summary['interval']['jaccard'][0]:.3f}," in printed
    assert summary_of(tmp_path / "b")[0]["interval"] == summary["interval"]  # seeded
    assert summary_of(tmp_path / "c", "--seed", "1")[0]["interval"] != summary["interval"]


def test_bootstrap_interval_checks_its_input():
    from skinseg.evaluation.intervals import bootstrap_interval

    assert bootstrap_interval([0.5] * 10) == (0.5, 0.5)
    lo, hi = bootstrap_interval(np.linspace(0, 1, 101))
    assert 0.44 < lo < 0.5 < hi < 0.56  # the mean 0.5 +- 1.96 * 0.29 / sqrt(101)
    for bad, message in (([], "non-empty"), ([0.1, float("nan")], "NaN")):
        with pytest.raises(ValueError, match=message):
            bootstrap_interval(bad)
