"""The accuracy recipes: threshold choice, full-resolution scoring, EMA, paired comparisons."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from skinseg.compare import compare, holm, model_and_loss_comparisons
from skinseg.evaluation import choose_threshold, score_mask
from skinseg.inference.loading import load_predictor
from skinseg.inference.predictor import Predictor
from skinseg.inference.run import predict_pairs
from skinseg.recipe import Recipe
from skinseg.report import write_report
from skinseg.training.history import without_times
from skinseg.training.run import train

from .training_helpers import compose_config


def _probability_backend(batch: np.ndarray) -> np.ndarray:
    """Logits whose sigmoid is the red channel (the recipe below does not normalise)."""
    p = np.clip(batch[:, :1], 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _pairs(seed: int, n: int = 6):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        red = rng.uniform(0, 1, (24, 32))
        image = np.zeros((24, 32, 3), np.uint8)
        image[..., 0] = np.round(red * 255)
        truth = (image[..., 0] / 255.0 > 0.3).astype(np.uint8)
        out.append((f"img{i}", image, truth))
    return out


def _predictor(**recipe) -> Predictor:
    base = {"image_size": (24, 32), "mean": (0, 0, 0), "std": (1, 1, 1), "tta": False}
    return Predictor(_probability_backend, Recipe.from_dict({**base, **recipe}))


def _choose(predictor: Predictor, pairs, thresholds):
    """The threshold choice of a run's calibration, on in-memory pairs."""
    scored = ((probs, truth) for _, probs, truth in predict_pairs(predictor, pairs))
    return choose_threshold(scored, predictor.recipe, thresholds)


def _score(predictor: Predictor, pairs) -> list[dict]:
    """The full-resolution scoring of a run's calibration, on in-memory pairs."""
    return [
        score_mask(sid, predictor.to_mask(probs), truth)
        for sid, probs, truth in predict_pairs(predictor, pairs)
    ]


def test_threshold_is_chosen_where_validation_jaccard_peaks():
    threshold, means = _choose(_predictor(), _pairs(0), [0.2, 0.3, 0.4, 0.6])
    assert threshold == pytest.approx(0.3)
    assert means[0.3] == pytest.approx(1.0)
    assert means[0.5] < means[0.3]


def test_threshold_stays_at_half_without_a_clear_gain():
    # Truth at 0.5: nothing beats it, and ties are broken towards 0.5.
    pairs = [(i, im, (im[..., 0] / 255.0 > 0.5).astype(np.uint8)) for i, im, _ in _pairs(1)]
    threshold, _ = _choose(_predictor(), pairs, [0.45, 0.5, 0.55])
    assert threshold == 0.5
    with pytest.raises(ValueError, match="thresholds must be in"):
        _choose(_predictor(), pairs, [1.5])


def test_full_resolution_scores_use_the_recipe_threshold():
    pairs = _pairs(2)
    perfect = _score(_predictor(threshold=0.3), pairs)
    worse = _score(_predictor(threshold=0.6), pairs)
    assert [r["id"] for r in perfect] == [p[0] for p in pairs]
    assert all(r["jaccard"] == pytest.approx(1.0) for r in perfect)
    assert all(w["jaccard"] < 1.0 for w in worse)


@pytest.mark.parametrize("experiment", ["ph2_best", "isic_best"])
def test_recipes_compose_with_ema_calibration_and_postprocessing(experiment, tmp_path):
    cfg = compose_config([f"experiment={experiment}", f"data.root={tmp_path}"], tmp_path, False)
    assert cfg.data.dataset in ("ph2", "isic2017")
    assert cfg.data.test_fraction == 0.0
    assert cfg.calibration.full_resolution_test
    # PH2's 15 validation cases are too few to choose a threshold on; ISIC's 200 are not.
    assert cfg.calibration.select_threshold == (experiment == "isic_best")
    assert cfg.recipe.tta and cfg.recipe.largest_component and cfg.recipe.fill_holes
    dm = instantiate(cfg.data, _convert_="all")  # no 90-degree rotations on 4:3 inputs
    assert dm.image_size == tuple(cfg.data.image_size)
    ema = instantiate(cfg.callbacks.ema)
    assert type(ema).__name__ == "EMA"
    # From a random start the average warms up (timm's schedule): no dead first epochs.
    assert type(ema._kwargs["avg_fn"]).__name__ == "PowerWarmupDecay"


