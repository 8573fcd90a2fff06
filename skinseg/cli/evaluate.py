"""``skinseg evaluate``: score a model, or masks made by anything, at the original resolution."""

from __future__ import annotations

import argparse
from pathlib import Path

from skinseg.cli.model_source import add_model_source, add_run_options, model_source
from skinseg.data.layouts import LAYOUTS

HELP = "Score predictions against truth masks: per-image CSV and a summary JSON."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    add_model_source(parser, source)
    source.add_argument("--predictions", type=Path, help="folder of <id>_segmentation.png")
    parser.add_argument(
        "--images", type=Path, help="folder of images (with --checkpoint or --model)"
    )
    parser.add_argument("--masks", type=Path, help="folder of truth masks <id><mask-suffix>.*")
    parser.add_argument(
        "--mask-suffix",
        default=None,
        help="truth mask name after the id (default: _segmentation, as ISIC, with --masks; "
        "the layout's default with --data folder)",
    )
    parser.add_argument(
        "--data",
        choices=[name for name, layout in LAYOUTS.items() if layout.needs_root],
        help="instead of --images/--masks: a dataset in its authors' layout",
    )
    parser.add_argument("--root", type=Path, help="the dataset's folder, with --data")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("evaluation"),
        help="where per_image.csv, summary.json (and predictions) go (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=4, help="images per forward pass (default: %(default)s)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the bootstrap behind the 95%% intervals (default: %(default)s)",
    )
    parser.add_argument(
        "--review",
        action="store_true",
        help="also write review.html: every image with its truth and prediction outlined",
    )
    add_run_options(parser)


def _samples(args) -> tuple[list, dict[str, str]]:
    """The samples to score and their diagnoses (where the dataset has them)."""
    from skinseg.data.layouts import Sample
    from skinseg.evaluation.files import find_file

    if args.data:
        if not args.root:
            raise ValueError("--data needs --root")
        layout = LAYOUTS[args.data]
        options = {}
        if args.mask_suffix is not None and "mask_suffix" in layout.options:
            options["mask_suffix"] = args.mask_suffix
        catalog = layout.catalog(args.root, **options)
        return catalog.all_samples(), catalog.diagnoses
    if not args.masks:
        raise ValueError(
            "give --masks (and --images with --checkpoint/--model), or --data and --root"
        )
    if not args.masks.is_dir():
        raise FileNotFoundError(f"masks folder {args.masks} not found")
    suffix = "_segmentation" if args.mask_suffix is None else args.mask_suffix
    masks = sorted(p for p in args.masks.iterdir() if p.is_file() and not p.name.startswith("."))
    samples = []
    for m in masks:
        if not m.stem.endswith(suffix):
            continue
        sid = m.stem[: len(m.stem) - len(suffix)] if suffix else m.stem
        image = None
        if args.images:
            image = find_file(args.images, sid, ("",))
            if image is None:
                raise FileNotFoundError(f"no image {sid}.* in {args.images} for mask {m}")
        samples.append(Sample(sid, image, m))
    if not samples:
        raise FileNotFoundError(f"no masks named <id>{suffix}.* in {args.masks}")
    return samples, {}


def _data(args) -> dict:
    """What was evaluated, for summary.json and the review page's header."""
    if args.data:
        return {"dataset": args.data, "root": str(args.root)}
    return {
        "images": str(args.images) if args.images else None,
        "masks": str(args.masks),
        "mask_suffix": "_segmentation" if args.mask_suffix is None else args.mask_suffix,
    }


def run(args: argparse.Namespace) -> int:
    from skinseg.evaluation import SOURCES, summarise, table_path, write_per_image
    from skinseg.evaluation.files import pair_predictions, score_files
    from skinseg.evaluation.tables import format_summary, write_summary

    samples, labels = _samples(args)
    model = model_source(args)
    if model:
        from skinseg.inference.files import write_png
        from skinseg.inference.loading import load_predictor
        from skinseg.inference.run import predict_masks

        if any(s.image is None for s in samples):
            raise ValueError("--checkpoint/--model needs --images (or --data and --root)")
        from skinseg.inference.describe import describe_model

        predictor = load_predictor(model, args.device, args.precision)
        described = describe_model(predictor.name, predictor)
        if args.tta is not None:
            described["recipe"] = {**described["recipe"], "tta": args.tta}
        pred_dir = args.output / "predictions"
        pred_dir.mkdir(parents=True, exist_ok=True)
        by_image = {s.image: s for s in samples}
        protected = {s.image.resolve() for s in samples} | {s.mask.resolve() for s in samples}
        for path, _, _, mask in predict_masks(
            predictor, list(by_image), tta=args.tta, batch_size=args.batch_size
        ):
            write_png(mask * 255, pred_dir / f"{by_image[path].id}_segmentation.png", protected)
    else:
        pred_dir = args.predictions
        if not pred_dir.is_dir():
            raise FileNotFoundError(f"predictions folder {pred_dir} not found")
        described = {"predictions": str(pred_dir)}
    pairs = pair_predictions(pred_dir, samples)
    rows = score_files(pairs)
    csv_path = args.output / "per_image.csv"
    images = {s.id: s.image for s in samples}
    for row, (sid, pred, truth) in zip(rows, pairs, strict=True):
        row["image"] = table_path(images[sid], csv_path)
        row["truth"] = table_path(truth, csv_path)
        row["prediction"] = table_path(pred, csv_path)
        row["diagnosis"] = labels.get(sid, "")
    summary = summarise(rows, intervals=True, seed=args.seed)
    summary["model"], summary["data"] = described, _data(args)
    write_per_image(rows, csv_path, extra=SOURCES)
    json_path = write_summary(summary, args.output / "summary.json")
    print(format_summary(summary))
    print(f"wrote {csv_path} and {json_path}")
    if args.review:
        from skinseg.review import write_review

        print(f"wrote {write_review(args.output)}")
    return 0
