"""``skinseg serve``: a model behind a local HTTP server (``pip install "skinseg[serve]"``)."""

from __future__ import annotations

import argparse
import sys

from skinseg.cli.model_source import add_model_source, add_run_options, model_source

HELP = "Serve a model over HTTP: POST /predict, GET /health, GET /model, and a page at /."
LOCAL = ("127.0.0.1", "localhost", "::1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_source(parser)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens the "
        "model, without authentication, to every machine that can reach this one)",
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-bytes", type=int, default=20 * 2**20, help="largest upload")
    parser.add_argument(
        "--max-pixels", type=int, default=50_000_000, help="largest image, width x height"
    )
    add_run_options(parser, tta=False)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from skinseg.serve import Limits, ServedModel, create_app
    except ImportError as exc:
        raise RuntimeError(
            f"serving needs FastAPI and uvicorn ({exc.name} is missing): "
            "pip install 'skinseg[serve]'"
        ) from exc
    from skinseg.inference.describe import describe_model
    from skinseg.inference.loading import load_predictor

    limits = Limits(args.max_bytes, args.max_pixels)  # bad limits fail before the model loads
    path = model_source(args)
    predictor = load_predictor(path, args.device, args.precision)
    app = create_app(ServedModel(predictor, describe_model(path, predictor)), limits)
    if args.host not in LOCAL:
        print(
            f"skinseg serve: listening on {args.host}: anyone who can reach this machine can "
            "send images to the model (there is no authentication)",
            file=sys.stderr,
        )
    print(f"serving {args.model or path} on http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
