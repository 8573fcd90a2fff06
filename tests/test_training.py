import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from skinseg.models import GRID
from skinseg.training.history import MetricsHistory, without_times
from skinseg.training.run import build_module, build_trainer, train

from .training_helpers import TINY_CLI, compose_config

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {
    # A leading underscore marks a base that other options build on (conf/data/_common.yaml).
    g: sorted(p.stem for p in (ROOT / "conf" / g).glob("*.yaml") if not p.stem.startswith("_"))
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
    if group == "data" and option == "multi":  # several sources, each with its own root
        overrides += [f"data.sources.{s}.root={tmp_path}" for s in ("isic2017", "ph2")]
    elif group == "data" and option not in ("synthetic",):
        overrides.append(f"data.root={tmp_path}")
    cfg = compose_config(overrides, tmp_path, tiny=group not in ("data", "model"))
    if group == "data":
        dm = instantiate(cfg.data)
        expected = "+".join(cfg.data.sources) if option == "multi" else cfg.data.dataset
        assert dm.dataset == expected
        return
    module = build_module(cfg, recipe={}).eval()  # one 32x32 image: BatchNorm needs eval mode
    out = module(torch.zeros(1, 3, 32, 32))
    assert out.shape == (1, 1, 32, 32)
    module.configure_optimizers()
    # The trainer as train() builds it: its callbacks, loggers and resolved precision.
    trainer = build_trainer(cfg, MetricsHistory())
    assert str(trainer.precision) in ("32-true", "bf16-mixed", "16-mixed", "bf16-true")


@pytest.mark.parametrize("model", [m for m in GROUPS["model"] if m in GRID])  # smp: test_smp
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
        *TINY_CLI,
        "trainer.max_epochs=2",
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


def test_nan_loss_fails_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = compose_config(["trainer.max_epochs=4", "logger=none"], tmp_path)
    # 8 training images, batch 4: 2 steps per epoch, so the 5th step is epoch 2, step 4.
    cfg.loss = {"_target_": "tests.training_helpers.NanAfter", "step": 5}
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 2, step 4"):
        train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "FloatingPointError" in metrics["error"]
    assert [h["epoch"] for h in metrics["history"]] == [0, 1]
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["epoch"] == 1


def test_resume_true_continues_in_the_same_run_dir(tmp_path):
    first = train(compose_config(["trainer.max_epochs=1", "logger=none"], tmp_path))
    (tmp_path / "metrics.json").unlink()  # as if killed before finishing
    again = train(compose_config(["trainer.max_epochs=2", "logger=none", "resume=true"], tmp_path))
    assert again["epochs"] == 2 and again["global_steps"] == 2 * first["global_steps"]


def test_ctrl_c_saves_a_checkpoint_and_marks_the_run(tmp_path):
    import signal
    import time

    cmd = [
        sys.executable,
        "train.py",
        f"hydra.run.dir={tmp_path}",
        "data=synthetic",
        "data.num_synthetic=64",
        "data.image_size=[32,32]",
        "data.num_workers=0",
        "model.base_width=4",
        "model.depth=2",
        "trainer.max_epochs=500",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
        "logger=none",
    ]
    log = tmp_path / "output.log"  # a file, not a pipe nobody reads while training runs
    with open(log, "wb") as out:
        # A shell's background jobs inherit SIGINT ignored; give the child a real Ctrl-C.
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.time() + 180
        while not (tmp_path / "checkpoints" / "last.ckpt").exists() and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("no exit 180 s after Ctrl-C; output:\n" + log.read_text()[-3000:])
    assert proc.returncode != 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["history"]
    assert (tmp_path / "checkpoints" / "interrupted.ckpt").is_file()


def test_deterministic_runs_give_identical_metrics(tmp_path):
    runs = [
        train(
            compose_config(
                [
                    "model=segnet",
                    "trainer.max_epochs=2",
                    "logger=none",
                    "deterministic=true",
                    "seed=3",
                ],
                tmp_path / str(i),
            )
        )
        for i in range(2)
    ]
    assert runs[0]["test"] == runs[1]["test"]
    assert without_times(runs[0]["history"]) == without_times(runs[1]["history"])


def test_killed_run_resumes_to_the_same_metrics(tmp_path):
    import signal
    import time

    common = [
        "data=synthetic",
        "data.num_synthetic=48",
        "data.image_size=[32,32]",
        "data.num_workers=0",
        "model.base_width=4",
        "model.depth=2",
        "trainer.max_epochs=6",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
        "logger=none",
        "deterministic=true",
        "seed=11",
    ]

    def run(run_dir, *extra, kill_after_epochs=None):
        cmd = [sys.executable, "train.py", f"hydra.run.dir={run_dir}", *common, *extra]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if kill_after_epochs is not None:
            last = run_dir / "checkpoints" / "last.ckpt"
            deadline = time.time() + 120
            while time.time() < deadline:
                if (
                    last.exists()
                    and torch.load(last, weights_only=False)["epoch"] >= kill_after_epochs
                ):
                    break
                time.sleep(0.1)
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=300)
        return proc.returncode, err.decode()

    code, err = run(tmp_path / "whole")
    assert code == 0, err[-2000:]
    code, _ = run(tmp_path / "killed", kill_after_epochs=2)
    assert code == -signal.SIGKILL
    assert not (tmp_path / "killed" / "metrics.json").exists()
    code, err = run(tmp_path / "killed", "resume=true")
    assert code == 0, err[-2000:]
    whole = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    resumed = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    assert resumed["test"] == whole["test"]
    assert resumed["epochs"] == whole["epochs"] == 6


def test_default_optimizer_is_fused_adamw(tmp_path):
    # One kernel per step instead of a loop of small ops per parameter (conf/optimizer/adamw).
    module = build_module(compose_config([], tmp_path), recipe={})
    config = module.configure_optimizers()
    optimizer = config["optimizer"] if isinstance(config, dict) else config
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["fused"] is True
