"""What the machine at hand does fast: the CPU's description, a measured bf16 speed-up and a
measured channels-last speed-up.

bf16 autocast is much faster than fp32 where the hardware has bf16 matrix units (Intel AMX,
Ampere and newer GPUs) or bf16 instructions (AVX512-BF16, e.g. AMD Zen 4), and much *slower*
where it has neither: on an AVX2-only AMD EPYC (Zen 3) the training steps of the three models
ran 9 to 14 times slower under bf16 autocast than in fp32. A CPU flag is only a guess, so on
CPUs the choice is measured: a short probe times a convolution block (forward and backward)
both ways, once per machine and PyTorch version, and the result is cached
(``~/.cache/skinseg/bf16_probe.json``, or ``$SKINSEG_CACHE_DIR``). On CUDA the device's own
capability answers.

The memory format is chosen the same way: channels-last (NHWC) was 28 % faster for training on
an AMX Xeon and made no difference on an AMD EPYC Zen 4, so the probe times the block in both
formats too, and ``channels_last: auto`` (training) and prediction use channels-last only where
it was measured faster (on CUDA: always, as cuDNN's mixed-precision kernels prefer it).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import platform
import time
from pathlib import Path

from skinseg.atomic import write_json

log = logging.getLogger(__name__)

# bf16 is chosen where the probe ran at least this much faster with it than in fp32.
MIN_SPEEDUP = 1.15
# channels-last is chosen where it ran at least this much faster than contiguous (NCHW).
MIN_CHANNELS_LAST_SPEEDUP = 1.05
PROBE_VERSION = 2  # what the probe measures; a new version measures again
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "fma")


@functools.cache
def cpu_description() -> dict:
    """The CPU model, its core count and the vector/matrix flags that matter for speed (read
    once per process)."""
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return {
        "model": model,
        "cores": os.cpu_count(),
        "flags": [f for f in FLAGS if f in flags],
    }


def _cache_file() -> Path:
    root = os.environ.get("SKINSEG_CACHE_DIR") or Path.home() / ".cache" / "skinseg"
    return Path(root) / "bf16_probe.json"


def _probe_key() -> str:
    import torch

    cpu, threads = cpu_description(), torch.get_num_threads()
    return (
        f"{cpu['model']}|{','.join(cpu['flags'])}|torch {torch.__version__}|{threads} threads"
        f"|probe {PROBE_VERSION}"
    )


def measure_cpu_bf16(repeats: int = 3) -> dict:
    """Time a 3x3 convolution + BatchNorm + ReLU block, forward and backward, in fp32 and
    under bf16 autocast, each channels-last and contiguous (the shape of the networks' work).

    Returns:
        ``{"fp32_s", "bf16_s"}`` (channels-last), ``{"fp32_contiguous_s",
        "bf16_contiguous_s"}``, ``"speedup"`` (fp32 over bf16, each in its faster format) and
        ``"channels_last_speedup": {"fp32": ..., "bf16": ...}`` (contiguous over
        channels-last); times are the best of ``repeats``.
    """
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(0)
    block = nn.Sequential(
        nn.Conv2d(32, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
    )
    x = torch.randn(4, 32, 48, 48, generator=generator)

    def best(bf16: bool, channels_last: bool) -> float:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        net, inputs = block.to(memory_format=fmt), x.contiguous(memory_format=fmt)
        times = []
        for _ in range(repeats + 1):  # the first run warms up
            start = time.perf_counter()
            with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                out = net(inputs)
            out.float().sum().backward()
            times.append(time.perf_counter() - start)
        return min(times[1:])

    t = {(b, c): best(b, c) for b in (False, True) for c in (True, False)}
    fp32, bf16 = min(t[False, True], t[False, False]), min(t[True, True], t[True, False])
    return {
        "fp32_s": round(t[False, True], 5),
        "bf16_s": round(t[True, True], 5),
        "fp32_contiguous_s": round(t[False, False], 5),
        "bf16_contiguous_s": round(t[True, False], 5),
        "speedup": round(fp32 / bf16, 3),
        "channels_last_speedup": {
            "fp32": round(t[False, False] / t[False, True], 3),
            "bf16": round(t[True, False] / t[True, True], 3),
        },
    }


def cpu_bf16_probe() -> dict:
    """The cached probe of this machine, measured now if there is none yet."""
    key, path = _probe_key(), _cache_file()
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = {}
    if key in cached:
        return cached[key]
    result = measure_cpu_bf16()
    try:
        write_json(path, {**cached, key: result})
    except OSError as exc:  # a read-only home: measure again next time
        log.debug("could not cache the bf16 probe in %s: %s", path, exc)
    log.info("bf16 probe on %s: %s", key, result)
    return result


def fast_bf16(device: str = "cpu") -> bool:
    """Whether bf16 autocast is clearly faster than fp32 on ``device`` (``cpu``, ``cuda``,
    ``cuda:1``, ``mps``)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device != "cpu":
        return False  # MPS and others: fp32, the safe default
    return cpu_bf16_probe()["speedup"] >= MIN_SPEEDUP


def training_precision(accelerator: str = "auto") -> str:
    """Lightning's ``precision`` for ``trainer.precision: auto``: ``bf16-mixed`` where bf16 is
    fast on the device training will use, else ``32``."""
    import torch

    device = accelerator
    if accelerator in ("auto", "gpu", "cuda"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return "bf16-mixed" if fast_bf16(device) else "32"


def fast_channels_last(device: str = "cpu", bf16: bool = False) -> bool:
    """Whether channels-last is clearly faster than contiguous on ``device`` in the precision
    that will run (``bf16``: under bf16 autocast)."""
    if device.startswith("cuda"):
        return True
    if device != "cpu":
        return False
    speedups = cpu_bf16_probe().get("channels_last_speedup") or {}
    return speedups.get("bf16" if bf16 else "fp32", 0.0) >= MIN_CHANNELS_LAST_SPEEDUP


def training_channels_last(accelerator: str = "auto", precision: str = "32") -> bool:
    """``module.channels_last: auto``: channels-last where it is faster for training on the
    device and in the precision (Lightning's, already resolved) this run will use."""
    import torch

    device = accelerator
    if accelerator in ("auto", "gpu", "cuda"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return fast_channels_last(device, "bf16" in str(precision))
