"""Run many ``train.py`` jobs, a few at a time, each in its own run directory.

Used by ``crossval.py`` and ``grid.py``. A job whose ``metrics.json`` says completed is skipped
(``resume=true``), so an interrupted benchmark picks up where it stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_job(run_dir: Path, overrides: list[str], threads: int) -> dict:
    """``python train.py <overrides>`` in ``run_dir``; its metrics.json (or the failure)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        *overrides,
        f"hydra.run.dir={run_dir}",
        "resume=true",
        "trainer.enable_progress_bar=false",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    start = time.time()
    with open(run_dir / "stdout.log", "w", encoding="utf-8") as log:
        code = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    if code.returncode != 0 and metrics.get("status") != "failed":
        metrics = {"status": "failed", "error": f"exit code {code.returncode}", **metrics}
    metrics["run_dir"] = str(run_dir)
    metrics["job_wall_s"] = round(time.time() - start, 1)
    return metrics


def run_all(jobs: list[tuple[Path, list[str]]], parallel: int = 1) -> list[dict]:
    """Run ``(run_dir, overrides)`` jobs, ``parallel`` at a time, printing one line per job."""
    threads = max(1, (os.cpu_count() or 1) // max(1, parallel))
    done = 0

    def one(job):
        nonlocal done
        result = run_job(job[0], job[1], threads)
        done += 1
        test = result.get("test", {})
        score = test.get("test_full/jaccard", test.get("test/jaccard"))
        print(
            f"[{done}/{len(jobs)}] {job[0].name}: {result.get('status')} "
            f"jaccard={score if score is None else round(score, 4)} "
            f"({result['job_wall_s']:.0f} s)",
            flush=True,
        )
        return result

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, jobs))