def test_finetune_recipe_keeps_the_fixed_decay_it_was_measured_with(tmp_path):
    cfg = compose_config(["experiment=ph2_finetune", f"data.root={tmp_path}"], tmp_path, False)
    assert cfg.callbacks.ema.warmup is False and cfg.init_from == "isic2017"


def test_ema_decay_is_checked():
    from skinseg.training.averaging import EMA

    with pytest.raises(ValueError, match="decay"):
        EMA(decay=1.5)


def _tiny_recipe_run(
    tmp_path: Path, name: str, folds: bool = True, select_threshold: bool = True
) -> dict:
    overrides = [
        "experiment=ph2_best",
        "data=synthetic",
        "data.num_synthetic=24",
        "data.image_size=[32,48]",
        "trainer.max_epochs=2",
        "logger=none",
        "callbacks.prediction_grid=null",
        "seed=5",
        f"calibration.select_threshold={str(select_threshold).lower()}",
    ]
    if folds:
        overrides += ["data.num_folds=3", "data.fold=1"]
    return train(compose_config(overrides, tmp_path / name))


def test_recipe_run_stores_threshold_and_scores_at_full_resolution(tmp_path):
    metrics = _tiny_recipe_run(tmp_path, "a")
    test = metrics["test"]
    assert 0.0 < test["threshold"] < 1.0
    assert set(test["threshold_candidates"]) >= {"0.3", "0.5", "0.7"}
    assert 0.0 <= test["test_full/jaccard"] <= 1.0
    rows = (tmp_path / "a" / "test_per_image.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) == metrics["split_sizes"]["test"] == 8
    # The checkpoint that ships carries the chosen threshold and the EMA weights.
    best = Path(metrics["best_checkpoint"])
    assert load_predictor(best, "cpu", "32").recipe.threshold == test["threshold"]
    ckpt = torch.load(best, map_location="cpu", weights_only=True)
    assert "current_model_state" in ckpt and ckpt["skinseg"]["recipe"]["tta"] is True
    # One home for the threshold: the stored recipe, nowhere else in the file.
    assert set(ckpt["skinseg"]) == {"net_config", "recipe"}
    assert ckpt["skinseg"]["recipe"]["threshold"] == test["threshold"]
    assert "threshold" not in ckpt["hyper_parameters"] and "recipe" not in ckpt["hyper_parameters"]
    # Same seed, same metrics (the recipe's reproducibility on CPU).
    again = _tiny_recipe_run(tmp_path, "b")
    assert again["test"] == test
    assert without_times(again["history"]) == without_times(metrics["history"])


def test_recipe_without_threshold_choice_scores_at_the_recipe_threshold(tmp_path):
    metrics = _tiny_recipe_run(tmp_path, "fixed", select_threshold=False)
    test = metrics["test"]
    assert test["threshold"] == 0.5 and "threshold_candidates" not in test
    assert 0.0 <= test["test_full/jaccard"] <= 1.0
    best = Path(metrics["best_checkpoint"])
    assert load_predictor(best, "cpu", "32").recipe.threshold == 0.5


def _fake_run(root: Path, model: str, loss: str, fold: int, scores: dict[str, float]) -> dict:
    run_dir = root / f"{model}_{loss}_{fold}"
    run_dir.mkdir(parents=True)
    with open(run_dir / "test_per_image.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "jaccard"])
        writer.writeheader()
        writer.writerows({"id": k, "jaccard": v} for k, v in scores.items())
    metrics = {
        "status": "completed",
        "model": model,
        "loss": loss,
        "fold": fold,
        "seed": 1,
        "test": {"test_full/jaccard": float(np.mean(list(scores.values())))},
        "best_val": {"val/iou": 0.5},
        "history": [{"epoch": 0, "val/iou": 0.4}, {"epoch": 1, "val/iou": 0.5 + fold / 100}],
        "parameters": 10,
        "wall_time_s": 1.0,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return {**metrics, "run_dir": str(run_dir)}


def test_paired_comparison_finds_a_consistent_gain(tmp_path):
    rng = np.random.default_rng(0)
    runs = []
    for fold in range(5):
        base = {f"f{fold}_{i}": float(rng.uniform(0.5, 0.9)) for i in range(20)}
        better = {k: v + 0.05 + float(rng.normal(0, 0.01)) for k, v in base.items()}
        same = {k: v + float(rng.normal(0, 0.01)) for k, v in base.items()}
        runs.append(_fake_run(tmp_path, "unet", "bce", fold, base))
        runs.append(_fake_run(tmp_path, "unet2", "bce", fold, better))
        runs.append(_fake_run(tmp_path, "unet", "dice", fold, same))
        runs.append(_fake_run(tmp_path, "unet2", "dice", fold, same))
    gain = compare(runs, ("unet2", "bce"), ("unet", "bce"), "loss=bce")
    assert gain.pairs == 5 and gain.wins == 5 and gain.images == 100
    assert gain.diff == pytest.approx(0.05, abs=0.01)
    assert gain.ci95[0] > 0 and gain.p_t < 0.001 and gain.p_wilcoxon < 1e-6
    none = compare(runs, ("unet", "dice"), ("unet", "bce"), "model=unet")
    assert abs(none.diff) < 0.01 and none.p_wilcoxon > 0.01
    table = model_and_loss_comparisons(runs, [("unet2", "unet")], [("dice", "bce")])
    pooled = [c for c in table if c.scope.startswith("all")]
    assert {c.a for c in pooled} == {"unet2", "dice"}
    assert pooled[0].pairs == 5 and pooled[0].images == 100  # losses averaged
    assert all(c.p_holm["t"] >= c.p_t for c in table)
    # The sweep report shows mean curves per cell and the full-resolution column.
    table_md = write_report(tmp_path)
    assert "Jaccard (full res.)" in table_md and "Thr. Jaccard (full res.)" not in table_md
    assert (tmp_path / "val_iou_curves.png").stat().st_size > 0


def test_recipes_of_the_same_cell_pair_by_fold(tmp_path):
    from benchmarks.paired import main as paired

    rng = np.random.default_rng(1)
    for fold in range(3):
        base = {f"f{fold}_{i}": float(rng.uniform(0.5, 0.9)) for i in range(10)}
        _fake_run(tmp_path / "scratch", "unet", "bce_dice", fold, base)
        tuned = {k: v + 0.04 for k, v in base.items()}
        _fake_run(tmp_path / ("tuned" if fold < 2 else "tuned_later"), "unet", "bce_dice", fold,
                  tuned)  # fmt: skip
    out = tmp_path / "paired.md"
    args = ["--a", f"tuned={tmp_path / 'tuned'}", "--a", f"tuned={tmp_path / 'tuned_later'}"]
    assert paired([*args, "--b", f"scratch={tmp_path / 'scratch'}", "--out", str(out)]) == 0
    row = out.read_text().splitlines()[2]
    assert row.startswith("| tuned | scratch | same folds | 3 |") and "+0.0400" in row
    assert "| 30 |" in row and "3/3" in row


def test_holm_adjustment():
    assert holm([0.01, 0.04, float("nan"), 0.03]) == pytest.approx(
        [0.03, 0.06, float("nan"), 0.06], nan_ok=True
    )


def test_ema_warmup_decay_grows_with_the_updates_to_its_cap():
    from skinseg.training.averaging import EMA, WarmupDecay

    step = WarmupDecay(0.98)
    zero, one = torch.zeros(1), torch.ones(1)
    # After the first update (a copy), the second weighs both equally, as a bias-corrected
    # EMA: decay 0.98 (1 - 0.98) / (1 - 0.98**2) = 0.98 / 1.98.
    assert step(zero, one, torch.tensor(1)).item() == pytest.approx(1 - 0.98 / 1.98)
    assert step(zero, one, torch.tensor(100)).item() == pytest.approx(
        1 - 0.98 * (1 - 0.98**100) / (1 - 0.98**101)
    )
    assert step(zero, one, torch.tensor(10_000)).item() == pytest.approx(0.02)  # at its cap
    # Averaging a constant stream: the corrected average is the mean of what it has seen.
    values = [3.0, 5.0, 7.0]
    avg = torch.tensor([values[0]])
    for n, v in enumerate(values[1:], start=1):
        avg = step(avg, torch.tensor([v]), torch.tensor(n))
    weights = [0.98**2, 0.98, 1.0]
    expected = sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)
    assert avg.item() == pytest.approx(expected)
    assert isinstance(EMA(0.98, warmup=True)._kwargs["avg_fn"], WarmupDecay)
    assert not isinstance(EMA(0.98)._kwargs["avg_fn"], WarmupDecay)


def test_ema_power_warmup_forgets_the_start_and_reaches_its_cap():
    from skinseg.training.averaging import EMA, PowerWarmupDecay

    step = PowerWarmupDecay(0.98, power=0.75)
    zero, one = torch.zeros(1), torch.ones(1)
    # timm's schedule: 1 - (1 + n) ** -0.75, capped at the set decay.
    assert step(zero, one, torch.tensor(8)).item() == pytest.approx(9**-0.75)
    assert step(zero, one, torch.tensor(183)).item() == pytest.approx(184**-0.75)
    assert step(zero, one, torch.tensor(185)).item() == pytest.approx(0.02)  # at its cap
    # Weights that jump from 0 to 1 at step 8: 9 steps later the power warm-up's average has
    # moved three quarters of the way, the bias-corrected one (near the plain mean) not 0.6.
    from skinseg.training.averaging import WarmupDecay

    def average(fn):
        avg = torch.zeros(1)
        for n in range(1, 17):
            avg = fn(avg, zero if n < 8 else one, torch.tensor(n))
        return avg.item()

    assert average(step) > 0.75 and average(WarmupDecay(0.98)) < 0.6
    assert isinstance(EMA(0.98, warmup="power")._kwargs["avg_fn"], PowerWarmupDecay)
    assert type(EMA(0.98, warmup="bias")._kwargs["avg_fn"]) is WarmupDecay
    with pytest.raises(ValueError, match="callbacks.ema.warmup must be false, true or one of"):
        EMA(0.98, warmup="timm")
    with pytest.raises(ValueError, match="power must be in"):
        EMA(0.98, warmup="power", warmup_power=1.5)


def test_grouped_folds_effect_pairs_the_same_images(tmp_path):
    from benchmarks.cv_optimism import fold_test_scores, unseen_block_effect
    from skinseg.evaluation.tables import SCORES, write_per_image

    ids = [f"ISIC_00{b}{n:03d}" for b in ("00", "13") for n in range(6)]
    random = {i: 0.80 + 0.01 * n for n, i in enumerate(ids)}
    grouped = {i: v - (0.05 if "_0013" in i else 0.0) for i, v in random.items()}
    for name, scores in (("random", random), ("grouped", grouped)):
        for fold, part in enumerate((ids[:7], ids[7:] if name == "random" else ids[7:11])):
            rows = [{**dict.fromkeys(SCORES, 0.0), "id": i, "jaccard": scores[i]} for i in part]
            write_per_image(rows, tmp_path / name / f"fold{fold}" / "test_per_image.csv")
    effect = unseen_block_effect(
        fold_test_scores(tmp_path / "random"), fold_test_scores(tmp_path / "grouped")
    )
    assert effect["common"]["images"] == 11 and effect["grouped_images"] == 11
    assert effect["by_id_block"]["00"]["difference"] == pytest.approx(0.0)
    assert effect["by_id_block"]["13"]["difference"] == pytest.approx(-0.05)
    assert effect["by_id_block"]["00"]["p_wilcoxon"] is None  # no difference to test
    assert effect["common"]["difference"] == pytest.approx(-0.05 * 5 / 11)
