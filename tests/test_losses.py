import math

import pytest
import torch

from skinseg.losses import BCELoss, ComboLoss, DiceLoss, FocalLoss, LovaszHingeLoss

BIG = 100.0


def logits_from(probs):
    p = torch.tensor(probs, dtype=torch.float64)
    return torch.log(p / (1 - p))


def test_dice_hand_computed():
    # smp's case: prediction [1,1,1,1] vs truth [1,1,0,0] -> Dice 2*2/(4+2) = 2/3.
    logits = torch.full((1, 1, 1, 4), BIG)
    target = torch.tensor([[[[1.0, 1.0, 0.0, 0.0]]]])
    loss = DiceLoss(smooth=0.0)(logits, target)
    assert loss.item() == pytest.approx(1 - 2 / 3, abs=1e-6)


def test_dice_per_image_vs_batch():
    logits = torch.tensor([[[[BIG, BIG]]], [[[BIG, -BIG]]]])
    target = torch.tensor([[[[1.0, 1.0]]], [[[0.0, 1.0]]]])
    per_image = DiceLoss(smooth=0.0, reduction="none")(logits, target)
    assert per_image.tolist() == pytest.approx([0.0, 1.0], abs=1e-6)
    batch = DiceLoss(smooth=0.0, per_image=False)(logits, target)
    # batch: intersection 2, |P|=3, |T|=3 -> 1 - 4/6
    assert batch.item() == pytest.approx(1 - 4 / 6, abs=1e-6)


def test_dice_smoothing_empty_masks():
    logits = torch.full((1, 1, 2, 2), -BIG)
    target = torch.zeros(1, 1, 2, 2)
    assert DiceLoss(smooth=1.0)(logits, target).item() == pytest.approx(0.0, abs=1e-6)


def test_bce_hand_computed():
    logits = logits_from([0.8, 0.3]).view(1, 1, 1, 2)
    target = torch.tensor([1.0, 0.0], dtype=torch.float64).view(1, 1, 1, 2)
    expected = -(math.log(0.8) + math.log(0.7)) / 2
    assert BCELoss()(logits, target).item() == pytest.approx(expected)
    weighted = -(2 * math.log(0.8) + math.log(0.7)) / 2
    assert BCELoss(pos_weight=2.0)(logits, target).item() == pytest.approx(weighted)
    assert BCELoss(reduction="sum")(logits, target).item() == pytest.approx(2 * expected)


def test_focal_hand_computed():
    logits = logits_from([0.8, 0.3]).view(1, 1, 1, 2)
    target = torch.tensor([1.0, 0.0], dtype=torch.float64).view(1, 1, 1, 2)
    # p_t = 0.8 (alpha 0.25) and 0.7 (alpha 0.75)
    e1 = -0.25 * (0.2**2) * math.log(0.8)
    e2 = -0.75 * (0.3**2) * math.log(0.7)
    got = FocalLoss(alpha=0.25, gamma=2.0, reduction="none")(logits, target)
    assert got.flatten().tolist() == pytest.approx([e1, e2])
    # gamma 0 and no alpha is BCE
    bce = BCELoss()(logits, target)
    assert FocalLoss(alpha=None, gamma=0.0)(logits, target).item() == pytest.approx(bce.item())


def lovasz_by_definition(logits, target):
    """The Lovasz extension of the Jaccard loss at the hinge errors, from sets: sort the errors,
    and weight the k-th by how much calling the k worst pixels wrong raises the Jaccard loss."""
    z, y = logits.flatten().tolist(), target.flatten().tolist()
    errors = [1 - zi * (2 * yi - 1) for zi, yi in zip(z, y, strict=True)]
    order = sorted(range(len(z)), key=lambda i: -errors[i])
    truth = {i for i, yi in enumerate(y) if yi == 1}

    def jaccard_loss(wrong):
        kept = truth - wrong  # lesion pixels still right
        union = truth | wrong  # truth plus false positives
        return 1 - len(kept) / len(union)

    total, previous = 0.0, 0.0
    for k in range(1, len(order) + 1):
        current = jaccard_loss(set(order[:k]))
        total += max(errors[order[k - 1]], 0.0) * (current - previous)
        previous = current
    return total


def test_lovasz_matches_its_definition():
    torch.manual_seed(0)
    logits = torch.randn(3, 1, 4, 5, dtype=torch.float64) * 2
    target = (torch.rand(3, 1, 4, 5) > 0.6).double()
    target[2] = 0  # an image without lesion
    got = LovaszHingeLoss(reduction="none")(logits, target)
    expected = [lovasz_by_definition(logits[i], target[i]) for i in range(3)]
    assert got.tolist() == pytest.approx(expected, rel=1e-9)
    assert LovaszHingeLoss()(logits, target).item() == pytest.approx(sum(expected) / 3)


