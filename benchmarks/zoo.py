"""Train (or take a finished run of) a shipped model's recipe and write it into ``skinseg/zoo/``.

    python -m benchmarks.zoo isic2017 --data-root ../shared/data/ISIC2017 \\
        [--ph2-root ../shared/data/PH2Dataset] [--cv logs/cv/isic2017/cv.json] [--run RUN_DIR]

(``make zoo`` runs it with the shared data's folders.) Steps, each written down in the model's
JSON so that its card can quote them:

1. train the recipe (``RECIPES[name]`` plus ``data.root``) in ``logs/zoo/NAME/train``, or check
   that ``--run`` was trained with exactly that recipe and take it;
2. store its ``best.ckpt`` as ``NAME.safetensors`` in float16 with its JSON
   (``skinseg export --format safetensors``);
3. measure what float16 storage changes: masks of the run's validation images predicted from
   the fp32 checkpoint and from the stored file (pixels that differ, Jaccard of each); and
   whether masks hold at 6700 x 4400 (validation images upscaled to the largest originals);
4. score the stored model on a dataset it never saw (``--ph2-root``: every PH2 case, at the
   original resolution), and take the recipe's cross-validation from ``--cv`` (a
   ``benchmarks.crossval`` summary);
5. copy the pair (and, with ``--ph2-root``, ``NAME_failures.jpg``: the four worst images of
   the zero-shot evaluation, for the card) into ``skinseg/zoo/`` (replace a shipped file only
   with a better model: every version stays in git's history) and print the SHA-256 for the
   model card.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

from benchmarks.runner import ROOT, run_job
from skinseg.atomic import atomic_path
from skinseg.hardware import cpu_description

RECIPES = {
    # isic_best at width 16 and 96 x 96 for 30 epochs, with the EMA warm-up (the plain EMA
    # starts dead on a short run): ~45 minutes on a 2-core CPU without fast bf16. 30 epochs
    # instead of 15 scored +0.020 zero-shot on PH2 and +0.004 after PH2 fine-tuning
    # (docs/recipes/ph2_finetune.md) at the same size.
    "isic2017": [
        "experiment=isic_best",
        "model.base_width=16",
        "data.image_size=[96,96]",
        "trainer.max_epochs=30",
        "callbacks.ema.warmup=true",
    ],
}
# Overrides that say where and how a run was launched, not what it trained.
_LAUNCH = ("data.root=", "hydra.", "resume=", "trainer.enable_progress_bar=")


def recipe_of(run: Path) -> list[str]:
    """The training overrides a finished run was launched with (its ``environment.json``)."""
    env = json.loads((run / "environment.json").read_text())
    return [a for a in env["command"][1:] if not a.startswith(_LAUNCH)]


def half_storage_effect(run: Path, stored: Path, limit: int = 50) -> dict:
    """Masks of up to ``limit`` validation images of ``run``: fp32 checkpoint against the
    stored file (fraction of pixels that differ, per-image Jaccard to truth of each)."""
    import numpy as np

    from skinseg.data.io import read_image, read_mask
    from skinseg.data.layouts import get_layout
    from skinseg.evaluation import score_mask
    from skinseg.inference.loading import load_predictor

    split = json.loads((run / "split.json").read_text())
    catalog = get_layout(split["dataset"]).catalog(split["root"], **split.get("options", {}))
    by_id = {s.id: s for s in catalog.all_samples()}
    samples = [by_id[i] for i in split["val"][:limit]]
    fp32 = load_predictor(run / "checkpoints" / "best.ckpt", "cpu", "32")
    half = load_predictor(stored, "cpu", "32")
    differing, pixels, j32, j16 = 0, 0, [], []
    for s in samples:
        image, truth = read_image(s.image)[0], read_mask(s.mask)[0] > 0
        a = fp32.to_mask(fp32.predict([image])[0])
        b = half.to_mask(half.predict([image])[0])
        differing += int(np.count_nonzero(a != b))
        pixels += a.size
        j32.append(score_mask(s.id, a, truth)["jaccard"])
        j16.append(score_mask(s.id, b, truth)["jaccard"])
    return {
        "images": len(samples),
        "pixels_differing": differing / pixels,
        "jaccard_fp32": statistics.fmean(j32),
        "jaccard_stored": statistics.fmean(j16),
    }


def large_image_effect(run: Path, stored: Path, size=(4400, 6700), count: int = 3) -> dict:
    """Validation images upscaled to ISIC's largest originals (``size``, H x W): the mask of
    the large image against the mask of the small one upscaled (Jaccard, connected regions,
    seconds per image). Masks that drift, break up or turn jagged at full size show here."""
    import time

    import cv2
    import numpy as np
    from PIL import Image

    from skinseg.data.io import read_image
    from skinseg.data.layouts import get_layout
    from skinseg.evaluation import score_mask
    from skinseg.inference.loading import load_predictor

    split = json.loads((run / "split.json").read_text())
    catalog = get_layout(split["dataset"]).catalog(split["root"], **split.get("options", {}))
    by_id = {s.id: s for s in catalog.all_samples()}
    predictor = load_predictor(stored, "cpu", "32")
    rows = []
    for sid in split["val"][:count]:
        small = read_image(by_id[sid].image)[0]
        big = np.asarray(Image.fromarray(small).resize(size[::-1], Image.BICUBIC))
        start = time.perf_counter()
        big_mask = predictor.to_mask(predictor.predict([big])[0])
        seconds = time.perf_counter() - start
        small_mask = predictor.to_mask(predictor.predict([small])[0])
        up = cv2.resize(small_mask, size[::-1], interpolation=cv2.INTER_NEAREST)
        regions = cv2.connectedComponents(big_mask.astype(np.uint8))[0] - 1
        rows.append(
            {
                "id": sid,
                "jaccard_to_small": score_mask(sid, big_mask, up > 0)["jaccard"],
                "regions": int(regions),
                "seconds": round(seconds, 2),
            }
        )
    return {"size": list(size), "images": rows}


def zero_shot(stored: Path, layout: str, root: Path, out: Path) -> dict:
    """``skinseg evaluate`` of the stored model on a whole dataset in its authors' layout."""
    from skinseg.cli.main import main as skinseg

    args = ["evaluate", "--checkpoint", str(stored), "--data", layout, "--root", str(root)]
    if skinseg([*args, "--output", str(out), "--review"]) != 0:
        raise RuntimeError(f"skinseg evaluate on {root} failed")
    summary = json.loads((out / "summary.json").read_text())
    keys = ("jaccard", "threshold_jaccard", "dice", "sensitivity", "specificity")
    return {"images": summary["images"], **{k: summary[k] for k in keys}}


