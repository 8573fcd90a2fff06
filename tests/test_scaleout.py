"""Beyond one machine: SLURM rendering, submitit and Ray launchers, Optuna, DDP (slow)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .training_helpers import TINY_CLI

ROOT = Path(__file__).resolve().parents[1]
TINY = [*TINY_CLI, "trainer.max_epochs=1", "logger=none"]


def run_train(*args, env=None, timeout=600):
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.mark.slow
def test_submitit_local_grid(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    done = run_train(
        "-m",
        "hydra/launcher=submitit_local",
        "model=unet,unet2",
        f"hydra.sweep.dir={tmp_path}",
        *TINY,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list(tmp_path.glob("*/metrics.json"))) == 2
    assert list((tmp_path / ".submitit").rglob("*_log.out"))  # submitit's own job logs


@pytest.mark.slow
def test_ray_grid_on_a_local_ray_instance(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    done = run_train(
        "-m", "hydra/launcher=ray", "model=unet,unet2", f"hydra.sweep.dir={tmp_path}", *TINY
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [json.loads(p.read_text()) for p in tmp_path.glob("*/metrics.json")]
    assert sorted(r["model"] for r in runs) == ["unet", "unet2"]


@pytest.mark.slow
def test_optuna_search_reports_best_trial(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    done = run_train(
        "-m",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=3",
        f"hydra.sweep.dir={tmp_path}",
        *TINY,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    best = (tmp_path / "optimization_results.yaml").read_text()
    assert "best_params" in best and "optimizer.lr" in best and "best_value" in best
    assert len(list(tmp_path.glob("*/metrics.json"))) == 3


def test_slurm_launcher_renders_the_users_sbatch_parameters(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    (fakebin / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit only checks it exists
    (fakebin / "srun").chmod(0o755)
    capture = tmp_path / "job.sbatch"
    env = {
        **os.environ,
        "PATH": f"{fakebin}:{os.environ['PATH']}",
        "SKINSEG_SBATCH_CAPTURE": str(capture),
    }
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "slurm_driver.py"),
            "-m",
            "hydra/launcher=slurm",
            "hydra.launcher.partition=gpu-a100",
            "hydra.launcher.gpus_per_node=2",
            "hydra.launcher.cpus_per_task=6",
            "hydra.launcher.mem_gb=48",
            "hydra.launcher.timeout_min=90",
            "hydra.launcher.array_parallelism=3",
            "model=segnet,unet,unet2",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
            "data=synthetic",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert "sbatch captured" in done.stderr, done.stderr[-3000:]
    script = capture.read_text()
    for line in (
        "--partition=gpu-a100",
        "--gpus-per-node=2",
        "--cpus-per-task=6",
        "--mem=48GB",
        "--time=90",
        "--array=0-2%3",
    ):
        assert f"#SBATCH {line}" in script, line
    assert str(tmp_path / "sweep" / ".submitit") in script


@pytest.mark.slow
def test_ddp_two_cpu_processes_give_the_single_process_metrics():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "ddp_worker.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1].splitlines()[0])
    for key in ("val/iou", "val/jaccard", "val/dice", "val/loss"):
        assert result["two"][key] == pytest.approx(result["one"][key], abs=1e-6), key
