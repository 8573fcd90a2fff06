"""Speed of skinseg against the machine's limit and against a plain PyTorch loop.

    python -m benchmarks.speed [--quick] [--output benchmarks/results/speed.json]

Measures, on the machine it runs on (CPU, or CUDA where present):
1. peak dense matmul throughput, fp32 and bf16;
2. training throughput of each model at 256x256, batch 16, fp32 and bf16-mixed, as images/s
   and as a fraction of the matching peak (FLOPs of forward + backward counted by PyTorch),
   and a profile of each model's step (the operators that take its time, with their shares);
3. framework overhead: an epoch through the Lightning Trainer that train.py builds vs a
   hand-written loop on the same model, data, batch size and precision;
4. input pipeline: images/s the DataModule delivers (cached decode, augmentation, collate);
5. inference: end-to-end `skinseg predict` images/s on full-size PH2 images (read, predict,
   resize back, write), checkpoint and ONNX export.
Prints a table and writes JSON. Ratios, not absolute numbers, are what carries across machines.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.utils.flop_counter import FlopCounterMode

from skinseg.hardware import (
    cpu_bf16_probe,
    cpu_description,
    training_channels_last,
    training_precision,
)
from skinseg.losses import BCELoss, ComboLoss, DiceLoss
from skinseg.models import MODELS

ROOT = Path(__file__).resolve().parents[1]

PH2 = ROOT.parent / "shared" / "data" / "PH2Dataset"


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, repeat: int, warmup: int = 1) -> float:
    """Median seconds of ``fn()`` over ``repeat`` runs after ``warmup``."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def peak_matmul(dtype: torch.dtype, n: int, repeat: int) -> float:
    """GFLOP/s of an n x n x n matmul."""
    a = torch.randn(n, n, device=device()).to(dtype)
    b = torch.randn(n, n, device=device()).to(dtype)
    seconds = timed(lambda: a @ b, repeat, warmup=2)
    return 2 * n**3 / seconds / 1e9


def train_flops(model: torch.nn.Module, batch: int, size: int) -> float:
    """FLOPs of one training step (forward + backward) counted by PyTorch."""
    x = torch.randn(batch, 3, size, size, device=device())
    counter = FlopCounterMode(display=False)
    with counter:
        model(x).sum().backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def autocast(precision: str):
    return torch.autocast(device(), dtype=torch.bfloat16, enabled=precision == "bf16-mixed")