def failure_picture(evaluation: Path, out: Path, count: int = 4, width: int = 300) -> list[str]:
    """The ``count`` lowest-scoring images of an evaluation (``skinseg evaluate``'s folder),
    truth and prediction outlined as in its review, captioned with id, diagnosis, Jaccard and
    sensitivity, two to a row, as the JPEG the model card shows. Returns their ids."""
    from PIL import Image, ImageDraw, ImageFont

    from skinseg.review.render import draw
    from skinseg.review.sources import find_tables, read_entries

    worst = sorted(read_entries(find_tables(evaluation)), key=lambda e: e.scores["jaccard"])
    worst = worst[:count]
    font = ImageFont.load_default(size=13)
    tiles = []
    for entry in worst:
        picture = Image.fromarray(draw(entry).fulls[0])
        picture = picture.resize((width, round(picture.height * width / picture.width)))
        tile = Image.new("RGB", (width, picture.height + 20), "white")
        tile.paste(picture, (0, 20))
        name = " ".join(filter(None, (entry.id, entry.diagnosis.replace("_", " "))))
        scores = f"J {entry.scores['jaccard']:.2f}, sens {entry.scores['sensitivity']:.2f}"
        ImageDraw.Draw(tile).text((4, 3), f"{name}: {scores}", fill="black", font=font)
        tiles.append(tile)
    height = max(t.height for t in tiles)  # two tiles a row, on white
    sheet = Image.new("RGB", (2 * width, height * ((len(tiles) + 1) // 2)), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % 2) * width, (i // 2) * height))
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="JPEG", quality=85)
    return [e.id for e in worst]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--data-root", type=Path, required=True, help="its training data")
    parser.add_argument("--run", type=Path, help="a finished run of the recipe (no training)")
    parser.add_argument("--ph2-root", type=Path, help="score zero-shot on this PH2 folder")
    parser.add_argument("--cv", type=Path, help="the recipe's benchmarks.crossval cv.json")
    parser.add_argument("--out", type=Path, default=None, help="default logs/zoo/NAME")
    parser.add_argument("--zoo", type=Path, default=ROOT / "skinseg" / "zoo")
    args = parser.parse_args(argv)
    from skinseg.inference.export import export
    from skinseg.inference.loading import load_net
    from skinseg.inference.shipped import info_path, read_info, save_model

    recipe = RECIPES[args.name]
    out = (args.out or ROOT / "logs" / "zoo" / args.name).resolve()
    if args.run:
        run = args.run.resolve()
        if recipe_of(run) != recipe:
            parser.error(f"{run} was trained with {recipe_of(run)}, not the recipe {recipe}")
    else:
        run = out / "train"
        threads = os.cpu_count() or 1
        result = run_job(run, [*recipe, f"data.root={args.data_root.resolve()}"], threads)
        if result.get("status") != "completed":
            raise SystemExit(f"training failed: see {run / 'stdout.log'}")
    metrics = json.loads((run / "metrics.json").read_text())
    env = json.loads((run / "environment.json").read_text())
    staged = out / f"{args.name}.safetensors"
    export(run / "checkpoints" / "best.ckpt", "safetensors", staged, dtype="float16")

    evaluation = {
        "float16_storage": half_storage_effect(run, staged),
        "large_images": large_image_effect(run, staged),
    }
    evaluation["validation"] = {
        k.removeprefix("val/"): v for k, v in metrics["best_val"].items() if k.startswith("val/")
    }
    target = args.zoo / staged.name
    copies = [(staged, target), (info_path(staged), info_path(target))]
    if args.ph2_root:
        evaluation["ph2_zero_shot"] = zero_shot(staged, "ph2", args.ph2_root, out / "ph2")
        picture = out / f"{args.name}_failures.jpg"
        evaluation["ph2_zero_shot"]["worst"] = failure_picture(out / "ph2", picture)
        copies.append((picture, args.zoo / picture.name))
    if args.cv:
        cv = json.loads(args.cv.read_text())
        evaluation["cv_jaccard"] = cv["pooled_images"]["jaccard"]
        evaluation["cross_validation"] = {
            "command": cv["command"],
            "folds": [
                {k: f[k] for k in ("fold", "jaccard", "threshold_jaccard")} for f in cv["folds"]
            ],
            "pooled_images": cv["pooled_images"],
            "images": cv["images"],
        }
    info = read_info(staged)
    training = {
        "command": "python train.py " + " ".join([*recipe, "data.root=DIR"]),
        "commit": env["git"]["commit"],
        "dirty": env["git"]["dirty"],
        "epochs": metrics["epochs"],
        "split_sizes": metrics["split_sizes"],
        "wall_time_s": metrics["wall_time_s"],
        "precision": metrics["precision"],
        # The training machine where the run recorded it; else the one exporting it.
        "machine": env.get("cpu") or {"exported_on": cpu_description()},
        "packages": env["packages"],
    }
    about = {k: info[k] for k in ("training_data", "epoch", "exported_from") if k in info}
    net, stored_recipe = load_net(staged)
    final = save_model(
        net,
        info["net_config"],
        stored_recipe.to_dict(),
        staged,
        info["dtype"],
        {**about, "training": training, "evaluation": evaluation},
    )
    for source, destination in copies:
        with atomic_path(destination) as tmp:  # the weights first: a half copy fails its hash
            shutil.copyfile(source, tmp)
    print(json.dumps(evaluation, indent=2))
    print(f"{target}: {final['bytes'] / 2**20:.2f} MiB, sha256 {final['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
