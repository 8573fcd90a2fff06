import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from skinseg.training.run import build_module, train

from .training_helpers import compose_config

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {
    g: sorted(p.stem for p in (ROOT / "conf" / g).glob("*.yaml"))
    for g in (
        "model",
        "loss",
        "optimizer",
        "scheduler",
        "data",
        "trainer",
        "callbacks",
        "logger",
        "debug",
        "experiment",
    )
}


@pytest.mark.parametrize(
    "group, option", [(g, o) for g, options in GROUPS.items() for o in options]
)
def test_every_config_option_instantiates(group, option, tmp_path):
    overrides = [f"{group}={option}"]
    if group == "data" and option not in ("synthetic",):
        overrides.append(f"data.root={tmp_path}")
    cfg = compose_config(overrides, tmp_path, tiny=group not in ("data", "model"))
    if group == "data":
        dm = instantiate(cfg.data)
        assert dm.dataset == cfg.data.dataset
        return
    module = build_module(cfg, recipe={})
    out = module(torch.zeros(1, 3, 32, 32))
    assert out.shape == (1, 1, 32, 32)
    module.configure_optimizers()
    instantiate(cfg.trainer, callbacks=[], logger=False)
    for section in ("callbacks", "logger"):
        for node in (cfg.get(section) or {}).values():
            if node and "_target_" in node:
                instantiate(node)


@pytest.mark.parametrize("model", GROUPS["model"])
@pytest.mark.parametrize("loss", GROUPS["loss"])
def test_fast_dev_run_every_pair(model, loss, tmp_path):
    cfg = compose_config([f"model={model}", f"loss={loss}", "debug=fdr", "logger=none"], tmp_path)
    metrics = train(cfg)
    assert metrics["status"] == "completed"
    assert 0.0 <= metrics["test"]["test/iou"] <= 1.0


def test_train_writes_metrics_checkpoints_and_events(tmp_path):
    cfg = compose_config(
        [
            "model=segnet",
            "loss=focal",
            "trainer.max_epochs=2",
            "callbacks.prediction_grid.every_n_epochs=1",
        ],
        tmp_path,
    )
    metrics = train(cfg)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["test"] == metrics["test"] and on_disk["epochs"] == 2
    assert on_disk["model"] == "segnet" and on_disk["loss"] == "focal"
    for key in ("test/iou", "test/jaccard", "test/dice", "test/threshold_jaccard"):
        assert key in on_disk["test"]
    assert [h["epoch"] for h in on_disk["history"]] == [0, 1]
    assert (tmp_path / "checkpoints" / "best.ckpt").is_file()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    assert json.loads((tmp_path / "split.json").read_text())["train"]

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    event_dirs = {p.parent for p in (tmp_path / "tensorboard").rglob("events.out.tfevents*")}
    assert len(event_dirs) == 1
    acc = EventAccumulator(str(event_dirs.pop()))
    acc.Reload()
    assert len(acc.Scalars("val/iou")) == 2
    assert {
        "val/iou_best",
        "val/jaccard",
        "val/dice",
        "val/threshold_jaccard",
        "train/loss",
        "val/loss",
    } <= set(acc.Tags()["scalars"])
    assert "val/predictions" in acc.Tags()["images"]

    ckpt = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    assert ckpt["skinseg"]["net_config"]["_target_"] == "skinseg.models.SegNet"
    assert ckpt["skinseg"]["recipe"]["image_size"] == [32, 32]


def test_resume_from_last_checkpoint_continues(tmp_path):
    first = train(compose_config(["model=unet", "trainer.max_epochs=2"], tmp_path / "a"))
    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    resumed = train(
        compose_config(["model=unet", "trainer.max_epochs=3", f"ckpt_path={last}"], tmp_path / "b")
    )
    assert resumed["epochs"] == 3
    assert resumed["global_steps"] == first["global_steps"] * 3 // 2
    assert [h["epoch"] for h in resumed["history"]] == [0, 1, 2]  # history restored, one new
    assert resumed["history"][:2] == first["history"]


def test_missing_ph2_says_where_to_get_it(tmp_path):
    cfg = compose_config([f"data.root={tmp_path / 'nowhere'}"], tmp_path, tiny=False)
    with pytest.raises(FileNotFoundError, match="data=synthetic"):
        train(cfg)


def test_tiny_multirun_from_the_command_line(tmp_path):
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "model=unet,unet2",
        "loss=bce",
        f"hydra.sweep.dir={tmp_path}",
        "data=synthetic",
        "data.num_synthetic=16",
        "data.image_size=[32,32]",
        "data.num_workers=0",
        "model.base_width=4",
        "model.depth=2",
        "trainer.max_epochs=2",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = sorted(p.parent for p in tmp_path.rglob("metrics.json"))
    assert len(runs) == 2
    for run in runs:
        assert (run / "checkpoints" / "best.ckpt").is_file()
        assert (run / "checkpoints" / "last.ckpt").is_file()
        events = list((run / "tensorboard").rglob("events.out.tfevents*"))
        assert events and "model=unet" in str(events[0].parent.name)
    assert (tmp_path / "results.md").is_file() and "| unet2 | bce |" in done.stdout