def training_step(
    name: str, precision: str, batch: int, size: int, channels_last: bool = True
) -> tuple[torch.nn.Module, object]:
    """A model and a function running one training step on fixed random data, with the
    optimizer ``conf/optimizer/adamw.yaml`` configures (the default's fused AdamW)."""
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = MODELS[name]().to(device()).to(memory_format=fmt)
    opt = instantiate(OmegaConf.load(ROOT / "conf" / "optimizer" / "adamw.yaml"))(
        params=model.parameters()
    )
    loss_fn = ComboLoss([BCELoss(), DiceLoss()])
    x = torch.randn(batch, 3, size, size, device=device()).contiguous(memory_format=fmt)
    y = (torch.rand(batch, 1, size, size, device=device()) > 0.5).float()

    def step():
        with autocast(precision):
            logits = model(x).float()
        loss = loss_fn(logits, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return model, step


def train_throughput(
    name: str, precision: str, batch: int, size: int, steps: int, channels_last: bool = True
) -> dict:
    model, step = training_step(name, precision, batch, size, channels_last)
    flops = train_flops(model, batch, size)
    seconds = timed(step, steps, warmup=2)
    return {
        "images_per_s": batch / seconds,
        "gflops_per_s": flops / seconds / 1e9,
        "train_gflop_per_image": flops / batch / 1e9,
    }


def profile_step(
    name: str, precision: str, batch: int, size: int, channels_last: bool, top: int = 8
) -> list[dict]:
    """Where a training step's time goes: the ``top`` operators by their own time (children
    excluded) over 2 profiled steps, each with its share of the profiled total."""
    from torch.profiler import ProfilerActivity, profile

    _, step = training_step(name, precision, batch, size, channels_last)
    step()
    step()
    activities = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        step()
        step()
        sync()
    attr = "self_device_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
    events = [e for e in prof.key_averages() if getattr(e, attr) > 0]
    total = sum(getattr(e, attr) for e in events)
    events.sort(key=lambda e: getattr(e, attr), reverse=True)
    return [
        {"op": e.key, "share": getattr(e, attr) / total, "calls": e.count // 2}
        for e in events[:top]
    ]


def plain_loop_epoch(name, precision, datamodule, epochs) -> float:
    """Images/s of a hand-written loop over the DataModule's train loader."""
    torch.manual_seed(0)
    model = MODELS[name]().to(device()).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    loss_fn = ComboLoss([BCELoss(), DiceLoss()])
    loader = datamodule.train_dataloader()
    count, start = 0, None
    for epoch in range(epochs + 1):  # the first epoch warms up
        if epoch == 1:
            sync()
            start, count = time.perf_counter(), 0
        for batch in loader:
            x = batch["image"].to(device()).contiguous(memory_format=torch.channels_last)
            y = batch["mask"].to(device())
            with autocast(precision):
                logits = model(x).float()
            loss = loss_fn(logits, y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            count += x.shape[0]
    sync()
    return count / (time.perf_counter() - start)


def trainer_epoch(name, precision, datamodule, epochs) -> float:
    """Images/s of train.py's Lightning Trainer (no validation, logging or checkpoints)."""
    import lightning as L

    from skinseg.training.module import SegmentationModule

    torch.manual_seed(0)

    class Timer(L.Callback):
        def __init__(self):
            self.start, self.count = None, 0

        def on_train_epoch_start(self, trainer, module):
            if trainer.current_epoch == 1:
                sync()
                self.start, self.count = time.perf_counter(), 0

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.count += batch["image"].shape[0]

        def on_train_end(self, trainer, module):
            sync()
            self.seconds = time.perf_counter() - self.start

    module = SegmentationModule(
        MODELS[name](),
        ComboLoss([BCELoss(), DiceLoss()]),
        optimizer=lambda params: torch.optim.AdamW(params, 1e-3),
        channels_last=True,
    )
    timer = Timer()
    trainer = L.Trainer(
        max_epochs=epochs + 1,
        accelerator="auto",
        devices=1,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[timer],
    )
    trainer.fit(module, train_dataloaders=datamodule.train_dataloader())
    return timer.count / timer.seconds


def synthetic_datamodule(count: int, size: int, batch: int, augment: bool = True):
    import albumentations as A

    from skinseg.data import SkinLesionDataModule

    aug = (
        A.Compose(
            [
                A.HorizontalFlip(),
                A.VerticalFlip(),
                A.RandomRotate90(),
                A.Affine(scale=(0.85, 1.15), rotate=(-30, 30), p=0.5),
                A.ColorJitter(0.2, 0.2, 0.2, 0.03, p=0.5),
            ]
        )
        if augment
        else None
    )
    dm = SkinLesionDataModule(
        "synthetic",
        num_synthetic=count,
        image_size=(size, size),
        batch_size=batch,
        val_fraction=0.0,
        test_fraction=0.0,
        augment=aug,
        num_workers=0,
    )
    dm.setup()
    return dm


def input_pipeline(datamodule, epochs: int) -> float:
    loader = datamodule.train_dataloader()
    start, count = time.perf_counter(), 0
    for _ in range(epochs):
        for batch in loader:
            count += batch["image"].shape[0]
    return count / (time.perf_counter() - start)


def inference(quick: bool) -> dict:
    """End-to-end predict on full-size PH2 images (or synthetic ones of PH2's size)."""
    from PIL import Image

    from skinseg.data.synthetic import generate_sample
    from skinseg.inference.export import export
    from skinseg.inference.loading import save_net_checkpoint
    from skinseg.inference.run import predict_files

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        images = tmp / "images"
        images.mkdir()
        n = 8 if quick else 20
        if PH2.is_dir():
            sources = sorted((PH2 / "PH2 Dataset images").glob("*/*_Dermoscopic_Image/*.bmp"))[:n]
            for p in sources:
                (images / p.name).write_bytes(p.read_bytes())
            source = f"PH2 BMPs (~765x574), {len(sources)} images"
        else:
            for i in range(n):
                Image.fromarray(generate_sample(i, 0, (574, 765))[0]).save(images / f"s{i}.bmp")
            source = f"synthetic 765x574 BMPs, {n} images"
        net = MODELS["unet"]()
        ckpt = save_net_checkpoint(
            net, {"_target_": "skinseg.models.UNet"}, {"image_size": [256, 256]}, tmp / "model.ckpt"
        )
        export(ckpt, "onnx", tmp / "model.onnx")
        out = {"source": source, "model": "unet (default width) at 256x256"}
        # The checkpoint with --precision auto (what users get), then forced fp32 and bf16.
        runs = [
            ("checkpoint", ckpt, "auto"),
            ("checkpoint_fp32", ckpt, "32"),
            ("checkpoint_bf16", ckpt, "bf16"),
            ("onnx", tmp / "model.onnx", "auto"),
        ]
        for label, model, precision in runs:
            options = dict(batch_size=4, device="auto", progress=False, precision=precision)
            predict_files(model, images, tmp / "warm", **options)
            start = time.perf_counter()
            written = predict_files(model, images, tmp / f"out_{label}", **options)
            out[f"{label}_images_per_s"] = len(written) / (time.perf_counter() - start)
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke test)")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "speed.json"
    )
    parser.add_argument("--models", nargs="+", default=sorted(MODELS))
    args = parser.parse_args()
    quick = args.quick
    batch, size = (4, 128) if quick else (16, 256)
    steps = 2 if quick else 4
    report = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
            # Absolute figures differ between CPUs: every result names the one it ran on.
            "cpu": cpu_description(),
            "bf16_probe": cpu_bf16_probe(),
            "auto_precision": training_precision(),
        },
        "settings": {"batch": batch, "size": size, "quick": quick},
    }
    n = 1024 if quick else 4096
    peak = {"fp32": peak_matmul(torch.float32, n, 3), "bf16": peak_matmul(torch.bfloat16, n, 3)}
    report["peak_gflops"] = peak
    print(f"peak matmul GFLOP/s: fp32 {peak['fp32']:.0f}, bf16 {peak['bf16']:.0f}", flush=True)

    report["training"] = {}
    for name in args.models:
        for precision, key in (("32", "fp32"), ("bf16-mixed", "bf16")):
            r = train_throughput(name, precision, batch, size, steps)
            r["fraction_of_peak"] = r["gflops_per_s"] / peak[key]
            report["training"][f"{name}/{key}"] = r
            print(
                f"train {name:7s} {key}: {r['images_per_s']:6.1f} img/s, "
                f"{r['gflops_per_s']:7.0f} GFLOP/s = {r['fraction_of_peak']:.0%} of peak",
                flush=True,
            )
        fp32 = report["training"][f"{name}/fp32"]["images_per_s"]
        report["training"][f"{name}/bf16"]["speedup_vs_fp32"] = (
            report["training"][f"{name}/bf16"]["images_per_s"] / fp32
        )

    # The rest in the precision training picks here (trainer.precision: auto).
    chosen = report["machine"]["auto_precision"]
    key = "bf16" if chosen == "bf16-mixed" else "fp32"
    r = train_throughput("unet", chosen, batch, size, steps, channels_last=False)
    with_cl = report["training"][f"unet/{key}"]["images_per_s"] if "unet" in args.models else None
    report["memory_format"] = {
        "precision": chosen,
        "unet_contiguous_images_per_s": r["images_per_s"],
        "unet_channels_last_images_per_s": with_cl,
    }
    print(
        f"unet {key} contiguous (NCHW): {r['images_per_s']:.1f} img/s vs channels-last "
        f"{with_cl if with_cl is None else round(with_cl, 1)}",
        flush=True,
    )

    # Where the step's time goes, in the precision and memory format training picks here.
    fmt_last = training_channels_last("auto", chosen)
    report["profile"] = {
        "precision": chosen,
        "channels_last": fmt_last,
        "ops": {name: profile_step(name, chosen, batch, size, fmt_last) for name in args.models},
    }
    for name, ops in report["profile"]["ops"].items():
        top = ", ".join(f"{o['op']} {o['share']:.0%}" for o in ops[:5])
        print(f"profile {name} ({key}, {'channels-last' if fmt_last else 'NCHW'}): {top}")

    dm = synthetic_datamodule(8 * batch, size, batch)
    epochs = 1 if quick else 2
    plain = plain_loop_epoch("unet", chosen, dm, epochs)
    framework = trainer_epoch("unet", chosen, dm, epochs)
    report["overhead"] = {
        "model": "unet",
        "precision": chosen,
        "plain_images_per_s": plain,
        "trainer_images_per_s": framework,
        "ratio": framework / plain,
    }
    print(
        f"trainer vs plain loop (unet, {key}): {framework:.1f} vs {plain:.1f} img/s, "
        f"ratio {framework / plain:.3f}",
        flush=True,
    )

    pipe = input_pipeline(dm, 2)
    consumed = max(r["images_per_s"] for k, r in report["training"].items() if key in k)
    report["input_pipeline"] = {
        "images_per_s": pipe,
        "fastest_training_images_per_s": consumed,
        "ratio": pipe / consumed,
    }
    print(
        f"input pipeline: {pipe:.0f} img/s = {pipe / consumed:.1f}x the fastest training",
        flush=True,
    )

    report["inference"] = inference(quick)
    inf = report["inference"]
    print(
        f"predict end to end ({inf['source']}): checkpoint {inf['checkpoint_images_per_s']:.1f}"
        f" img/s with --precision auto (fp32 {inf['checkpoint_fp32_images_per_s']:.1f}, bf16 "
        f"{inf['checkpoint_bf16_images_per_s']:.1f}), onnx {inf['onnx_images_per_s']:.1f} img/s",
        flush=True,
    )

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
