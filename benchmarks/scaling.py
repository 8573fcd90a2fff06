"""Epoch time and peak memory against dataset size (ISIC 2017 from ../shared/data).

    python -m benchmarks.scaling [--sizes 250 500 1000 2000] [--root DIR]

Each size runs in its own process (so peak RSS is that size's own): the DataModule decodes and
caches N training images, then trains UNet for two epochs; the second epoch is timed. Time
should grow linearly with N; memory by the decoded cache, N x H x W x 3 bytes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ISIC = ROOT.parent / "shared" / "data" / "ISIC2017"


def worker(root: Path, n: int, size: int, width: int, budget: float | None) -> dict:
    import lightning as L
    import numpy as np
    import torch

    from skinseg.data import SkinLesionDataModule, find_isic
    from skinseg.hardware import training_precision
    from skinseg.losses import BCELoss, ComboLoss, DiceLoss
    from skinseg.models import UNet
    from skinseg.training.module import SegmentationModule

    ids = [s.id for s in find_isic(root, "isic2017").splits["train"]][:n]
    with tempfile.TemporaryDirectory() as tmp:
        split = Path(tmp) / "split.json"
        split.write_text(json.dumps({"train": ids, "val": [], "test": []}))
        start = time.perf_counter()
        dm = SkinLesionDataModule(
            "isic2017",
            str(root),
            image_size=(size, size),
            batch_size=16,
            split_file=str(split),
            num_workers=0,
            cache_budget_mb=budget,
            cache_dir=str(Path(tmp) / "cache"),
        )
        dm.setup()
        setup_s = time.perf_counter() - start
        mapped = isinstance(dm.datasets["train"].images[0], np.memmap)

    class EpochTimer(L.Callback):
        times: list[float] = []

        def on_train_epoch_start(self, trainer, module):
            self.t = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            self.times.append(time.perf_counter() - self.t)

    timer = EpochTimer()
    module = SegmentationModule(
        UNet(base_width=width),
        ComboLoss([BCELoss(), DiceLoss()]),
        optimizer=lambda params: torch.optim.AdamW(params, 1e-3),
        channels_last=True,
    )
    L.Trainer(
        max_epochs=2,
        accelerator="auto",
        devices=1,
        precision=training_precision(),  # the faster on this machine, as train.py picks
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[timer],
    ).fit(module, train_dataloaders=dm.train_dataloader())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cache_mb = sum(a.nbytes for a in dm.datasets["train"].images) / 2**20
    status = Path("/proc/self/status")
    anon_mb = None
    if status.is_file():  # anonymous (not reclaimable) memory; mapped cache pages are file pages
        for line in status.read_text().splitlines():
            if line.startswith("RssAnon:"):
                anon_mb = int(line.split()[1]) / 1024
    return {
        "rss_anon_mb": anon_mb,
        "images": n,
        "setup_s": setup_s,
        "epoch_s": timer.times[-1],
        "peak_rss_mb": peak_mb,
        "cache_mb": cache_mb,
        "memory_mapped": mapped,
        "budget_mb": budget,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--root", type=Path, default=ISIC)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument(
        "--budget-mb",
        type=float,
        default=None,
        help="data.cache_budget_mb; beyond it the cache is memory-mapped",
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "scaling.json"
    )
    args = parser.parse_args()
    if args.worker:
        print(
            json.dumps(worker(args.root, args.worker, args.image_size, args.width, args.budget_mb))
        )
        return 0
    if not (args.root / "ISIC-2017_Training_Data").is_dir():
        print(f"ISIC 2017 not found at {args.root}; pass --root", file=sys.stderr)
        return 2
    rows = []
    for n in args.sizes:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                str(n),
                "--root",
                str(args.root),
                "--image-size",
                str(args.image_size),
                "--width",
                str(args.width),
                *(["--budget-mb", str(args.budget_mb)] if args.budget_mb else []),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{n:5d} images: setup {row['setup_s']:6.1f} s, epoch {row['epoch_s']:6.1f} s "
            f"({row['epoch_s'] / n * 1000:.1f} ms/image), peak RSS {row['peak_rss_mb']:.0f} MB,"
            f" anonymous RSS {row['rss_anon_mb']:.0f} MB, cache {row['cache_mb']:.0f} MB"
            f"{' memory-mapped' if row['memory_mapped'] else ''}",
            flush=True,
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "image_size": args.image_size,
                "width": args.width,
                "budget_mb": args.budget_mb,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
