import math

import pytest
import torch

from skinseg.losses import BCELoss, ComboLoss, DiceLoss, FocalLoss

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
        ComboLoss([BCELoss(), DiceLoss(), FocalLoss()]),
    ],
)
def test_finite_at_extreme_logits(loss):
    logits = torch.tensor([[[[BIG, -BIG], [BIG, -BIG]]]], requires_grad=True)
    target = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]]])
    value = loss(logits, target)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("loss", [BCELoss(), DiceLoss(), FocalLoss(), ComboLoss([BCELoss()])])
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
