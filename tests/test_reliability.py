"""Faults and bad input end to end: clear errors, no partial outputs, nothing lost."""

import errno
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skinseg.cli.main import main as cli
from skinseg.report import write_report
from skinseg.training.history import collapsed
from skinseg.training.run import train

from .test_inference import fake_checkpoint
from .training_helpers import TINY_CLI, compose_config

ROOT = Path(__file__).resolve().parents[1]


def test_resume_skips_completed_runs(tmp_path):
    first = train(compose_config(["trainer.max_epochs=1", "logger=none"], tmp_path))
    mtime = (tmp_path / "metrics.json").stat().st_mtime_ns
    again = train(compose_config(["trainer.max_epochs=1", "logger=none", "resume=true"], tmp_path))
    assert again == first and (tmp_path / "metrics.json").stat().st_mtime_ns == mtime


def test_run_dir_records_environment_and_config(tmp_path):
    train(compose_config(["trainer.max_epochs=1", "logger=none"], tmp_path))
    env = json.loads((tmp_path / "environment.json").read_text())
    assert env["packages"]["torch"] and env["packages"]["lightning"]
    assert "commit" in env["git"]
    assert json.loads((tmp_path / "split.json").read_text())["train"]


def test_collapse_detection():
    assert collapsed([{"val/iou": 0.6}, {"val/iou": 0.7}, {"val/iou": 0.68}]) is None
    assert "never exceeded" in collapsed([{"val/iou": 0.0}, {"val/iou": 0.01}])
    assert "fell from" in collapsed([{"val/iou": 0.7}, {"val/iou": 0.1}])


def test_report_lists_collapsed_and_failed_runs(tmp_path):
    for i, (status, coll) in enumerate(
        [("completed", None), ("completed", "fell"), ("failed", None)]
    ):
        (tmp_path / str(i)).mkdir()
        (tmp_path / str(i) / "metrics.json").write_text(
            json.dumps(
                {
                    "status": status,
                    "collapsed": coll,
                    "error": "boom" if status == "failed" else None,
                    "model": "unet",
                    "loss": f"l{i}",
                    "test": {"test/iou": 0.5},
                    "best_val": {},
                    "history": [],
                }
            )
        )
    text = write_report(tmp_path, figures=False)
    assert "(1 collapsed)" in text and "(1 failed)" in text
    assert "validation collapsed: fell" in text and "failed: boom" in text


def test_config_typos_list_valid_choices():
    done = subprocess.run(
        [sys.executable, "train.py", "model=unte"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "Available options in 'model'" in done.stderr and "unet2" in done.stderr
    done = subprocess.run(
        [sys.executable, "train.py", "data=synthetic", "trainer.max_epoch=3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "max_epoch" in done.stderr


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("empty.png", b"", "file is empty"),
        ("text.jpg", b"this is a text file, not a JPEG", "cannot decode image"),
        ("truncated.bmp", None, "cannot decode image"),
        ("truncated.jpg", None, "cannot decode image"),
        ("truncated.png", None, "cannot decode image"),
    ],
)
def test_predict_bad_files_give_one_clear_error(tmp_path, capsys, name, content, expected):
    ckpt = fake_checkpoint(tmp_path / "m.ckpt", "unet")
    inputs = tmp_path / "in"
    inputs.mkdir()
    if content is None:
        Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(inputs / name)
        data = (inputs / name).read_bytes()
        (inputs / name).write_bytes(data[: len(data) // 2])
    else:
        (inputs / name).write_bytes(content)
    out = tmp_path / "out"
    assert (
        cli(["predict", "--checkpoint", str(ckpt), "--input", str(inputs), "--output", str(out)])
        == 2
    )
    err = capsys.readouterr().err
    assert expected in err and name in err and "Traceback" not in err
    assert not list(out.glob("*"))  # nothing half-written


def test_predict_tiny_and_huge_images(tmp_path):
    ckpt = fake_checkpoint(tmp_path / "m.ckpt", "unet")
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(np.full((1, 1, 3), 90, np.uint8)).save(inputs / "dot.png")
    Image.new("RGB", (10000, 10000), (120, 80, 60)).save(inputs / "huge.jpg", quality=50)
    out = tmp_path / "out"
    assert (
        cli(
            [
                "predict",
                "--checkpoint",
                str(ckpt),
                "--input",
                str(inputs),
                "--output",
                str(out),
                "--batch-size",
                "1",
            ]
        )
        == 0
    )
    assert Image.open(out / "dot_segmentation.png").size == (1, 1)
    assert Image.open(out / "huge_segmentation.png").size == (10000, 10000)


def test_disk_full_leaves_no_partial_file(tmp_path, monkeypatch, capsys):
    ckpt = fake_checkpoint(tmp_path / "m.ckpt", "unet")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "a.png")
    from skinseg.inference import files

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full)
    out = tmp_path / "out"
    assert (
        cli(
            [
                "predict",
                "--checkpoint",
                str(ckpt),
                "--input",
                str(tmp_path / "a.png"),
                "--output",
                str(out),
            ]
        )
        == 2
    )
    assert "No space left on device" in capsys.readouterr().err
    assert not list(out.iterdir())


def test_unwritable_output(tmp_path, capsys):
    ckpt = fake_checkpoint(tmp_path / "m.ckpt", "unet")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "a.png")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    assert (
        cli(
            [
                "predict",
                "--checkpoint",
                str(ckpt),
                "--input",
                str(tmp_path / "a.png"),
                "--output",
                str(blocker / "out"),
            ]
        )
        == 2
    )
    assert "cannot create output folder" in capsys.readouterr().err


def test_predict_goes_on_past_a_bad_file_and_lists_it(tmp_path, capsys):
    ckpt = fake_checkpoint(tmp_path / "m.ckpt", "unet")
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a.png", "c.png"):
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(inputs / name)
    (inputs / "b.jpg").write_text("not an image")
    out = tmp_path / "out"
    assert (
        cli(
            [
                "predict",
                "--checkpoint",
                str(ckpt),
                "--input",
                str(inputs),
                "--output",
                str(out),
                "--batch-size",
                "1",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "1 of 3 image(s) could not be read (2 mask(s) written" in err and "b.jpg" in err
    assert sorted(p.name for p in out.iterdir()) == ["a_segmentation.png", "c_segmentation.png"]


def test_interrupted_multirun_resumes_skipping_finished_cells(tmp_path):
    args = [
        sys.executable,
        "train.py",
        "-m",
        "model=unet,unet2",
        f"hydra.sweep.dir={tmp_path}",
        *TINY_CLI,
        "trainer.max_epochs=1",
        "logger=none",
    ]
    assert subprocess.run(args, cwd=ROOT, capture_output=True, timeout=300).returncode == 0
    finished = (tmp_path / "0" / "metrics.json").read_text()
    (tmp_path / "1" / "metrics.json").unlink()  # cell 1 as if the sweep died during it
    done = subprocess.run(
        [*args, "resume=true"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "already completed, skipped" in done.stderr + done.stdout
    assert (tmp_path / "0" / "metrics.json").read_text() == finished
    assert json.loads((tmp_path / "1" / "metrics.json").read_text())["status"] == "completed"
