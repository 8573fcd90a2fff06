"""A bounded load test of ``skinseg serve`` on 127.0.0.1: throughput, latency, memory.

    python -m benchmarks.serve_load [--checkpoint best.ckpt] [--requests 200] [--clients 8]

Starts ``skinseg serve`` in its own process on a free port, warms it up, then sends
``--requests`` POST /predict requests from ``--clients`` concurrent clients (JPEG images of
PH2's size, 765x574, from the synthetic generator), ``--rounds`` times, and records requests/s,
p50/p95/p99 latency, failed requests and the server's resident memory after each round. A
single client's latency is measured first, for comparison. Without ``--checkpoint`` the model
is an untrained network of ph2_best's shape (U-Net, width 32, depth 4, 144x192): speed does
not depend on the weights.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from skinseg.hardware import cpu_description
from tests.browser import serve_process

ROOT = Path(__file__).resolve().parents[1]


def untrained_checkpoint(path: Path) -> Path:
    from skinseg.inference.loading import save_net_checkpoint
    from skinseg.models import MODELS

    config = {"_target_": "skinseg.models.UNet", "base_width": 32, "depth": 4}
    net = MODELS["unet"](base_width=32, depth=4)
    return save_net_checkpoint(net, config, {"image_size": [144, 192]}, path)


def jpegs(count: int, size=(574, 765)) -> list[bytes]:
    from PIL import Image

    from skinseg.data.synthetic import generate_sample

    out = []
    for i in range(count):
        buffer = io.BytesIO()
        Image.fromarray(generate_sample(i, 11, size)[0]).save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def load(url: str, images: list[bytes], requests: int, clients: int) -> dict:
    """``requests`` POSTs shared among ``clients`` threads, each with its own connection."""
    import httpx

    latencies, failures, lock = [], [], threading.Lock()
    counter = iter(range(requests))

    def client():
        with httpx.Client(base_url=url, timeout=120) as http:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                start = time.perf_counter()
                try:
                    r = http.post(
                        "/predict", files={"image": (f"{i}.jpg", images[i % len(images)])}
                    )
                    ok = r.status_code == 200 and r.content.startswith(b"\x89PNG")
                    error = None if ok else f"{r.status_code}: {r.text[:200]}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                with lock:
                    latencies.append(time.perf_counter() - start)
                    if error:
                        failures.append(error)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "clients": clients,
        "failed": len(failures),
        "failures": failures[:5],
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(latencies) / wall, 2),
        "latency_p50_s": round(percentile(latencies, 50), 3),
        "latency_p95_s": round(percentile(latencies, 95), 3),
        "latency_p99_s": round(percentile(latencies, 99), 3),
        "latency_max_s": round(max(latencies), 3),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--rounds", type=int, default=3, help="load rounds; the server's memory after each"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/serve_load.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or untrained_checkpoint(Path(tmp) / "ph2_best_shape.ckpt")
        with serve_process(checkpoint) as (url, server):
            images = jpegs(16)
            load(url, images, 8, 1)  # warm-up: first requests build kernels and caches
            rss_before = rss_mib(server.pid)
            single = load(url, images, 20, 1)
            rounds, rss = [], [round(rss_before, 1)]
            for _ in range(args.rounds):
                rounds.append(load(url, images, args.requests, args.clients))
                rss.append(round(rss_mib(server.pid), 1))
            concurrent = rounds[0]
    result = {
        "cpu": cpu_description(),
        "model": str(args.checkpoint) if args.checkpoint else "untrained U-Net w32 d4, 144x192",
        "images": "synthetic JPEG 765x574 (PH2's size), 16 distinct",
        "single_client": single,
        "concurrent": concurrent,
        "rounds": rounds,
        "server_rss_mib_after_each_round": rss,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    c = concurrent
    print(
        f"{c['requests']} requests from {c['clients']} clients in {c['wall_s']} s: "
        f"{c['requests_per_s']} req/s, p50 {c['latency_p50_s']} s, p95 {c['latency_p95_s']} s, "
        f"{c['failed']} failed; one client: p50 {single['latency_p50_s']} s; server RSS "
        f"(MiB) after warm-up and each round: {rss}"
    )
    print(f"wrote {args.output}")
    return 0 if all(r["failed"] == 0 for r in rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