def test_lovasz_hand_computed():
    # Right on every pixel with margin >= 1: no loss.
    logits = torch.tensor([[[[3.0, -1.0, 1.0, -2.0]]]])
    target = torch.tensor([[[[1.0, 0.0, 1.0, 0.0]]]])
    assert LovaszHingeLoss()(logits, target).item() == 0.0
    # Undecided (logit 0) on a one-pixel lesion: error 1, Jaccard loss of missing it 1.
    assert LovaszHingeLoss()(torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1)).item() == 1.0
    # Truth [1, 1, 0], errors 2 (missed lesion), 0.5, 0: the miss costs 1 - 1/2, the next
    # lesion pixel the remaining 1/2 -> 2 * 0.5 + 0.5 * 0.5.
    logits = torch.tensor([[[[-1.0, 0.5, -1.0]]]])
    target = torch.tensor([[[[1.0, 1.0, 0.0]]]])
    assert LovaszHingeLoss()(logits, target).item() == pytest.approx(1.25)


def test_lovasz_gradient_pushes_the_worst_pixels():
    logits = torch.tensor([[[[-1.0, 0.5, 2.0, 0.2]]]], requires_grad=True)
    target = torch.tensor([[[[1.0, 1.0, 1.0, 0.0]]]])
    LovaszHingeLoss()(logits, target).backward()
    grad = logits.grad.flatten().tolist()
    assert grad[0] < 0 and grad[1] < 0  # raise the lesion pixels with errors > 0
    assert grad[3] > 0  # lower the false positive
    assert grad[2] == 0  # beyond the margin: left alone


def test_combo_is_weighted_sum():
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 8, 8)
    target = (torch.rand(2, 1, 8, 8) > 0.5).float()
    combo = ComboLoss({"bce": BCELoss(), "dice": DiceLoss()}, weights={"dice": 0.5})
    expected = BCELoss()(logits, target) + 0.5 * DiceLoss()(logits, target)
    assert combo(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize(
    "loss",
    [
        BCELoss(),
        BCELoss(pos_weight=3.0),
        DiceLoss(),
        DiceLoss(per_image=False),
        FocalLoss(),
        FocalLoss(alpha=None, gamma=0.5),
        LovaszHingeLoss(),
        ComboLoss([BCELoss(), DiceLoss(), FocalLoss(), LovaszHingeLoss()]),
    ],
)
def test_finite_at_extreme_logits(loss):
    logits = torch.tensor([[[[BIG, -BIG], [BIG, -BIG]]]], requires_grad=True)
    target = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]]])
    value = loss(logits, target)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize(
    "loss", [BCELoss(), DiceLoss(), FocalLoss(), LovaszHingeLoss(), ComboLoss([BCELoss()])]
)
def test_shape_mismatch(loss):
    with pytest.raises(
        ValueError, match=r"different shape \(1, 1, 4, 4\) from input \(1, 1, 4, 5\)"
    ):
        loss(torch.zeros(1, 1, 4, 5), torch.zeros(1, 1, 4, 4))


@pytest.mark.parametrize(
    "factory, match",
    [
        (lambda: BCELoss(pos_weight=0), "pos_weight"),
        (lambda: BCELoss(reduction="avg"), "reduction"),
        (lambda: DiceLoss(smooth=-1), "smooth"),
        (lambda: FocalLoss(alpha=1.5), "alpha"),
        (lambda: FocalLoss(gamma=-1), "gamma"),
        (lambda: LovaszHingeLoss(reduction="avg"), "reduction"),
        (lambda: ComboLoss([]), "at least one"),
        (lambda: ComboLoss([BCELoss()], weights=[1, 2]), "2 weights for 1"),
        (lambda: ComboLoss([BCELoss()], weights=[-1]), ">= 0"),
        (lambda: ComboLoss([BCELoss(reduction="none")]), "reduction='none'"),
        (lambda: ComboLoss({"bce": BCELoss()}, weights={"dice": 1}), "unknown"),
    ],
)
def test_bad_arguments(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_integer_logits_rejected():
    with pytest.raises(TypeError, match="floating-point"):
        BCELoss()(
            torch.zeros(1, 1, 2, 2, dtype=torch.long), torch.zeros(1, 1, 2, 2, dtype=torch.long)
        )
