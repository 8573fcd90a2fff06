import numpy as np
import pytest
import torch
from torchmetrics.classification import BinaryJaccardIndex

from skinseg.metrics import IoU, PerImageScore, segmentation_metrics


def reference(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Per-image scores written out in NumPy, ISIC conventions for empty denominators."""
    scores = {
        k: []
        for k in ("jaccard", "dice", "threshold_jaccard", "accuracy", "sensitivity", "specificity")
    }
    inter_total = union_total = 0
    for p, t in zip(pred, true, strict=True):
        p, t = p.astype(bool), t.astype(bool)
        tp = np.sum(p & t)
        fp = np.sum(p & ~t)
        fn = np.sum(~p & t)
        tn = np.sum(~p & ~t)
        inter_total += tp
        union_total += tp + fp + fn
        j = tp / (tp + fp + fn) if tp + fp + fn else 1.0
        scores["jaccard"].append(j)
        scores["dice"].append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
        scores["threshold_jaccard"].append(0.0 if j < 0.65 else j)
        scores["accuracy"].append((tp + tn) / p.size)
        scores["sensitivity"].append(tp / (tp + fn) if tp + fn else 1.0)
        scores["specificity"].append(tn / (tn + fp) if tn + fp else 1.0)
    out = {k: float(np.mean(v)) for k, v in scores.items()}
    out["iou"] = inter_total / union_total if union_total else 1.0
    return out


def random_batch(rng, n=6, size=(1, 16, 16)):
    probs = rng.random((n, *size))
    true = rng.random((n, *size)) < rng.random((n, 1, 1, 1))
    true[0] = False  # empty truth
    probs[0] = 0.1  # and empty prediction: scores 1.0
    probs[1] = 0.1  # empty prediction, non-empty truth
    true[2] = False  # empty truth, non-empty prediction
    true[3] = True  # no background pixel
    return probs, true


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    probs, true = random_batch(rng)
    expected = reference(probs > 0.5, true)
    metrics = segmentation_metrics()
    # two updates, to check accumulation across batches
    metrics.update(torch.tensor(probs[:3]), torch.tensor(true[:3]).float())
    metrics.update(torch.tensor(probs[3:]), torch.tensor(true[3:]).float())
    got = {k: v.item() for k, v in metrics.compute().items()}
    assert got == pytest.approx(expected, abs=1e-9)


def test_logits_and_probabilities_agree():
    rng = np.random.default_rng(3)
    probs, true = random_batch(rng)
    probs = np.clip(probs, 1e-6, 1 - 1e-6)
    logits = torch.tensor(np.log(probs / (1 - probs)))
    a = segmentation_metrics(from_logits=True)(logits, torch.tensor(true))
    b = segmentation_metrics(from_logits=False)(torch.tensor(probs), torch.tensor(true))
    assert {k: v.item() for k, v in a.items()} == pytest.approx({k: v.item() for k, v in b.items()})


def test_both_empty_scores_one():
    metrics = segmentation_metrics()
    out = metrics(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4))
    assert all(v.item() == 1.0 for v in out.values())


def test_threshold_jaccard_zeroes_low_scores():
    pred = torch.zeros(1, 1, 1, 10)
    pred[..., :6] = 1  # truth all 10 pixels: Jaccard 0.6 < 0.65
    metric = PerImageScore("threshold_jaccard")
    assert metric(pred, torch.ones(1, 1, 1, 10)).item() == 0.0
    pred[..., :7] = 1  # 0.7 stays
    assert PerImageScore("threshold_jaccard")(
        pred, torch.ones(1, 1, 1, 10)
    ).item() == pytest.approx(0.7)


def test_iou_matches_torchmetrics_binary_jaccard():
    rng = np.random.default_rng(7)
    probs, true = random_batch(rng, n=10, size=(1, 20, 24))
    ours, theirs = IoU(), BinaryJaccardIndex(threshold=0.5)
    for sl in (slice(0, 4), slice(4, 10)):
        ours.update(torch.tensor(probs[sl]), torch.tensor(true[sl]).long())
        theirs.update(torch.tensor(probs[sl]), torch.tensor(true[sl]).long())
    assert ours.compute().item() == pytest.approx(theirs.compute().item(), abs=1e-7)


def test_per_image_differs_from_dataset_level():
    # A small lesion segmented badly and a big one well: the per-image mean punishes the miss.
    pred = torch.zeros(2, 1, 10, 10)
    true = torch.zeros(2, 1, 10, 10)
    true[0, 0, 0, :2] = 1  # 2 pixels, missed
    true[1, 0, :8] = 1
    pred[1, 0, :8] = 1  # 80 pixels, perfect
    assert IoU()(pred, true).item() == pytest.approx(80 / 82)
    assert PerImageScore("jaccard")(pred, true).item() == pytest.approx(0.5)


def test_errors():
    with pytest.raises(ValueError, match="different shape"):
        IoU()(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))
    with pytest.raises(ValueError, match="unknown score 'f1'"):
        PerImageScore("f1")
    with pytest.raises(ValueError, match="threshold"):
        IoU(threshold=2.0)
    with pytest.raises(RuntimeError, match="before any update"):
        PerImageScore("dice").compute()
