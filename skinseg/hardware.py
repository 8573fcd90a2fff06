"""What the machine at hand does fast: the CPU's description and a measured bf16 speed-up.

bf16 autocast is much faster than fp32 where the hardware has bf16 matrix units (Intel AMX,
Ampere and newer GPUs) or bf16 instructions (AVX512-BF16, e.g. AMD Zen 4), and much *slower*
where it has neither: on an AVX2-only AMD EPYC (Zen 3) the training steps of the three models
ran 9 to 14 times slower under bf16 autocast than in fp32. A CPU flag is only a guess, so on
CPUs the choice is measured: a short probe times a convolution block (forward and backward)
both ways, once per machine and PyTorch version, and the result is cached
(``~/.cache/skinseg/bf16_probe.json``, or ``$SKINSEG_CACHE_DIR``). On CUDA the device's own
capability answers.
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
    return f"{cpu['model']}|{','.join(cpu['flags'])}|torch {torch.__version__}|{threads} threads"


def measure_cpu_bf16(repeats: int = 3) -> dict:
    """Time a 3x3 convolution + BatchNorm + ReLU block, forward and backward, in fp32 and
    under bf16 autocast, channels-last (the shape of the networks' work).

    Returns:
        ``{"fp32_s": ..., "bf16_s": ..., "speedup": fp32_s / bf16_s}`` (best of ``repeats``).
    """
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(0)
    block = nn.Sequential(
        nn.Conv2d(32, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
    ).to(memory_format=torch.channels_last)
    x = torch.randn(4, 32, 48, 48, generator=generator).contiguous(
        memory_format=torch.channels_last
    )

    def best(bf16: bool) -> float:
        times = []
        for _ in range(repeats + 1):  # the first run warms up
            start = time.perf_counter()
            with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                out = block(x)
            out.float().sum().backward()
            times.append(time.perf_counter() - start)
        return min(times[1:])

    fp32, bf16 = best(False), best(True)
    return {"fp32_s": round(fp32, 5), "bf16_s": round(bf16, 5), "speedup": round(fp32 / bf16, 3)}


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
